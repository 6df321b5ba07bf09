import { marshall } from '@aws-sdk/util-dynamodb';
import { getBinding, certificateKey } from '../db/certificates.js';
import { getEnterprise, replaceEnterprise } from '../db/enterprises.js';
import { ConditionFailed, commitWithEvents } from '../db/events.js';
import { tableName } from '../db/client.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';

export interface RevocationNotice {
  /** Why the certificate is revoked, e.g. "keyCompromise (CRL of ca-x)". */
  reason: string;
  /** Where the revocation was learned: "crl", "pushed-crl", "ocsp" or "operator". */
  source: string;
  /** Client id or operator subject that caused the check. */
  actor: string;
  /** When the CA says the certificate was revoked; the time of this call when absent. */
  revokedAt?: Date;
}

const MAX_ATTEMPTS = 5;

/**
 * Mark a certificate binding revoked and record a certificate-revoked event in
 * the same transaction, so platforms learn of it through the feed. Returns
 * false when there is no active binding (unknown, or already revoked), which
 * makes a repeated or concurrent call harmless.
 */
export async function markBindingRevoked(fingerprint: string, notice: RevocationNotice): Promise<boolean> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
    const binding = await getBinding(fingerprint);
    if (!binding || binding.status !== 'active') return false;
    const enterprise = await getEnterprise(binding.creditCode);
    if (!enterprise) throw new Error(`binding ${fingerprint} points to missing enterprise ${binding.creditCode}`);
    const now = new Date().toISOString();
    const revokedAt = notice.revokedAt?.toISOString() ?? now;
    const next = { ...enterprise, updatedAt: now, version: enterprise.version + 1 };
    try {
      await commitWithEvents(
        [
          {
            Update: {
              TableName: tableName(),
              Key: marshall(certificateKey(fingerprint)),
              // Leaving the expiry index (gsi3) keeps it to active bindings.
              UpdateExpression: 'SET #status = :revoked, revokedAt = :now, revocationReason = :reason REMOVE gsi3pk, gsi3sk',
              ConditionExpression: '#status = :active',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: marshall({ ':revoked': 'revoked', ':active': 'active', ':now': revokedAt, ':reason': notice.reason }),
            },
          },
          replaceEnterprise(next, enterprise.version),
        ],
        [
          {
            type: EVENT_TYPES.certificateRevoked,
            creditCode: binding.creditCode,
            enterpriseSeq: next.version,
            caId: binding.caId,
            data: {
              creditCode: binding.creditCode,
              fingerprint,
              serial: binding.serial,
              issuer: binding.issuer,
              caId: binding.caId,
              reason: notice.reason,
              source: notice.source,
              actor: notice.actor,
              revokedAt,
            },
          },
        ],
      );
      log.info('certificate binding revoked', { fingerprint, creditCode: binding.creditCode, caId: binding.caId, source: notice.source, actor: notice.actor });
      return true;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      // Either the binding changed (re-read decides) or the enterprise version moved on (retry).
    }
  }
  throw new Error(`could not mark binding ${fingerprint} revoked after ${MAX_ATTEMPTS} attempts because its enterprise kept changing`);
}
