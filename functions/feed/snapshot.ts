import { getBinding, listBindings, type CertificateBinding } from '../db/certificates.js';
import { getEnterprise, trustedName } from '../db/enterprises.js';
import { readFeedHead } from '../db/events.js';

/** A certificate as platforms see it in snapshots and events: no PEM, no internal hashes. */
export interface CertificateSnapshot {
  fingerprint: string;
  status: CertificateBinding['status'];
  serial: string;
  issuer: string;
  notAfter: string;
  caId: string;
  revokedAt?: string;
}

/**
 * The current state of an enterprise as the feed describes it: the state a
 * platform reaches by applying every event about the enterprise in order.
 * `version` is the enterprise sequence number of its last change; `cursor` is
 * the feed head read before the enterprise, so applying events after it
 * brings the snapshot up to date.
 */
export interface EnterpriseSnapshot {
  creditCode: string;
  status: 'unverified' | 'verified';
  /** The name platforms may rely on: confirmed details or the certificate's organisation; null until verified. */
  name: string | null;
  version: number;
  certificates: CertificateSnapshot[];
  cursor: number;
}

export function certificateSnapshot(binding: CertificateBinding): CertificateSnapshot {
  return {
    fingerprint: binding.fingerprint,
    status: binding.status,
    serial: binding.serial,
    issuer: binding.issuer,
    notAfter: binding.notAfter,
    caId: binding.caId,
    ...(binding.revokedAt ? { revokedAt: binding.revokedAt } : {}),
  };
}

export async function enterpriseSnapshot(creditCode: string): Promise<EnterpriseSnapshot | undefined> {
  const cursor = await readFeedHead();
  const enterprise = await getEnterprise(creditCode);
  if (!enterprise) return undefined;
  const bindings = await listBindings(creditCode);
  return {
    creditCode,
    status: enterprise.status,
    name: trustedName(enterprise) ?? null,
    version: enterprise.version,
    certificates: bindings.map(certificateSnapshot).sort((a, b) => a.fingerprint.localeCompare(b.fingerprint)),
    cursor,
  };
}

/** The snapshot of the enterprise a certificate is bound to, with that certificate, or undefined when it is not bound. */
export async function snapshotByCertificate(fingerprint: string): Promise<{ certificate: CertificateSnapshot; enterprise: EnterpriseSnapshot } | undefined> {
  const binding = await getBinding(fingerprint);
  if (!binding) return undefined;
  const enterprise = await enterpriseSnapshot(binding.creditCode);
  if (!enterprise) return undefined;
  return { certificate: certificateSnapshot(binding), enterprise };
}
