import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/** Seconds an unfinished batch keeps its key locked, after which a resend may take it over (default 120). */
const inProgressSeconds = () => Number(process.env.IDEMPOTENCY_LOCK_SECONDS ?? 120);
/** Seconds a finished batch's result is kept for replays (24 hours). */
export const RESULT_SECONDS = 24 * 3600;

const key = (clientId: string, idempotencyKey: string) => ({ pk: `IDEMP#${clientId}#${idempotencyKey}`, sk: 'IDEMP' });

export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'completed'; result: unknown; requestHash: string }
  | { state: 'in-progress' }
  | { state: 'mismatch'; requestHash: string };

/**
 * Claim an idempotency key for a batch. A finished batch with the same key
 * returns its stored result, and a key reused for a different request body is a
 * mismatch. A key whose batch is still running is reported in progress. When
 * that lock is older than IDEMPOTENCY_LOCK_SECONDS, the sender is taken to have
 * crashed and the key is claimed again; items carry natural keys, so
 * processing them again is safe.
 */
export async function claimIdempotencyKey(clientId: string, idempotencyKey: string, requestHash: string): Promise<IdempotencyClaim> {
  const now = Math.floor(Date.now() / 1000);
  try {
    await dynamo().send(
      new PutItemCommand({
        TableName: tableName(),
        Item: marshall({ ...key(clientId, idempotencyKey), kind: 'idempotency', state: 'in-progress', requestHash, startedAt: now, ttl: now + RESULT_SECONDS }),
        ConditionExpression: 'attribute_not_exists(pk) OR (#state = :inProgress AND startedAt <= :stale) OR #ttl < :now',
        ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
        ExpressionAttributeValues: marshall({ ':inProgress': 'in-progress', ':stale': now - inProgressSeconds(), ':now': now }),
      }),
    );
    return { state: 'claimed' };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const existing = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(key(clientId, idempotencyKey)), ConsistentRead: true }));
  const item = existing.Item ? unmarshall(existing.Item) : undefined;
  if (!item) return claimIdempotencyKey(clientId, idempotencyKey, requestHash);
  if (item.requestHash !== requestHash) return { state: 'mismatch', requestHash: item.requestHash };
  if (item.state === 'completed') return { state: 'completed', result: JSON.parse(item.result), requestHash: item.requestHash };
  return { state: 'in-progress' };
}

export async function completeIdempotencyKey(clientId: string, idempotencyKey: string, requestHash: string, result: unknown): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await dynamo().send(
    new PutItemCommand({
      TableName: tableName(),
      Item: marshall({ ...key(clientId, idempotencyKey), kind: 'idempotency', state: 'completed', requestHash, result: JSON.stringify(result), ttl: now + RESULT_SECONDS }),
    }),
  );
}
