import { marshall } from '@aws-sdk/util-dynamodb';
import { certificateKey, getBinding, type CertificateBinding } from '../db/certificates.js';
import { tableName } from '../db/client.js';
import { getEnterprise, replaceEnterprise } from '../db/enterprises.js';
import { ConditionFailed, commitWithEvents } from '../db/events.js';
import { log } from '../lib/log.js';

const MAX_ATTEMPTS = 5;

/** The end of an active binding: its new status, what is stored with it and the event platforms receive. */
export interface BindingEnd {
  status: 'revoked' | 'expired';
  /** Attributes set on the binding with the status, such as revokedAt. */
  attributes: Record<string, string>;
  eventType: string;
  /** Event data beyond the binding's credit code, fingerprint, serial, issuer and CA. */
  eventData: Record<string, unknown>;
  /** Fields of the log line written when the binding ends. */
  logFields: Record<string, unknown>;
}

/**
 * End an active certificate binding: set its status, take it out of the
 * expiry index (gsi3), bump the enterprise version and record the event, in
 * one transaction that requires the binding to be still active and the
 * enterprise unchanged. `plan` receives the binding as read and returns
 * undefined to leave it alone. Returns false when the binding is missing, not active or
 * left alone, so a repeated or concurrent call is harmless. A binding found
 * but not active is passed to `onInactive`.
 */
export async function endActiveBinding(
  fingerprint: string,
  plan: (binding: CertificateBinding) => BindingEnd | undefined,
  onInactive?: (binding: CertificateBinding) => Promise<void>,
): Promise<boolean> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const binding = await getBinding(fingerprint);
    if (!binding) return false;
    if (binding.status !== 'active') {
      await onInactive?.(binding);
      return false;
    }
    const end = plan(binding);
    if (!end) return false;
    const enterprise = await getEnterprise(binding.creditCode);
    if (!enterprise) throw new Error(`binding ${fingerprint} points to missing enterprise ${binding.creditCode}`);
    const next = { ...enterprise, updatedAt: new Date().toISOString(), version: enterprise.version + 1 };
    const names = Object.keys(end.attributes);
    try {
      await commitWithEvents(
        [
          {
            Update: {
              TableName: tableName(),
              Key: marshall(certificateKey(fingerprint)),
              UpdateExpression: `SET #status = :status, ${names.map((name, i) => `#a${i} = :a${i}`).join(', ')} REMOVE gsi3pk, gsi3sk`,
              ConditionExpression: '#status = :active',
              ExpressionAttributeNames: { '#status': 'status', ...Object.fromEntries(names.map((name, i) => [`#a${i}`, name])) },
              ExpressionAttributeValues: marshall({ ':status': end.status, ':active': 'active', ...Object.fromEntries(names.map((name, i) => [`:a${i}`, end.attributes[name]])) }),
            },
          },
          replaceEnterprise(next, enterprise.version),
        ],
        [
          {
            type: end.eventType,
            creditCode: binding.creditCode,
            enterpriseSeq: next.version,
            caId: binding.caId,
            data: { creditCode: binding.creditCode, fingerprint, serial: binding.serial, issuer: binding.issuer, caId: binding.caId, ...end.eventData },
          },
        ],
      );
      log.info(`certificate binding ${end.status}`, { fingerprint, creditCode: binding.creditCode, caId: binding.caId, ...end.logFields });
      return true;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      // Either the binding changed (the next read decides) or the enterprise version moved on (retry).
    }
  }
  throw new Error(`could not mark binding ${fingerprint} ended after ${MAX_ATTEMPTS} attempts because its enterprise kept changing; try again`);
}
