import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCertificate } from '../../functions/pki/der.js';
import { certificatePem } from '../../functions/pki/pem.js';
import { verifyCertificate } from '../../functions/cli/verify.js';
import { StaticRevocationSource, parseCrl } from '../../functions/pki/revocation.js';
import { ALGORITHM_OID } from '../../functions/pki/signature.js';
import { DEFAULT_SIGNATURE_ALGORITHMS, TrustStore, defaultProfile } from '../../functions/pki/trust-store.js';
import { testDataPath } from '../helpers/testdata.js';

export const PKITS_DIR = testDataPath('pkits');
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

/**
 * Validate one vector through the operator CLI's code (the service's path
 * validation): its first certificate is the only trust anchor, its CRLs are
 * the only revocation data (fail closed), with RFC 5280 rules only (usage
 * "path"). The profile also allows SHA-1 RSA and DSA, which PKITS uses and
 * the admin API does not accept.
 */
export async function runPkitsVector(vector: PkitsVector): Promise<PkitsOutcome> {
  const read = (folder: string, file: string) => new Uint8Array(readFileSync(join(PKITS_DIR, folder, file)));
  const [anchorFile, ...rest] = vector.CertPath;
  const anchor = parseCertificate(read('certs', anchorFile), anchorFile);
  const certificates = rest.map((file) => parseCertificate(read('certs', file), file));
  const crls = vector.CRLPath.map((file) => parseCrl(read('crls', file), file));
  const profile = defaultProfile('pkits', 'NIST PKITS trust anchor', [certificatePem(anchor)]);
  profile.allowedSignatureAlgorithms = [...DEFAULT_SIGNATURE_ALGORITHMS, ALGORITHM_OID.sha1WithRSA, ALGORITHM_OID.dsaWithSha1];
  profile.rsaKeyBits = { min: 1024, max: 4096 };
  const report = await verifyCertificate({
    leaf: certificates[certificates.length - 1],
    chain: certificates.slice(0, -1),
    store: new TrustStore([profile], 1),
    revocation: new StaticRevocationSource(crls),
    at: PKITS_VALIDATION_TIME,
    usage: 'path',
  });
  return { valid: report.verdict === 'valid', code: report.code, message: report.message };
}

const POLICY = 'certificate policy processing (RFC 5280 6.1.3 d-f, 6.1.4 a-b, 6.1.5) is not implemented: the service accepts any policy and requires none, and a CA certificate with a critical policyConstraints, policyMappings or inhibitAnyPolicy extension is rejected as an unknown critical extension';
const NAME_CONSTRAINTS = 'nameConstraints processing is not implemented; a CA certificate with a critical nameConstraints extension is rejected as an unknown critical extension';
const DELTA = 'delta CRLs are not used: only complete CRLs count, so a revocation published only in a delta CRL is seen with the next complete CRL, and a hold removed by a delta CRL stays in force';
const INDIRECT = 'indirect CRLs and CRLs issued by another entity (cRLIssuer) are not used; the certificate then has no usable CRL and the closed fail policy rejects it';
const PARTITIONED = 'CRLs partitioned by reason (onlySomeReasons) are not used; the certificate then has no usable CRL and the closed fail policy rejects it';
const RELATIVE_DP = 'pkijs 4 does not decode distribution point names relative to the CRL issuer, so such CRLs are treated as not covering the certificate and the closed fail policy rejects it';
const FOREIGN_CRL_KEY = 'a CRL counts only when it is signed by a key of a CA certificate in the validated path; this vector signs the CRL with a key whose certificate is not in the path';

/** Vectors outside the service's profile, by name prefix, with the reason. Their current outcome is still asserted. */
export const NOT_APPLICABLE: [prefix: string, reason: string][] = [
  ['4.1.5 ', 'DSA keys that inherit their parameters from the issuer cannot be imported by Node; the service accepts RSA, ECDSA and SM2 keys only'],
  ['4.4.19 ', FOREIGN_CRL_KEY],
  ['4.5.4 ', FOREIGN_CRL_KEY],
  ['4.5.6 ', FOREIGN_CRL_KEY],
  ['4.8.', POLICY],
  ['4.9.', POLICY],
  ['4.10.', POLICY],
  ['4.11.', POLICY],
  ['4.12.', POLICY],
  ['4.13.', NAME_CONSTRAINTS],
  ['4.14.4 ', RELATIVE_DP],
  ['4.14.5 ', RELATIVE_DP],
  ['4.14.7 ', RELATIVE_DP],
  ['4.14.18 ', PARTITIONED],
  ['4.14.19 ', PARTITIONED],
  ['4.14.20 ', PARTITIONED],
  ['4.14.21 ', PARTITIONED],
  ['4.14.22 ', INDIRECT],
  ['4.14.23 ', INDIRECT],
  ['4.14.24 ', INDIRECT],
  ['4.14.25 ', INDIRECT],
  ['4.14.26 ', INDIRECT],
  ['4.14.27 ', INDIRECT],
  ['4.14.28 ', INDIRECT],
  ['4.14.29 ', INDIRECT],
  ['4.14.30 ', INDIRECT],
  ['4.14.31 ', INDIRECT],
  ['4.14.32 ', INDIRECT],
  ['4.14.33 ', INDIRECT],
  ['4.14.34 ', INDIRECT],
  ['4.14.35 ', INDIRECT],
  ['4.15.', DELTA],
];

export function notApplicableReason(name: string): string | undefined {
  return NOT_APPLICABLE.find(([prefix]) => name.startsWith(prefix))?.[1];
}

/** PKITS section of a vector name: "4.4.14 Valid ..." is in section 4.4. */
export const sectionOf = (name: string) => name.split(' ')[0].split('.').slice(0, 2).join('.');
