import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type KeyAlgorithm = 'rsa' | 'ec' | 'ec384' | 'sm2';

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

export interface TestCa extends IssuedCertificate {
  dir: string;
  name: string;
  algorithm: KeyAlgorithm;
  /** CRL distribution point written into the certificates this CA issues, if any. */
  crlUrl?: string;
}

async function openssl(args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await run('openssl', args, { cwd, maxBuffer: 10 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${stderr.trim() || (error as Error).message}`);
  }
}

function keyArgs(algorithm: KeyAlgorithm): string[] {
  switch (algorithm) {
    case 'rsa':
      return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
    case 'ec':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    case 'ec384':
      return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
    case 'sm2':
      return ['-algorithm', 'SM2'];
  }
}

/** Digest and signature options for signing with a key of `algorithm` (SM2 uses SM3 with the GM/T 0009 default ID). */
export function signArgs(algorithm: KeyAlgorithm): string[] {
  if (algorithm === 'sm2') return ['-sm3', '-sigopt', 'distid:1234567812345678'];
  if (algorithm === 'ec384') return ['-sha384'];
  return ['-sha256'];
}

async function generateKey(path: string, algorithm: KeyAlgorithm): Promise<void> {
  await openssl(['genpkey', ...keyArgs(algorithm), '-out', path]);
}

const CA_CONFIG = (dir: string, crlUrl?: string) => {
  const crlDp = crlUrl ? `crlDistributionPoints = URI:${crlUrl}\n` : '';
  return `
[ ca ]
default_ca = local_ca
[ local_ca ]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
policy = any_policy
unique_subject = no
copy_extensions = none
default_md = sha256
default_crl_days = 7
crlnumber = ${dir}/crlnumber
[ any_policy ]
commonName = optional
organizationName = optional
organizationalUnitName = optional
serialNumber = optional
countryName = optional
[ root_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ intermediate_ext ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
${crlDp}[ enterprise_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
${crlDp}[ encipher_only_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
${crlDp}[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ ocsp_signing_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;
};

async function writeCaFiles(dir: string, serial: string, crlUrl?: string): Promise<void> {
  await mkdir(join(dir, 'issued'), { recursive: true });
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), `${serial}\n`);
  await writeFile(join(dir, 'crlnumber'), '01\n');
  await writeFile(join(dir, 'openssl.cnf'), CA_CONFIG(dir, crlUrl));
}

/**
 * Create a self-signed root CA with the openssl CLI in `dir`. With `crlUrl`,
 * the certificates it issues name that URL as their CRL distribution point.
 */
export async function createRootCa(dir: string, name: string, algorithm: KeyAlgorithm = 'ec', options: { crlUrl?: string } = {}): Promise<TestCa> {
  await writeCaFiles(dir, '1000', options.crlUrl);
  const keyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'ca.pem');
  await generateKey(keyPath, algorithm);
  await openssl([
    'req', '-x509', '-new', '-key', keyPath, ...signArgs(algorithm), '-days', '3650', '-subj', `/C=CN/O=${name}/CN=${name} Root`,
    '-config', join(dir, 'openssl.cnf'), '-extensions', 'root_ext', '-out', certPath, '-utf8',
  ]);
  return { dir, name, algorithm, crlUrl: options.crlUrl, certPath, keyPath, certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
}

export interface EnterpriseCertificateOptions {
  /** File name stem for the key and certificate. */
  id: string;
  /** Subject in openssl -subj form, e.g. /C=CN/O=Example Co/serialNumber=91.../CN=Example Co */
  subject: string;
  algorithm?: KeyAlgorithm;
  /** Validity window as openssl ca dates (YYYYMMDDHHMMSSZ); defaults to now .. +365 days. */
  startDate?: string;
  endDate?: string;
  /** Extension section of the CA config: enterprise_ext (default), intermediate_ext, encipher_only_ext or ocsp_signing_ext (a delegated OCSP responder). */
  extensions?: string;
}

/** Issue a certificate from `ca` with `openssl ca`. */
export async function issueCertificate(ca: TestCa, options: EnterpriseCertificateOptions): Promise<IssuedCertificate> {
  const algorithm = options.algorithm ?? 'ec';
  const keyPath = join(ca.dir, `${options.id}.key`);
  const csrPath = join(ca.dir, `${options.id}.csr`);
  const certPath = join(ca.dir, `${options.id}.pem`);
  await generateKey(keyPath, algorithm);
  await openssl(['req', '-new', '-key', keyPath, ...signArgs(algorithm), '-subj', options.subject, '-utf8', '-out', csrPath]);
  const dates = options.startDate ? ['-startdate', options.startDate, '-enddate', options.endDate ?? '20991231000000Z'] : ['-days', '365'];
  await openssl([
    'ca', '-batch', '-notext', '-config', join(ca.dir, 'openssl.cnf'), '-cert', ca.certPath, '-keyfile', ca.keyPath,
    '-in', csrPath, '-out', certPath, '-extensions', options.extensions ?? 'enterprise_ext', '-utf8', ...dates,
    ...caSignArgs(ca),
    // openssl ca checks the request's SM2 signature under the empty ID unless told the ID it was signed with.
    ...(algorithm === 'sm2' ? ['-vfyopt', 'distid:1234567812345678'] : []),
  ]);
  return { certPath, keyPath, certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
}

function caSignArgs(ca: TestCa): string[] {
  if (ca.algorithm === 'sm2') return ['-md', 'sm3', '-sigopt', 'distid:1234567812345678'];
  if (ca.algorithm === 'ec384') return ['-md', 'sha384'];
  return [];
}

/** Mark a certificate issued by `ca` as revoked in its database (`openssl ca -revoke`). */
export async function revokeCertificate(ca: TestCa, certPath: string, reason = 'keyCompromise'): Promise<void> {
  await openssl(['ca', '-batch', '-config', join(ca.dir, 'openssl.cnf'), '-cert', ca.certPath, '-keyfile', ca.keyPath, '-revoke', certPath, '-crl_reason', reason, ...caSignArgs(ca)]);
}

/** Issue a CRL of `ca` from its database (`openssl ca -gencrl`); returns the DER bytes. */
export async function generateCrl(ca: TestCa, options: { hours?: number } = {}): Promise<Uint8Array> {
  const pemPath = join(ca.dir, 'crl.pem');
  await openssl([
    'ca', '-batch', '-gencrl', '-config', join(ca.dir, 'openssl.cnf'), '-cert', ca.certPath, '-keyfile', ca.keyPath,
    '-crlexts', 'crl_ext', '-out', pemPath, ...(options.hours ? ['-crlhours', String(options.hours)] : []), ...caSignArgs(ca),
  ]);
  const derPath = join(ca.dir, 'crl.der');
  await openssl(['crl', '-in', pemPath, '-outform', 'DER', '-out', derPath]);
  return new Uint8Array(await readFile(derPath));
}

/** Issue an intermediate CA under `ca`, usable as a TestCa itself. */
export async function issueIntermediateCa(ca: TestCa, dir: string, name: string, algorithm: KeyAlgorithm = ca.algorithm, options: { crlUrl?: string } = {}): Promise<TestCa> {
  const issued = await issueCertificate(ca, { id: `intermediate-${name.replace(/\W+/g, '-')}`, subject: `/C=CN/O=${name}/CN=${name}`, algorithm, extensions: 'intermediate_ext' });
  await writeCaFiles(dir, '2000', options.crlUrl);
  return { dir, name, algorithm, crlUrl: options.crlUrl, ...issued };
}
