import { caStatusOf } from '../db/ca-status.js';
import { listBindings } from '../db/certificates.js';

/**
 * Check whether the enterprise still has a bound certificate that is active,
 * unexpired and from a CA that is not distrusted. Passkeys are accepted only
 * while it has one: a passkey inherits the certificate's verification, so when
 * the last certificate is revoked, expires or loses its CA, the enterprise's
 * passkeys pause until a certificate is bound again.
 */
export async function hasUsableCertificate(creditCode: string): Promise<boolean> {
  const now = Date.now();
  // NOTE: the binding list is read from a GSI, so a certificate revoked a moment ago may still count for about a second.
  const current = (await listBindings(creditCode)).filter((binding) => binding.status === 'active' && Date.parse(binding.notAfter) > now);
  for (const binding of current) {
    if ((await caStatusOf(binding.caId)) !== 'distrusted') return true;
  }
  return false;
}
