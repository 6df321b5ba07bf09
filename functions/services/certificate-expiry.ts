import { QueryCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { certificateKey, EXPIRY_INDEX_PARTITION, type CertificateBinding } from '../db/certificates.js';
import { dynamo, tableName } from '../db/client.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { endActiveBinding, type BindingEnd } from './binding-end.js';

export interface ExpiryOptions {
  /** The time to judge expiry at: bindings whose notAfter is before it expire. */
  now: Date;
  /** Epoch milliseconds after which no new page or binding is started; the next run continues. */
  deadline?: number;
  /** Bindings read per index page (default 100). */
  pageSize?: number;
}

export interface ExpiryResult {
  /** Bindings this run marked expired, each with one certificate-expired event. */
  expired: number;
  /** Index entries left alone: marked by a concurrent run, revoked meanwhile, or not yet expired. */
  skipped: number;
  /** Bindings whose marking failed; they stay in the index, so the next run tries them again. */
  failed: number;
  /** False when the deadline stopped the run before the index was exhausted. */
  complete: boolean;
}

/**
 * Mark every active certificate binding whose notAfter is before `now`
 * expired, each with a certificate-expired event in the same transaction.
 * Only the sparse expiry index (gsi3) is read, from the oldest notAfter up to
 * `now`, a page at a time, so the run reads what has expired and not the
 * table. A marked binding leaves the index, so repeated or concurrent runs
 * record each expiry once.
 */
export async function expireCertificates(options: ExpiryOptions): Promise<ExpiryResult> {
  const result: ExpiryResult = { expired: 0, skipped: 0, failed: 0, complete: false };
  const cutoff = options.now.toISOString();
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    if (options.deadline !== undefined && Date.now() >= options.deadline) return result;
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: 'gsi3',
        // Sort keys are "<notAfter>#<fingerprint>", so every key below "<now>#" has a notAfter before now.
        KeyConditionExpression: 'gsi3pk = :partition AND gsi3sk < :cutoff',
        ExpressionAttributeValues: marshall({ ':partition': EXPIRY_INDEX_PARTITION, ':cutoff': `${cutoff}#` }),
        Limit: options.pageSize ?? 100,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      if (options.deadline !== undefined && Date.now() >= options.deadline) return result;
      const { fingerprint } = unmarshall(item) as CertificateBinding;
      try {
        if (await markBindingExpired(fingerprint, options.now)) result.expired += 1;
        else result.skipped += 1;
      } catch (error) {
        result.failed += 1;
        log.error('marking a certificate binding expired failed', { fingerprint, error });
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  result.complete = true;
  return result;
}

/**
 * Mark one binding expired and record a certificate-expired event, in one
 * transaction that requires the binding to be active and the enterprise
 * version read. Returns false when the binding is not active or has not
 * expired at `now`.
 */
export async function markBindingExpired(fingerprint: string, now: Date): Promise<boolean> {
  const expiredAt = now.toISOString();
  const plan = (binding: CertificateBinding): BindingEnd | undefined => {
    if (Date.parse(binding.notAfter) >= now.getTime()) return undefined;
    return {
      status: 'expired',
      attributes: { expiredAt },
      eventType: EVENT_TYPES.certificateExpired,
      eventData: { notAfter: binding.notAfter },
      logFields: { notAfter: binding.notAfter },
    };
  };
  return endActiveBinding(fingerprint, plan, (binding) => leaveExpiryIndex(binding.fingerprint));
}

/** Take a binding that is no longer active out of the expiry index, so later runs do not read it again. */
async function leaveExpiryIndex(fingerprint: string): Promise<void> {
  await dynamo().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: marshall(certificateKey(fingerprint)),
      UpdateExpression: 'REMOVE gsi3pk, gsi3sk',
      ConditionExpression: 'attribute_exists(gsi3pk) AND #status <> :active',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: marshall({ ':active': 'active' }),
    }),
  ).catch((error: Error) => {
    // A failed condition means the entry is already gone (or the binding is active again), which is fine.
    if (error.name !== 'ConditionalCheckFailedException') throw error;
  });
}
