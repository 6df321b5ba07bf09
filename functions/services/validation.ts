import type * as pkijs from 'pkijs';
import { currentTrustStore } from '../db/ca-profiles.js';
import type { CertificateBinding } from '../db/certificates.js';
import { fingerprint, issuerNameHash, nameToString, serialHex } from '../pki/certificate.js';
import { certificatePem } from '../pki/pem.js';
import { CertificateRejected } from '../pki/reasons.js';
import { validatePath, type Usage, type ValidatedPath } from '../pki/validate.js';
import { markBindingRevoked } from './certificate-revocation.js';
import { ServiceRevocationSource } from './revocation-source.js';

/**
 * Validate a certificate path against the live trust store and revocation
 * data, as binding, login and CA synchronisation do. When the leaf turns out to
 * be revoked, its binding (if any) is marked revoked at once, with an event.
 */
export async function validateForService(
  leaf: pkijs.Certificate,
  chain: pkijs.Certificate[],
  usage: Usage,
  context: { actor: string; at?: Date; anchorProfiles?: ReadonlySet<string> },
): Promise<ValidatedPath> {
  const store = await currentTrustStore();
  try {
    return await validatePath(leaf, chain, store, {
      at: context.at ?? new Date(),
      usage,
      revocation: new ServiceRevocationSource(store.version),
      useIssuerCache: context.at === undefined,
      anchorProfiles: context.anchorProfiles,
    });
  } catch (error) {
    if (error instanceof CertificateRejected && error.code === 'REVOKED' && error.certificate?.serial === serialHex(leaf)) {
      await markBindingRevoked(fingerprint(leaf), { reason: error.message, source: error.revokedVia ?? 'crl', actor: context.actor });
    }
    throw error;
  }
}

/** Build the active binding record of a validated leaf for `creditCode`, as self-service binding and CA imports store it. */
export function activeBinding(
  leaf: pkijs.Certificate,
  validated: ValidatedPath,
  creditCode: string,
  options: { source: CertificateBinding['source']; boundAt: string; creditCodeFlagged: boolean },
): CertificateBinding {
  return {
    fingerprint: fingerprint(leaf),
    creditCode,
    subject: nameToString(leaf.subject),
    issuer: nameToString(leaf.issuer),
    serial: serialHex(leaf),
    issuerNameHash: issuerNameHash(leaf),
    notBefore: leaf.notBefore.value.toISOString(),
    notAfter: leaf.notAfter.value.toISOString(),
    caId: validated.profile.id,
    anchorSpkiHash: validated.anchorSpkiHash,
    pem: certificatePem(leaf),
    status: 'active',
    boundAt: options.boundAt,
    source: options.source,
    ...(options.creditCodeFlagged ? { creditCodeFlagged: true } : {}),
  };
}
