import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { certificateKey, getBinding, type CertificateBinding } from '../db/certificates.js';
import { tableName } from '../db/client.js';
import { getEnterprise, replaceEnterprise } from '../db/enterprises.js';
import { ConditionFailed, commitWithEvents } from '../db/events.js';
import { EVENT_TYPES } from '../lib/event-types.js';

/** CRL reason codes of RFC 5280 section 5.3.1, by name. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export type RevokeOutcome = { state: 'revoked'; binding: CertificateBinding } | { state: 'already-revoked'; binding: CertificateBinding } | { state: 'not-bound' };

/**
 * Mark a binding revoked, with its certificate-revoked event, in one
 * transaction guarded by the binding's current status and the enterprise's
 * version. Logins with the certificate stop at once, because login reads the
 * binding status. Revoking twice reports the first revocation.
 */
export async function revokeBinding(fingerprint: string, reason: RevocationReason, revokedAt: Date, source: string): Promise<RevokeOutcome> {
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    const binding = await getBinding(fingerprint);
    if (!binding) return { state: 'not-bound' };
    if (binding.status === 'revoked') return { state: 'already-revoked', binding };
    const enterprise = await getEnterprise(binding.creditCode);
    if (!enterprise) throw new Error(`binding ${fingerprint} points to missing enterprise ${binding.creditCode}`);
    const next = { ...enterprise, version: enterprise.version + 1, updatedAt: new Date().toISOString() };
    const revoked: CertificateBinding = { ...binding, status: 'revoked', revokedAt: revokedAt.toISOString(), revocationReason: reason };
    const markRevoked: TransactWriteItem = {
      Update: {
        TableName: tableName(),
        Key: marshall(certificateKey(fingerprint)),
        UpdateExpression: 'SET #status = :revoked, revokedAt = :at, revocationReason = :reason',
        ConditionExpression: '#status = :active',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: marshall({ ':revoked': 'revoked', ':active': 'active', ':at': revoked.revokedAt, ':reason': reason }),
      },
    };
    try {
      await commitWithEvents([markRevoked, replaceEnterprise(next, enterprise.version)], [
        {
          type: EVENT_TYPES.certificateRevoked,
          creditCode: binding.creditCode,
          enterpriseSeq: next.version,
          caId: binding.caId,
          data: { creditCode: binding.creditCode, fingerprint, serial: binding.serial, reason, revokedAt: revoked.revokedAt, source },
        },
      ]);
      return { state: 'revoked', binding: revoked };
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
    }
  }
  throw new Error(`binding ${fingerprint} kept changing while it was being revoked`);
}

