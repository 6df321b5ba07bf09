import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCertificate } from '../../functions/pki/der.js';
import { certificatePem } from '../../functions/pki/pem.js';
import { CertificateRejected } from '../../functions/pki/reasons.js';
import { StaticRevocationSource, parseCrl } from '../../functions/pki/revocation.js';
import { ALGORITHM_OID } from '../../functions/pki/signature.js';
import { DEFAULT_SIGNATURE_ALGORITHMS, TrustStore, defaultProfile } from '../../functions/pki/trust-store.js';
import { validatePath } from '../../functions/pki/validate.js';

export const PKITS_DIR = '/work/shared/testdata/pkits';
/** PKITS certificates are valid from 2010 to 2030; any time inside works. */
export const PKITS_VALIDATION_TIME = new Date('2011-04-15T00:00:00Z');

export interface PkitsVector {
  Name: string;
  CertPath: string[];
  CRLPath: string[];
  ShouldValidate: boolean;
  InitialPolicySet: string[];
  InitialExplicitPolicy: boolean;
  InitialPolicyMappingInhibit: boolean;
  InitialAnyPolicyInhibit: boolean;
}

export const pkitsVectors = (): PkitsVector[] => JSON.parse(readFileSync(join(PKITS_DIR, 'vectors.json'), 'utf8'));

export interface PkitsOutcome {
  valid: boolean;
  code?: string;
  message?: string;
}

/** Validate one vector with the service's path validation: its first certificate is the only anchor, its CRLs are the only revocation data. */
export async function runPkitsVector(vector: PkitsVector): Promise<PkitsOutcome> {
  const read = (folder: string, file: string) => new Uint8Array(readFileSync(join(PKITS_DIR, folder, file)));
  const [anchorFile, ...rest] = vector.CertPath;
  try {
    const anchor = parseCertificate(read('certs', anchorFile), anchorFile);
    const certificates = rest.map((file) => parseCertificate(read('certs', file), file));
    const crls = vector.CRLPath.map((file) => parseCrl(read('crls', file), file));
    const profile = defaultProfile('pkits', 'NIST PKITS trust anchor', [certificatePem(anchor)]);
    profile.allowedSignatureAlgorithms = [...DEFAULT_SIGNATURE_ALGORITHMS, ALGORITHM_OID.sha1WithRSA, ALGORITHM_OID.dsaWithSha1];
    profile.rsaKeyBits = { min: 1024, max: 4096 };
    const store = new TrustStore([profile], 1);
    const leaf = certificates[certificates.length - 1];
    await validatePath(leaf, certificates.slice(0, -1), store, { at: PKITS_VALIDATION_TIME, usage: 'path', revocation: new StaticRevocationSource(crls) });
    return { valid: true };
  } catch (error) {
    if (error instanceof CertificateRejected) return { valid: false, code: error.code, message: error.message };
    if (error instanceof Error && error.name === 'MalformedInput') return { valid: false, code: 'MALFORMED', message: error.message };
    throw error;
  }
}
