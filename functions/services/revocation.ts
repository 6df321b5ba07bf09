import { getBinding, type CertificateBinding } from '../db/certificates.js';
import { markBindingRevoked } from './certificate-revocation.js';

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
 * Apply a CA firm's revocation notice through the same mechanism as a CRL
 * (markBindingRevoked), and report whether this call revoked the binding or
 * found it revoked already. Revoking twice reports the first revocation.
 */
export async function revokeBinding(fingerprint: string, reason: RevocationReason, revokedAt: Date, actor: string): Promise<RevokeOutcome> {
  const revoked = await markBindingRevoked(fingerprint, { reason, source: 'ca-notice', actor, revokedAt });
  const binding = await getBinding(fingerprint);
  if (!binding) return { state: 'not-bound' };
  return { state: revoked ? 'revoked' : 'already-revoked', binding };
}
