import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type * as pkijs from 'pkijs';
import { certificatePem } from '../pki/pem.js';
import { fingerprint } from '../pki/certificate.js';
import { MalformedInput, parseCertificate, parseCertificates } from '../pki/der.js';
import { CertificateRejected } from '../pki/reasons.js';
import { parseCrl, StaticRevocationSource, type ParsedCrl, type RevocationSource } from '../pki/revocation.js';
import { TrustStore, defaultProfile, type CaProfile } from '../pki/trust-store.js';
import type { Usage } from '../pki/validate.js';
import { malformedReport, rejectedReport, reportText, verifyCertificate, type VerifyReport } from './verify.js';

const USAGE = `Usage: npm run cert -- verify --cert FILE [options]

Validates a certificate with the service's own path validation and prints the
verdict, the path it built and the reason code.

  --cert FILE          certificate to check (PEM or DER), one only: the service
                       rejects a bundle as MALFORMED, so put the intermediates
                       in a --chain file
  --chain FILE         intermediate certificates sent with it (PEM bundle); repeatable
  --trust-store live   use the stored trust store and revocation data (needs
                       DYNAMODB_ENDPOINT or AWS credentials, and TABLE_NAME)
  --profile FILE       a CA profile as JSON (the admin API's format); repeatable
  --anchor FILE        a trust anchor (PEM); builds a default profile; repeatable
  --sm2-signer-id ID   SM2 signer ID of the --anchor profile (default
                       1234567812345678, the GM/T 0009 default); a CA that signs
                       under another ID fails with PATH_INVALID without it
  --crl FILE           a CRL (PEM or DER) to use as revocation data; repeatable
  --fetch-crls         also fetch CRLs from the certificates' distribution points
  --ocsp               ask the OCSP responder that a --profile file names
                       (revocation.ocspUrl) before using CRLs, as the service does;
                       the live trust store always does
  --ocsp-url URL       OCSP responder for the --anchor profile; implies --ocsp
  --fail-open          for the --anchor profile, accept a revocation status that
                       cannot be established (failPolicy "open"; the default
                       "closed" rejects it with REVOCATION_UNKNOWN)
  --at TIME            validation time, ISO 8601 (default: now)
  --usage USAGE        bind, login or path (RFC 5280 rules only); default login.
                       bind also finds the credit code as binding does
                       (CREDIT_CODE_MISSING, CREDIT_CODE_INVALID unless the CA
                       profile allows a wrong check character) and prints it.
                       With --trust-store live, login also needs an active
                       binding (NOT_BOUND, BINDING_REVOKED) and prints its credit
                       code, and bind rejects a certificate whose binding was
                       revoked; with files, bindings are not checked
  --cms FILE           a CMS signature (DER or base64) to verify with the certificate
  --content FILE       the signed content for --cms
  --json               print the report as JSON

A certificate or chain file that cannot be parsed is rejected as MALFORMED,
as the service rejects it.

Exit status: 0 valid, 1 rejected, 2 invalid invocation or an unreadable file.`;

/** An invalid invocation: the message is printed with the usage text. */
class UsageError extends Error {}

/** A file that cannot be read or parsed: the message is printed alone. */
class InputError extends Error {}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Certificates as PEM text or DER bytes, decided by the PEM header. */
function certificatesFrom(bytes: Uint8Array, what: string): pkijs.Certificate[] {
  const text = Buffer.from(bytes).toString('latin1');
  return text.includes('-----BEGIN') ? parseCertificates(text, what) : [parseCertificate(bytes, what)];
}

async function fileProfiles(values: { profile?: string[]; anchor?: string[]; 'ocsp-url'?: string; 'fail-open'?: boolean; 'sm2-signer-id'?: string }): Promise<CaProfile[]> {
  const profiles: CaProfile[] = [];
  const { parseCaProfileInput } = await import('../services/ca-profile-input.js');
  for (const path of values.profile ?? []) {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.from(await readInput(path)).toString('utf8'));
    } catch (error) {
      throw new InputError(`${path} is not JSON: ${(error as Error).message}`);
    }
    profiles.push(parseCaProfileInput(body));
  }
  const anchors = (values.anchor ?? []).map(async (path) => certificatesFrom(await readInput(path), path).map(certificatePem));
  const anchorPems = (await Promise.all(anchors)).flat();
  if (anchorPems.length > 0) {
    // The anchors get the checks of the admin API, so an end-entity certificate is not taken for a CA.
    try {
      parseCaProfileInput({ id: 'files', name: 'Anchors given on the command line', anchors: anchorPems });
    } catch (error) {
      throw new InputError(`--anchor: ${(error as Error).message}`);
    }
    const profile = defaultProfile('files', 'Anchors given on the command line', anchorPems);
    if (values['ocsp-url']) {
      try {
        profile.revocation = parseCaProfileInput({ id: 'files', name: profile.name, anchors: anchorPems, revocation: { ocspUrl: values['ocsp-url'] } }).revocation;
      } catch (error) {
        throw new UsageError(`--ocsp-url: ${(error as Error).message}`);
      }
    }
    if (values['sm2-signer-id'] !== undefined) {
      try {
        profile.sm2SignerId = parseCaProfileInput({ id: 'files', name: profile.name, anchors: anchorPems, sm2SignerId: values['sm2-signer-id'] }).sm2SignerId;
      } catch (error) {
        throw new UsageError(`--sm2-signer-id: ${(error as Error).message}`);
      }
    }
    if (values['fail-open']) profile.revocation = { ...profile.revocation, failPolicy: 'open' };
    profiles.push(profile);
  }
  return profiles;
}

/**
 * Revocation data from files first, then (optionally) from distribution points
 * or the live service. OCSP responses come from the first source that queries a responder.
 */
class CombinedRevocationSource implements RevocationSource {
  readonly ocsp?: RevocationSource['ocsp'];

  constructor(private readonly sources: RevocationSource[]) {
    const asker = sources.find((source) => source.ocsp);
    if (asker?.ocsp) this.ocsp = asker.ocsp.bind(asker);
  }

  async crlsFor(...args: Parameters<RevocationSource['crlsFor']>): Promise<ParsedCrl[]> {
    const all = await Promise.all(this.sources.map((source) => source.crlsFor(...args)));
    return all.flat();
  }
}

export async function main(argv: string[]): Promise<number> {
  process.env.LOG_STREAM ??= 'stderr';
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h' || (command === 'verify' && rest.some((arg) => arg === '--help' || arg === '-h'))) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== 'verify') {
    process.stderr.write(`${command ? `unknown command ${JSON.stringify(command)}\n` : ''}${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      cert: { type: 'string' },
      chain: { type: 'string', multiple: true },
      'trust-store': { type: 'string' },
      profile: { type: 'string', multiple: true },
      anchor: { type: 'string', multiple: true },
      crl: { type: 'string', multiple: true },
      'fetch-crls': { type: 'boolean' },
      ocsp: { type: 'boolean' },
      'ocsp-url': { type: 'string' },
      'fail-open': { type: 'boolean' },
      'sm2-signer-id': { type: 'string' },
      at: { type: 'string' },
      usage: { type: 'string' },
      cms: { type: 'string' },
      content: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length > 0) {
    const hint = values.cert || positionals.length > 1 ? 'give each file with its option' : `to check this certificate, use --cert ${positionals[0]}`;
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}; ${hint}`);
  }
  if (!values.cert) throw new UsageError('--cert is required');
  const usage = (values.usage ?? 'login') as Usage;
  if (!['bind', 'login', 'path'].includes(usage)) throw new UsageError(`--usage ${JSON.stringify(values.usage)} is not bind, login or path`);
  const at = values.at ? new Date(values.at) : new Date();
  if (Number.isNaN(at.getTime())) throw new UsageError(`--at ${JSON.stringify(values.at)} is not an ISO 8601 time such as 2026-01-31T12:00:00Z`);
  if (Boolean(values.cms) !== Boolean(values.content)) throw new UsageError('--cms and --content go together');
  if (values['trust-store'] === 'live' && !process.env.DYNAMODB_ENDPOINT && !process.env.AWS_REGION) {
    throw new UsageError('--trust-store live reads the service table: set DYNAMODB_ENDPOINT and TABLE_NAME (for the local service, from .data/service.json), or AWS_REGION and TABLE_NAME for AWS');
  }
  if (values['fail-open'] && !values.anchor) throw new UsageError('--fail-open sets the fail policy of the --anchor profile; give --anchor, or set revocation.failPolicy in the --profile file');
  if (values['sm2-signer-id'] !== undefined && !values.anchor) {
    throw new UsageError('--sm2-signer-id sets the SM2 signer ID of the --anchor profile; give --anchor, or set sm2SignerId in the --profile file');
  }
  if (values['ocsp-url'] && !values.anchor) throw new UsageError('--ocsp-url sets the responder of the --anchor profile; give --anchor, or put revocation.ocspUrl in the --profile file and use --ocsp');

  const leafBytes = await readInput(values.cert);
  const chainFiles = await Promise.all((values.chain ?? []).map(async (path) => ({ path, bytes: await readInput(path) })));
  const crls = await Promise.all((values.crl ?? []).map(async (path) => crlFrom(await readInput(path), path)));
  const sources: RevocationSource[] = [new StaticRevocationSource(crls)];

  let store: TrustStore;
  if (values['trust-store'] === 'live') {
    const { currentTrustStore } = await import('../db/ca-profiles.js');
    const { ServiceRevocationSource } = await import('../services/revocation-source.js');
    store = await currentTrustStore();
    sources.push(new ServiceRevocationSource(store.version));
  } else if (values['trust-store'] !== undefined) {
    throw new UsageError(`--trust-store ${JSON.stringify(values['trust-store'])} is not "live"; give files with --profile or --anchor instead`);
  } else {
    const profiles = await fileProfiles(values);
    if (profiles.length === 0) throw new UsageError('give a trust store: --trust-store live, --profile FILE or --anchor FILE');
    store = new TrustStore(profiles, 0);
    if (values.ocsp || values['ocsp-url']) {
      const { ocspStatus } = await import('../services/ocsp-client.js');
      sources.unshift({ crlsFor: async () => [], ocsp: (cert, issuer, profile, at) => ocspStatus(cert, issuer, profile, at, 0) });
    }
    if (values['fetch-crls']) {
      const { fetchCrl } = await import('../services/revocation-source.js');
      const { crlUrls } = await import('../pki/revocation.js');
      sources.push({
        crlsFor: async (cert, _issuer, profile) => {
          const urls = [...crlUrls(cert), ...profile.revocation.crlUrls];
          const fetched = await Promise.all(urls.map(fetchCrl));
          return fetched.flatMap((result) => (result.crl ? [result.crl] : []));
        },
      });
    }
  }
  let leaf: pkijs.Certificate;
  let chain: pkijs.Certificate[];
  try {
    leaf = leafFrom(leafBytes, values.cert);
    chain = chainFiles.flatMap(({ path, bytes }) => certificatesFrom(bytes, path));
  } catch (error) {
    if (!(error instanceof MalformedInput)) throw error;
    return printReport(malformedReport(error, at, usage), values.json);
  }
  const cms = values.cms
    ? { signature: decodeSignature(await readInput(values.cms)), content: await readInput(values.content!) }
    : undefined;
  let report = await verifyCertificate({ leaf, chain, store, revocation: new CombinedRevocationSource(sources), at, usage, cms });
  if (values['trust-store'] === 'live' && report.verdict === 'valid') report = await checkBinding(report, leaf, usage);
  const signatureFailed = report.code === 'PATH_INVALID' || report.code === 'SIGNATURE_INVALID';
  if (signatureFailed && report.message?.includes('signer ID')) report.hint = SM2_SIGNER_ID_HINT;
  return printReport(report, values.json);
}

const SM2_SIGNER_ID_HINT =
  'if the CA signs under another SM2 signer ID, give that ID with --sm2-signer-id (for --anchor) or as sm2SignerId in a --profile FILE; for --trust-store live, correct sm2SignerId in the CA profile';

/** Print a report on standard output and return the exit status for its verdict. */
function printReport(report: VerifyReport, json: boolean | undefined): number {
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${reportText(report)}\n`);
  return report.verdict === 'valid' ? 0 : 1;
}

/**
 * Apply the binding checks of the service to a valid report: login needs an
 * active binding and uses its credit code, and bind rejects a certificate whose
 * earlier binding was revoked. Path usage has no binding rules.
 */
async function checkBinding(report: VerifyReport, leaf: pkijs.Certificate, usage: Usage): Promise<VerifyReport> {
  try {
    if (usage === 'login') {
      const { activeBindingForLogin } = await import('../services/certificate-login.js');
      const binding = await activeBindingForLogin(leaf);
      return { ...report, creditCode: { code: binding.creditCode, where: 'binding', checkCharacterValid: !binding.creditCodeFlagged } };
    }
    if (usage === 'bind') {
      const { getBinding } = await import('../db/certificates.js');
      const { rejectRevokedBinding } = await import('../services/binding.js');
      const existing = await getBinding(fingerprint(leaf));
      if (existing) rejectRevokedBinding(existing);
    }
    return report;
  } catch (error) {
    if (error instanceof CertificateRejected) return rejectedReport(report, error);
    throw error;
  }
}

/**
 * Parse the certificate to check as the service parses its certificate field.
 * A file with several PEM blocks is rejected, as the service rejects it.
 */
function leafFrom(bytes: Uint8Array, path: string): pkijs.Certificate {
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.includes('-----BEGIN')) return parseCertificate(bytes, path);
  const blocks = text.match(/-----BEGIN [A-Z0-9 ]+-----/g) ?? [];
  if (blocks.length > 1) {
    throw new MalformedInput(path, `it contains ${blocks.length} PEM blocks; the service takes one certificate and the others as the chain, so put the certificate alone in --cert and the others in a file for --chain`);
  }
  return parseCertificate(text, path);
}

/** Parse a CRL file as PEM (-----BEGIN X509 CRL-----) or DER. */
function crlFrom(bytes: Uint8Array, path: string): ParsedCrl {
  const text = Buffer.from(bytes).toString('latin1');
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
  if (label === undefined) return parseCrl(bytes, path);
  if (label !== 'X509 CRL') throw new MalformedInput(path, `PEM label is ${label}, expected X509 CRL`);
  return parseCrl(text, path);
}

/** A signature file as DER, or base64 text of it. */
function decodeSignature(bytes: Uint8Array): Uint8Array {
  const text = Buffer.from(bytes).toString('latin1').trim();
  return /^[A-Za-z0-9+/=\s]+$/.test(text) ? new Uint8Array(Buffer.from(text, 'base64')) : bytes;
}

/**
 * Run the command and print any error: with the usage text for an invalid
 * invocation, as one line otherwise. Returns the exit status.
 */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${message}\n\n${USAGE}\n`);
    } else {
      process.stderr.write(`error: ${message}\n`);
    }
    return 2;
  }
}

const isEntryPoint = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isEntryPoint) process.exit(await run(process.argv.slice(2)));
