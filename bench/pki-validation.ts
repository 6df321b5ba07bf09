/**
 * Chain validations per second per algorithm, next to the raw signature
 * verification rate measured in the same run.
 *
 *   npm run bench:pki            (or: npx tsx bench/pki-validation.ts [seconds per measurement] [baseline directory])
 *
 * Each algorithm gets a root CA, an issuing CA and 50 leaves made by the
 * openssl CLI, CRLs for both CAs, and a trust store holding the root as anchor
 * and the issuing CA as intermediate. Leaves are submitted alone, so every
 * validation builds the path from the store and checks both CRLs.
 *
 * Rates are per second of CPU time of the benchmark process (user and
 * system), because on a shared machine the wall time includes the time other
 * processes hold the cores. The output gives the share of wall time that the
 * process spent on the CPU.
 *
 * A baseline directory is a checkout of other code whose node_modules links
 * to this checkout's (for example `git archive main | tar -x -C DIR`). With
 * one, each measurement alternates between the baseline's functions/pki and
 * this checkout's in 0.1 s rounds, so machine load affects both alike. The
 * table then gains the ratio of this checkout's rate to the baseline's. Both
 * load the same asn1js and pkijs modules.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRootCa, generateCrl, issueCertificate, issueIntermediateCa, type KeyAlgorithm } from '../infra/local/openssl-ca.js';

const SECONDS = Number(process.argv[2] ?? 2);
const BASELINE = process.argv[3];
const LEAVES = 50;
const ROUND_MILLISECONDS = 100;
const ALGORITHMS: [KeyAlgorithm, string][] = [
  ['rsa', 'RSA 2048, sha256WithRSAEncryption'],
  ['ec', 'ECDSA P-256, ecdsa-with-SHA256'],
  ['sm2', 'SM2 with SM3'],
];

/** Load the functions/pki modules of the checkout at `root`. */
async function loadImplementation(root: string) {
  const load = (name: string) => import(pathToFileURL(join(root, 'functions', 'pki', name)).href);
  return {
    der: (await load('der.ts')) as typeof import('../functions/pki/der.js'),
    revocation: (await load('revocation.ts')) as typeof import('../functions/pki/revocation.js'),
    signature: (await load('signature.ts')) as typeof import('../functions/pki/signature.js'),
    trustStore: (await load('trust-store.ts')) as typeof import('../functions/pki/trust-store.js'),
    validate: (await load('validate.ts')) as typeof import('../functions/pki/validate.js'),
  };
}
type Implementation = Awaited<ReturnType<typeof loadImplementation>>;

/** Make, with the openssl CLI, the certificates and CRLs for one algorithm that every implementation shares. */
async function makeMaterial(algorithm: KeyAlgorithm) {
  const root = await createRootCa(await mkdtemp(join(tmpdir(), 'bench-root-')), `Bench ${algorithm} Root`, algorithm);
  const issuing = await issueIntermediateCa(root, await mkdtemp(join(tmpdir(), 'bench-issuing-')), `Bench ${algorithm} Issuing`, algorithm);
  const leaves: string[] = [];
  for (let i = 0; i < LEAVES; i += 1) {
    const issued = await issueCertificate(issuing, { id: `leaf${i}`, subject: `/C=CN/O=Bench ${i}/serialNumber=91440300MA5G00000${i % 10}/CN=Bench ${i}`, algorithm });
    leaves.push(issued.certPem);
  }
  return { root, issuing, leaves, crls: [await generateCrl(root), await generateCrl(issuing)] };
}
type Material = Awaited<ReturnType<typeof makeMaterial>>;

/** Build the benchmark columns as work functions over one implementation. Each call does one unit of work. */
function columns(pki: Implementation, material: Material) {
  const profile = pki.trustStore.defaultProfile('bench', 'Bench', [material.root.certPem]);
  profile.intermediates = [material.issuing.certPem];
  const store = new pki.trustStore.TrustStore([profile], 1);
  const revocation = new pki.revocation.StaticRevocationSource(material.crls.map((crl) => pki.revocation.parseCrl(crl)));
  const issuing = pki.der.parseCertificate(material.issuing.certPem);
  const leafDer = material.leaves.map((pem) => new Uint8Array(new X509Certificate(pem).raw));
  const parsed = leafDer.map((der) => pki.der.parseCertificate(der));
  // openssl dates certificates to the second they were issued; validate a minute later.
  const at = new Date(Date.now() + 60_000);
  // Each validation parses its leaf from DER, as a request does.
  const validate = (i: number, useIssuerCache: boolean) =>
    pki.validate.validatePath(pki.der.parseCertificate(leafDer[i % leafDer.length]), [], store, { at, usage: 'login', revocation, useIssuerCache });
  const { clearParsedCertificates } = pki.der;
  const { clearIssuerCache } = pki.validate;
  const work: [string, (i: number) => unknown][] = [
    [
      'raw',
      (i) => {
        const cert = parsed[i % parsed.length];
        const check = { data: cert.tbsView, signature: cert.signatureValue.valueBlock.valueHexView, spki: issuing.subjectPublicKeyInfo, algorithm: cert.signatureAlgorithm };
        if (!pki.signature.verifySignature(check)) throw new Error('signature did not verify');
      },
    ],
    [
      'cold start',
      (i) => {
        clearParsedCertificates();
        clearIssuerCache();
        pki.signature.clearKeyCache();
        pki.revocation.clearCrlSignatureCache();
        return validate(i, false);
      },
    ],
    [
      'cold path',
      (i) => {
        clearIssuerCache();
        return validate(i, true);
      },
    ],
    // A certificate this process has never seen, with the whole path checked again: only the
    // caches keyed by content (imported keys, verified CRL signatures) stay warm.
    [
      'unseen leaf, cold path',
      (i) => {
        clearParsedCertificates();
        clearIssuerCache();
        return validate(i, true);
      },
    ],
    [
      'cached issuers, unseen leaf',
      (i) => {
        clearParsedCertificates();
        return validate(i, true);
      },
    ],
    ['cached issuers, known leaf', (i) => validate(i, true)],
  ];
  return work;
}

/**
 * Run `work` for about `milliseconds` of wall time and return how many calls
 * completed and the CPU time this process spent on them, in milliseconds.
 */
async function runFor(milliseconds: number, work: (i: number) => unknown, start: number): Promise<{ count: number; cpu: number; wall: number }> {
  const begin = performance.now();
  const cpuBefore = process.cpuUsage();
  const end = begin + milliseconds;
  let count = 0;
  while (performance.now() < end) {
    await work(start + count);
    count += 1;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { count, cpu: (cpu.user + cpu.system) / 1000, wall: performance.now() - begin };
}

/** Share of wall time that this process spent on the CPU during the measurements: 1 on an idle machine. */
let cpuTotal = 0;
let wallTotal = 0;

/**
 * Measure each implementation's rate for one column, in alternating rounds
 * when there are two. Rates are per second of CPU time of this process, so
 * that other work on the machine slows the process without lowering them.
 */
async function measure(works: ((i: number) => unknown)[]): Promise<number[]> {
  for (const work of works) await runFor(ROUND_MILLISECONDS, work, 0);
  const totals = works.map(() => ({ count: 0, cpu: 0 }));
  const rounds = Math.max(1, Math.round((SECONDS * 1000) / ROUND_MILLISECONDS));
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, work] of works.entries()) {
      const { count, cpu, wall } = await runFor(ROUND_MILLISECONDS, work, totals[index].count);
      totals[index].count += count;
      totals[index].cpu += cpu;
      cpuTotal += cpu;
      wallTotal += wall;
    }
  }
  return totals.map((total) => total.count / (total.cpu / 1000));
}

const implementations = [await loadImplementation(resolve(import.meta.dirname, '..'))];
if (BASELINE) implementations.unshift(await loadImplementation(resolve(BASELINE)));

const load = () => loadavg().map((value) => value.toFixed(1)).join(' ');
process.stdout.write(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, ${SECONDS} s per measurement, load average ${load()}\n`);
const rows: string[] = [];
for (const [algorithm, label] of ALGORITHMS) {
  const material = await makeMaterial(algorithm);
  const perImplementation = implementations.map((pki) => columns(pki, material));
  const rates: number[][] = [];
  for (let column = 0; column < perImplementation[0].length; column += 1) {
    rates.push(await measure(perImplementation.map((work) => work[column][1])));
  }
  const current = implementations.length - 1;
  const cell = (column: number, index: number) => `${rates[column][index].toFixed(0)} (${(rates[column][index] / rates[0][index]).toFixed(2)})`;
  if (BASELINE) {
    for (const [index, name] of ['baseline', 'this checkout'].entries()) {
      rows.push(`| ${name}: ${label} | ${rates[0][index].toFixed(0)} | ${rates.slice(1).map((_, column) => cell(column + 1, index)).join(' | ')} |`);
    }
    rows.push(`| ratio, this checkout / baseline | ${(rates[0][current] / rates[0][0]).toFixed(2)} | ${rates.slice(1).map((rate) => (rate[current] / rate[0]).toFixed(2)).join(' | ')} |`);
  } else {
    rows.push(`| ${label} | ${rates[0][0].toFixed(0)} | ${rates.slice(1).map((_, column) => cell(column + 1, 0)).join(' | ')} |`);
  }
}
process.stdout.write(
  [
    '',
    '| Algorithm | Raw signature verifications/s | Cold start/s (ratio to raw) | Cold path/s (ratio) | Unseen leaf, cold path/s (ratio) | Cached issuers, unseen leaf/s (ratio) | Cached issuers, known leaf/s (ratio) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `load average at the end ${load()}; CPU time / wall time during the measurements ${(cpuTotal / wallTotal).toFixed(2)}`,
    '',
  ].join('\n'),
);
