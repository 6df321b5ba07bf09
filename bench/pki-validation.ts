/**
 * Chain validations per second per algorithm, next to the raw signature
 * verification rate measured in the same run.
 *
 *   npm run bench:pki            (or: npx tsx bench/pki-validation.ts [seconds per measurement])
 *
 * Each algorithm gets a root CA, an issuing CA and 50 leaves made by the
 * openssl CLI, CRLs for both CAs, and a trust store holding the root as anchor
 * and the issuing CA as intermediate. Leaves are submitted alone, so every
 * validation builds the path from the store and checks both CRLs.
 */
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateDer } from '../functions/pki/certificate.js';
import { clearParsedCertificates, parseCertificate } from '../functions/pki/der.js';
import { clearCrlSignatureCache, parseCrl, StaticRevocationSource } from '../functions/pki/revocation.js';
import { clearKeyCache, verifySignature } from '../functions/pki/signature.js';
import { TrustStore, defaultProfile } from '../functions/pki/trust-store.js';
import { clearIssuerCache, validatePath } from '../functions/pki/validate.js';
import { createRootCa, generateCrl, issueCertificate, issueIntermediateCa, type KeyAlgorithm } from '../infra/local/openssl-ca.js';

const SECONDS = Number(process.argv[2] ?? 2);
const LEAVES = 50;
const ALGORITHMS: [KeyAlgorithm, string][] = [
  ['rsa', 'RSA 2048, sha256WithRSAEncryption'],
  ['ec', 'ECDSA P-256, ecdsa-with-SHA256'],
  ['sm2', 'SM2 with SM3'],
];

async function rate(work: (i: number) => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 20; i += 1) await work(i);
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let count = 0;
  while (performance.now() < end) {
    await work(count);
    count += 1;
  }
  return count / ((performance.now() - start) / 1000);
}

async function setup(algorithm: KeyAlgorithm) {
  const root = await createRootCa(await mkdtemp(join(tmpdir(), 'bench-root-')), `Bench ${algorithm} Root`, algorithm);
  const issuing = await issueIntermediateCa(root, await mkdtemp(join(tmpdir(), 'bench-issuing-')), `Bench ${algorithm} Issuing`, algorithm);
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < LEAVES; i += 1) {
    const issued = await issueCertificate(issuing, { id: `leaf${i}`, subject: `/C=CN/O=Bench ${i}/serialNumber=91440300MA5G00000${i % 10}/CN=Bench ${i}`, algorithm });
    leaves.push(certificateDer(parseCertificate(issued.certPem)));
  }
  const profile = defaultProfile(`bench-${algorithm}`, `Bench ${algorithm}`, [root.certPem]);
  profile.intermediates = [issuing.certPem];
  const store = new TrustStore([profile], 1);
  const revocation = new StaticRevocationSource([parseCrl(await generateCrl(root)), parseCrl(await generateCrl(issuing))]);
  return { store, revocation, leaves, issuing: parseCertificate(issuing.certPem) };
}

const results: string[] = [];
process.stdout.write(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, ${SECONDS} s per measurement\n`);
for (const [algorithm, label] of ALGORITHMS) {
  const { store, revocation, leaves, issuing } = await setup(algorithm);
  // openssl dates certificates to the second they were issued; validate a minute later.
  const at = new Date(Date.now() + 60_000);
  // Each validation parses its leaf from DER, as a request does.
  const leaf = (i: number) => parseCertificate(leaves[i % leaves.length]);
  const validate = (i: number, useIssuerCache: boolean) => validatePath(leaf(i), [], store, { at, usage: 'login', revocation, useIssuerCache });

  const parsed = leaves.map((der) => parseCertificate(der));
  const raw = await rate((i) => {
    const cert = parsed[i % parsed.length];
    if (!verifySignature({ data: cert.tbsView, signature: cert.signatureValue.valueBlock.valueHexView, spki: issuing.subjectPublicKeyInfo, algorithm: cert.signatureAlgorithm })) throw new Error('signature did not verify');
  });
  const coldStart = await rate((i) => {
    clearParsedCertificates();
    clearIssuerCache();
    clearKeyCache();
    clearCrlSignatureCache();
    return validate(i, false);
  });
  const coldPath = await rate((i) => {
    clearIssuerCache();
    return validate(i, true);
  });
  // A certificate this process has never seen, with the whole path checked again: only the
  // caches keyed by content (imported keys, verified CRL signatures) stay warm.
  const unseenLeafColdPath = await rate((i) => {
    clearParsedCertificates();
    clearIssuerCache();
    return validate(i, true);
  });
  clearIssuerCache();
  const cachedNewLeaf = await rate((i) => {
    clearParsedCertificates();
    return validate(i, true);
  });
  const cached = await rate((i) => validate(i, true));
  const cell = (value: number) => `${value.toFixed(0)} (${(value / raw).toFixed(2)})`;
  results.push(`| ${label} | ${raw.toFixed(0)} | ${cell(coldStart)} | ${cell(coldPath)} | ${cell(unseenLeafColdPath)} | ${cell(cachedNewLeaf)} | ${cell(cached)} |`);
}
process.stdout.write(
  [
    '',
    '| Algorithm | Raw signature verifications/s | Cold start/s (ratio to raw) | Cold path/s (ratio) | Unseen leaf, cold path/s (ratio) | Cached issuers, unseen leaf/s (ratio) | Cached issuers, known leaf/s (ratio) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results,
    '',
  ].join('\n'),
);
