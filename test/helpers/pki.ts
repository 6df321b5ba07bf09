import { defaultProfile, type CaProfile } from '../../functions/pki/trust-store.js';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootCa, issueCertificate, issueIntermediateCa, type KeyAlgorithm, type TestCa } from '../../infra/local/openssl-ca.js';
import type { Holder } from '../../infra/local/journey.js';

export { createRootCa, issueCertificate, issueIntermediateCa };
export type { TestCa };

export async function tempDir(prefix = 'tif-pki-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Issue an enterprise certificate carrying `creditCode` in the subject serialNumber. */
export async function enterpriseHolder(
  ca: TestCa,
  id: string,
  creditCode: string,
  options: { name?: string; algorithm?: KeyAlgorithm; startDate?: string; endDate?: string; extensions?: string; subject?: string; chain?: TestCa[] } = {},
): Promise<Holder> {
  const name = options.name ?? `企业${id}`;
  const issued = await issueCertificate(ca, {
    id,
    subject: options.subject ?? `/C=CN/O=${name}/serialNumber=${creditCode}/CN=${name}`,
    algorithm: options.algorithm,
    startDate: options.startDate,
    endDate: options.endDate,
    extensions: options.extensions,
  });
  return { certPem: issued.certPem, keyPem: issued.keyPem, chainPems: (options.chain ?? []).map((c) => c.certPem) };
}

export const readText = (path: string) => readFile(path, 'utf8');

/**
 * A CA profile for test CAs that publish no CRL: revocation failures are
 * accepted (fail open), so these tests exercise everything but revocation.
 */
export function profileWithoutRevocation(id: string, name: string, anchors: string[]): CaProfile {
  const profile = defaultProfile(id, name, anchors);
  return { ...profile, revocation: { ...profile.revocation, failPolicy: 'open' } };
}
