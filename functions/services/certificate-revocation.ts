import { EVENT_TYPES } from '../lib/event-types.js';
import { endActiveBinding } from './binding-end.js';

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

/**
 * Mark a certificate binding revoked and record a certificate-revoked event in
 * the same transaction, so platforms learn of it through the feed. Returns
 * false when there is no active binding (unknown, or already revoked), which
 * makes a repeated or concurrent call harmless.
 */
export async function markBindingRevoked(fingerprint: string, notice: RevocationNotice): Promise<boolean> {
  const revokedAt = (notice.revokedAt ?? new Date()).toISOString();
  return endActiveBinding(fingerprint, () => ({
    status: 'revoked',
    attributes: { revokedAt, revocationReason: notice.reason },
    eventType: EVENT_TYPES.certificateRevoked,
    eventData: { reason: notice.reason, source: notice.source, actor: notice.actor, revokedAt },
    logFields: { source: notice.source, actor: notice.actor },
  }));
}
