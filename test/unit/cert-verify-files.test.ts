import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as certCli } from '../../functions/cli/cert.js';
import { createRootCa, generateCrl, issueCertificate, revokeCertificate, type IssuedCertificate, type TestCa } from '../../infra/local/openssl-ca.js';
import { withWrongCheck } from '../helpers/codes.js';
import { tempDir } from '../helpers/pki.js';

const openssl = promisify(execFile);

/** A valid code (check character C) and the same code with check character D. */
const CODE = '91330100000000001C';
const BAD_CHECK = withWrongCheck(CODE);

interface Report {
  verdict: string;
  code?: string;
  message?: string;
  hint?: string;
  creditCode?: { code: string; where: string; checkCharacterValid: boolean };
  path: unknown[];
}

let dir: string;
let ec: TestCa;
let sm2: TestCa;
let good: IssuedCertificate;
let badCheck: IssuedCertificate;
let noCode: IssuedCertificate;
let revoked: IssuedCertificate;
let sm2Leaf: IssuedCertificate;
/** An SM2 leaf that the SM2 CA signed under signer ID ALICE123@YAHOO.COM. */
let sm2OtherIdPath: string;

beforeAll(async () => {
  dir = await tempDir('tif-cert-cli-');
  ec = await createRootCa(join(dir, 'ec'), 'CLI File CA', 'ec');
  good = await issueCertificate(ec, { id: 'good', subject: `/C=CN/O=Good/serialNumber=${CODE}/CN=Good` });
  badCheck = await issueCertificate(ec, { id: 'bad-check', subject: `/C=CN/O=Bad Check/serialNumber=${BAD_CHECK}/CN=Bad Check` });
  noCode = await issueCertificate(ec, { id: 'no-code', subject: '/C=CN/O=No Code/CN=No Code' });
  revoked = await issueCertificate(ec, { id: 'revoked', subject: `/C=CN/O=Revoked/serialNumber=${CODE}/CN=Revoked` });
  await revokeCertificate(ec, revoked.certPath);
  await generateCrl(ec);

  sm2 = await createRootCa(join(dir, 'sm2'), 'CLI SM2 CA', 'sm2');
  sm2Leaf = await issueCertificate(sm2, { id: 'leaf', subject: `/C=CN/O=SM2 Holder/serialNumber=${CODE}/CN=SM2 Holder`, algorithm: 'sm2' });
  sm2OtherIdPath = join(sm2.dir, 'other-id.pem');
  await openssl('openssl', [
    'x509', '-req', '-in', join(sm2.dir, 'leaf.csr'), '-CA', sm2.certPath, '-CAkey', sm2.keyPath, '-sm3',
    '-sigopt', 'distid:ALICE123@YAHOO.COM', '-vfyopt', 'distid:1234567812345678', '-set_serial', '4660', '-days', '30',
    '-extfile', join(sm2.dir, 'openssl.cnf'), '-extensions', 'enterprise_ext', '-out', sm2OtherIdPath,
  ]);
}, 60_000);

afterEach(() => {
  vi.restoreAllMocks();
});

/** Run `cert verify` with the arguments and return the exit status, standard output and standard error. */
async function verify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr.push(String(chunk));
    return true;
  });
  try {
    const code = await certCli(['verify', ...args]);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}

/** Run `cert verify --json` and parse the report. */
async function verifyJson(...args: string[]): Promise<{ code: number; report: Report }> {
  const { code, stdout, stderr } = await verify(...args, '--json');
  expect(stdout, stderr).not.toBe('');
  return { code, report: JSON.parse(stdout) as Report };
}

/** Write a CA profile file for the EC CA, in the admin API's format, and return its path. */
async function profileFile(name: string, fields: Record<string, unknown>): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify({ id: name, name, anchors: [ec.certPem], revocation: { failPolicy: 'open' }, ...fields }));
  return path;
}

describe('cert verify --usage bind credit code', () => {
  it('reports the credit code and its place', async () => {
    const { code, report } = await verifyJson('--usage', 'bind', '--cert', good.certPath, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
    expect(report.creditCode).toEqual({ code: CODE, where: 'subject serialNumber', checkCharacterValid: true });
    const text = await verify('--usage', 'bind', '--cert', good.certPath, '--anchor', ec.certPath, '--fail-open');
    expect(text.stdout).toContain(`credit code: ${CODE} (in the subject serialNumber)`);
  });

  it('rejects a wrong check character', async () => {
    const { code, report } = await verifyJson('--usage', 'bind', '--cert', badCheck.certPath, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(1);
    expect(report.verdict).toBe('rejected');
    expect(report.code).toBe('CREDIT_CODE_INVALID');
    expect(report.message).toContain(`subject serialNumber: credit code ${BAD_CHECK} ends in check character`);
    expect(report.creditCode).toEqual({ code: BAD_CHECK, where: 'subject serialNumber', checkCharacterValid: false });
    expect(report.path).toHaveLength(2);
  });

  it('flags a wrong check character the profile allows', async () => {
    const profile = await profileFile('allows-bad-check', { allowInvalidCheckCharacter: true });
    const { code, report } = await verifyJson('--usage', 'bind', '--cert', badCheck.certPath, '--profile', profile);
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
    expect(report.creditCode).toEqual({ code: BAD_CHECK, where: 'subject serialNumber', checkCharacterValid: false });
    const text = await verify('--usage', 'bind', '--cert', badCheck.certPath, '--profile', profile);
    expect(text.stdout).toContain('so the binding would be flagged');
  });

  it('rejects a certificate without a credit code', async () => {
    const { code, report } = await verifyJson('--usage', 'bind', '--cert', noCode.certPath, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(1);
    expect(report.code).toBe('CREDIT_CODE_MISSING');
    expect(report.creditCode).toBeUndefined();
  });

  it('searches the profile location', async () => {
    const profile = await profileFile('code-in-ou', { creditCodeLocation: { source: 'subject', attribute: '2.5.4.11' } });
    const { code, report } = await verifyJson('--usage', 'bind', '--cert', good.certPath, '--profile', profile);
    expect(code).toBe(1);
    expect(report.code).toBe('CREDIT_CODE_MISSING');
    expect(report.message).toContain('subject attribute 2.5.4.11 (CA profile "code-in-ou")');
  });

  it('leaves login without credit code checks', async () => {
    const { code, report } = await verifyJson('--usage', 'login', '--cert', noCode.certPath, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
    expect(report.creditCode).toBeUndefined();
  });
});

describe('cert verify --crl', () => {
  it('reads a PEM CRL', async () => {
    const pem = await readFile(join(ec.dir, 'crl.pem'), 'utf8');
    expect(pem).toContain('-----BEGIN X509 CRL-----');
    const { code, report } = await verifyJson('--cert', revoked.certPath, '--anchor', ec.certPath, '--crl', join(ec.dir, 'crl.pem'));
    expect(code).toBe(1);
    expect(report.code).toBe('REVOKED');
  });

  it('reads a DER CRL', async () => {
    const { code, report } = await verifyJson('--cert', revoked.certPath, '--anchor', ec.certPath, '--crl', join(ec.dir, 'crl.der'));
    expect(code).toBe(1);
    expect(report.code).toBe('REVOKED');
  });

  it('accepts a good certificate with a PEM CRL', async () => {
    const { code, report } = await verifyJson('--cert', good.certPath, '--anchor', ec.certPath, '--crl', join(ec.dir, 'crl.pem'));
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
  });

  it('names the wrong PEM label', async () => {
    const { code, stderr } = await verify('--cert', good.certPath, '--anchor', ec.certPath, '--crl', good.certPath);
    expect(code).toBe(2);
    expect(stderr).toContain(`error: ${good.certPath} is malformed: PEM label is CERTIFICATE, expected X509 CRL`);
  });
});

describe('cert verify of a malformed certificate', () => {
  let der: Buffer;

  beforeAll(async () => {
    der = (await openssl('openssl', ['x509', '-in', good.certPath, '-outform', 'DER'], { encoding: 'buffer' })).stdout;
  });

  const cases: [string, () => Promise<string | Buffer>, string][] = [
    ['truncated DER', async () => der.subarray(0, der.length - 20), 'runs past the end'],
    ['trailing bytes', async () => Buffer.concat([der, Buffer.from('garbage')]), '7 trailing byte(s) after the DER value'],
    ['a CSR', () => readFile(join(ec.dir, 'good.csr')), 'PEM label is CERTIFICATE REQUEST, expected CERTIFICATE'],
    ['a private key', () => readFile(good.keyPath), 'PEM label is PRIVATE KEY, expected CERTIFICATE'],
    ['an empty file', async () => Buffer.alloc(0), 'it is empty'],
    ['random bytes', async () => Buffer.from('8f3a1c77e2d90b4455aa', 'hex'), 'malformed'],
  ];

  it.each(cases)('rejects %s as MALFORMED', async (name, content, detail) => {
    const path = join(dir, `${name.replace(/\W+/g, '-')}.bin`);
    await writeFile(path, await content());
    const { code, report } = await verifyJson('--cert', path, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(1);
    expect(report.verdict).toBe('rejected');
    expect(report.code).toBe('MALFORMED');
    expect(report.message).toContain(`${path} is malformed: `);
    expect(report.message).toContain(detail);
    expect(report.path).toEqual([]);
  });

  it('prints the text verdict', async () => {
    const path = join(dir, 'empty.pem');
    await writeFile(path, '');
    const { code, stdout, stderr } = await verify('--cert', path, '--anchor', ec.certPath);
    expect(code).toBe(1);
    expect(stdout).toContain('verdict: rejected (MALFORMED)');
    expect(stdout).toContain(`reason: ${path} is malformed: it is empty`);
    expect(stderr).toBe('');
  });

  it('rejects a malformed chain file', async () => {
    const path = join(dir, 'chain-key.pem');
    await writeFile(path, good.keyPem);
    const { code, report } = await verifyJson('--cert', good.certPath, '--chain', path, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(1);
    expect(report.code).toBe('MALFORMED');
    expect(report.message).toContain('PEM label is PRIVATE KEY, expected CERTIFICATE');
  });

  it('keeps exit 2 for a malformed anchor', async () => {
    const path = join(dir, 'anchor-key.pem');
    await writeFile(path, good.keyPem);
    const { code, stdout, stderr } = await verify('--cert', good.certPath, '--anchor', path);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`error: ${path} item 1 is malformed: PEM label is PRIVATE KEY, expected CERTIFICATE`);
  });

  it('rejects an end-entity certificate as anchor', async () => {
    const { code, stdout, stderr } = await verify('--cert', good.certPath, '--anchor', good.certPath);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--anchor: ');
    expect(stderr).toContain('is not a CA certificate');
  });
});

describe('cert verify --cert with a bundle', () => {
  it('rejects two certificates and names --chain', async () => {
    const path = join(dir, 'two.pem');
    await writeFile(path, good.certPem + badCheck.certPem);
    const { code, report } = await verifyJson('--cert', path, '--anchor', ec.certPath, '--fail-open');
    expect(code).toBe(1);
    expect(report.code).toBe('MALFORMED');
    expect(report.message).toContain('it contains 2 PEM blocks');
    expect(report.message).toContain('--chain');
  });
});

describe('cert verify SM2 signer ID', () => {
  it('accepts the default signer ID', async () => {
    const { code, report } = await verifyJson('--cert', sm2Leaf.certPath, '--anchor', sm2.certPath, '--fail-open');
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
  });

  it('names the default ID on failure', async () => {
    const { code, report } = await verifyJson('--cert', sm2OtherIdPath, '--anchor', sm2.certPath, '--fail-open');
    expect(code).toBe(1);
    expect(report.code).toBe('PATH_INVALID');
    expect(report.message).toContain('under SM2 signer ID "1234567812345678" (sm2SignerId of CA profile "files")');
    expect(report.hint).toContain('--sm2-signer-id');
    expect(report.hint).toContain('--profile FILE');
  });

  it('uses --sm2-signer-id for --anchor', async () => {
    const { code, report } = await verifyJson('--cert', sm2OtherIdPath, '--anchor', sm2.certPath, '--fail-open', '--sm2-signer-id', 'ALICE123@YAHOO.COM');
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
  });

  it('names the given ID on failure', async () => {
    const { code, report } = await verifyJson('--cert', sm2Leaf.certPath, '--anchor', sm2.certPath, '--fail-open', '--sm2-signer-id', 'ALICE123@YAHOO.COM');
    expect(code).toBe(1);
    expect(report.message).toContain('under SM2 signer ID "ALICE123@YAHOO.COM"');
  });

  it('gives no hint for ECDSA', async () => {
    const { report } = await verifyJson('--cert', good.certPath, '--anchor', sm2.certPath, '--fail-open');
    expect(report.code).toBe('UNTRUSTED');
    expect(report.hint).toBeUndefined();
  });

  it('requires --anchor for --sm2-signer-id', async () => {
    const profile = await profileFile('sm2-needs-anchor', {});
    const { code, stderr } = await verify('--cert', sm2Leaf.certPath, '--profile', profile, '--sm2-signer-id', 'x');
    expect(code).toBe(2);
    expect(stderr).toContain('--sm2-signer-id sets the SM2 signer ID of the --anchor profile');
  });
});
