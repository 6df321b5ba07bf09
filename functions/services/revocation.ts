import { getBinding, type CertificateBinding } from '../db/certificates.js';
import { CRL_REASONS } from '../pki/revocation.js';
import { markBindingRevoked } from './certificate-revocation.js';

/** A CRL reason code of RFC 5280 section 5.3.1 that a revocation notice may give. Value 7 (unused) is left out. */
export type RevocationReason = Exclude<(typeof CRL_REASONS)[number], 'unused'>;
export const REVOCATION_REASONS = CRL_REASONS.filter((reason): reason is RevocationReason => reason !== 'unused');

/** RFC 5280 reasons accepted in a CA firm's revocation notice: the reasons of a permanent revocation. */
export const NOTICE_REASONS: readonly RevocationReason[] = REVOCATION_REASONS.filter((reason) => reason !== 'removeFromCRL' && reason !== 'certificateHold');

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
