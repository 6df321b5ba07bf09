import type * as pkijs from 'pkijs';
import {
  basicConstraints,
  extendedKeyUsages,
  extension,
  fingerprint,
  keyUsages,
  nameToString,
  OID,
  serialHex,
  signatureAlgorithmsMatch,
  spkiHash,
} from './certificate.js';
import { authorityKeyIdentifierOnly, subjectKeyIdentifier } from './extension-fields.js';
import { extensionValueProblem } from './extension-values.js';
import { isSelfIssued, nameKey } from './names.js';
import { CertificateRejected, type RejectionCode } from './reasons.js';
import { revocationStatus, type RevocationSource } from './revocation.js';
import { ALGORITHM_OID, UnsupportedAlgorithm, publicKeyDetails, verifySignature } from './signature.js';
import type { CaProfile, TrustStore, TrustedCertificate } from './trust-store.js';
import { log } from '../lib/log.js';

/**
 * What the certificate is about to be used for. CA status rules differ between
 * bind and login; `path` applies RFC 5280 path validation only, without the
 * rules for enterprise certificates (used by conformance tests and the CLI).
 */
export type Usage = 'bind' | 'login' | 'sync' | 'path';

export interface ValidationOptions {
  at: Date;
  usage: Usage;
  /** Revocation data for every certificate below the anchor. */
  revocation: RevocationSource;
  /** Reuse CA paths validated earlier by this instance (the service sets this; a check at another time must not). */
  useIssuerCache?: boolean;
  /** When set, only paths whose anchor belongs to one of these CA profiles are checked. */
  anchorProfiles?: ReadonlySet<string>;
}

export interface RevocationOutcome {
  subject: string;
  serial: string;
  status: 'good' | 'unknown-accepted';
  detail: string;
}

export interface ValidatedPath {
  /** Leaf first, trust anchor last. */
  path: pkijs.Certificate[];
  profile: CaProfile;
  anchorSpkiHash: string;
  revocation: RevocationOutcome[];
  /** True when the CA part of the path came from the validated-issuer cache. */
  issuerCached: boolean;
}

/** Extensions this validator understands; any other extension marked critical is rejected. */
const UNDERSTOOD_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
  OID.certificatePolicies,
  OID.subjectAltName,
  OID.issuerAltName,
]);

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/** Maximum number of CA certificates between leaf and anchor. */
const MAX_DEPTH = 6;
/** Limits on path search, so a hostile bundle cannot stall a request: signature checks, search nodes and candidate paths. */
const MAX_SIGNATURE_CHECKS = 32;
const MAX_SEARCH_NODES = 64;
const MAX_CANDIDATE_PATHS = 8;

const DSA_ALGORITHMS: string[] = [ALGORITHM_OID.dsaWithSha1, ALGORITHM_OID.dsaWithSha256];

const describe = (cert: pkijs.Certificate) => ({ subject: nameToString(cert.subject), serial: serialHex(cert) });
const reject = (code: RejectionCode, cert: pkijs.Certificate, rule: string) =>
  new CertificateRejected(code, `certificate "${nameToString(cert.subject)}" (serial ${serialHex(cert)}): ${rule}`, describe(cert));

interface Budget {
  signatureChecks: number;
}

interface CandidatePath {
  path: pkijs.Certificate[];
  anchor: TrustedCertificate;
  /** Certificates from this index up were validated earlier and come from the issuer cache. */
  trustedFrom: number;
}

/**
 * Build and check a path from `leaf` to a trust anchor in `store`, using the
 * certificates the client sent and the store's intermediates. Throws
 * CertificateRejected with a stable code for the rule the best candidate path breaks.
 */
export async function validatePath(leaf: pkijs.Certificate, supplied: pkijs.Certificate[], store: TrustStore, options: ValidationOptions): Promise<ValidatedPath> {
  const budget: Budget = { signatureChecks: 0 };
  if (store.anchorsBySpki.has(spkiHash(leaf))) throw reject('PATH_INVALID', leaf, 'a trust anchor cannot be used as an end-entity certificate');

  const allowed = (candidate: CandidatePath) => !options.anchorProfiles || options.anchorProfiles.has(candidate.anchor.profile.id);
  if (options.useIssuerCache) {
    for (const candidate of cachedCandidates(leaf, supplied, store, options.at).filter(allowed)) {
      try {
        return await checkCandidate(candidate, options, budget, store);
      } catch (error) {
        if (!(error instanceof CertificateRejected)) throw error;
      }
    }
  }

  const candidates = buildCandidatePaths(leaf, supplied, store, options.at).filter(allowed);
  if (candidates.length === 0) throw reject('UNTRUSTED', leaf, `issuer "${nameToString(leaf.issuer)}" does not lead to a trusted CA`);
  let firstFailure: CertificateRejected | undefined;
  for (const candidate of candidates) {
    try {
      return await checkCandidate(candidate, options, budget, store);
    } catch (error) {
      if (!(error instanceof CertificateRejected)) throw error;
      // Not enumerable, so logging the error does not dump whole certificates.
      if (!error.path) Object.defineProperty(error, 'path', { value: candidate.path, enumerable: false, writable: true });
      firstFailure ??= error;
    }
  }
  throw firstFailure!;
}

/**
 * Return the ids of the CA profiles whose anchors the leaf can chain to by
 * issuer name and authority key identifier, using the supplied certificates
 * and the store's intermediates. Signatures and every other rule are not
 * checked yet, so a profile in the result is only a possible anchor.
 */
export function candidateAnchorProfiles(leaf: pkijs.Certificate, supplied: pkijs.Certificate[], store: TrustStore, at: Date): Set<string> {
  return new Set(buildCandidatePaths(leaf, supplied, store, at).map((candidate) => candidate.anchor.profile.id));
}

function candidateIssuers(cert: pkijs.Certificate, suppliedBySubject: Map<string, pkijs.Certificate[]>, store: TrustStore, at: Date): pkijs.Certificate[] {
  const key = nameKey(cert.issuer);
  const seen = new Set<string>();
  const all = [...(store.bySubject.get(key) ?? []).map((entry) => entry.cert), ...(suppliedBySubject.get(key) ?? [])].filter((issuer) => {
    const id = fingerprint(issuer);
    if (seen.has(id)) return false;
    seen.add(id);
    return keyIdentifiersMatch(cert, issuer);
  });
  // Prefer issuers that are valid at the validation time, keeping the store's order otherwise.
  const current = (c: pkijs.Certificate) => c.notBefore.value <= at && at <= c.notAfter.value;
  return [...all.filter(current), ...all.filter((c) => !current(c))];
}

/** Enumerate name-chained paths from the leaf to an anchor (depth-first), without checking signatures yet. */
function buildCandidatePaths(leaf: pkijs.Certificate, supplied: pkijs.Certificate[], store: TrustStore, at: Date): CandidatePath[] {
  const suppliedBySubject = new Map<string, pkijs.Certificate[]>();
  for (const cert of supplied) {
    const key = nameKey(cert.subject);
    suppliedBySubject.set(key, [...(suppliedBySubject.get(key) ?? []), cert]);
  }
  const paths: CandidatePath[] = [];
  let nodes = 0;
  const walk = (chain: pkijs.Certificate[], keys: Set<string>) => {
    if (paths.length >= MAX_CANDIDATE_PATHS || nodes >= MAX_SEARCH_NODES) return;
    nodes += 1;
    const current = chain[chain.length - 1];
    if (chain.length > 1) {
      const anchor = store.anchorsBySpki.get(spkiHash(current));
      if (anchor) {
        paths.push({ path: [...chain.slice(0, -1), anchor.cert], anchor, trustedFrom: chain.length });
        return;
      }
    }
    if (chain.length > MAX_DEPTH + 1) return;
    for (const issuer of candidateIssuers(current, suppliedBySubject, store, at)) {
      const id = `${spkiHash(issuer)}|${nameKey(issuer.subject)}`;
      if (keys.has(id)) continue;
      walk([...chain, issuer], new Set([...keys, id]));
    }
  };
  walk([leaf], new Set([`${spkiHash(leaf)}|${nameKey(leaf.subject)}`]));
  return paths;
}

/** Check that the child's authority key identifier equals the issuer's subject key identifier, where both carry one. */
function keyIdentifiersMatch(child: pkijs.Certificate, issuer: pkijs.Certificate): boolean {
  const akiExtension = extension(child, OID.authorityKeyIdentifier);
  const skiExtension = extension(issuer, OID.subjectKeyIdentifier);
  if (!akiExtension || !skiExtension) return true;
  const akiBytes = authorityKeyIdentifierOnly(akiExtension) ?? (akiExtension.parsedValue as pkijs.AuthorityKeyIdentifier | undefined)?.keyIdentifier?.valueBlock.valueHexView;
  const skiBytes = subjectKeyIdentifier(skiExtension) ?? (skiExtension.parsedValue as { valueBlock?: { valueHexView: Uint8Array } } | undefined)?.valueBlock?.valueHexView;
  if (!akiBytes || !skiBytes) return true;
  return Buffer.from(akiBytes).equals(Buffer.from(skiBytes));
}

/** Check one candidate path completely, from the anchor down, then record its CA part in the issuer cache. */
async function checkCandidate(candidate: CandidatePath, options: ValidationOptions, budget: Budget, store: TrustStore): Promise<ValidatedPath> {
  const { path, anchor, trustedFrom } = candidate;
  const profile = anchor.profile;
  const leaf = path[0];
  const anchorIndex = path.length - 1;

  for (let index = Math.min(trustedFrom, anchorIndex) - 1; index >= 0; index -= 1) {
    checkSignature(path[index], path[index + 1], profile, budget);
  }
  checkCaStatus(profile, leaf, options.usage);
  for (let index = 0; index < Math.min(trustedFrom, path.length); index += 1) {
    checkCertificate(path[index], index === anchorIndex, profile, options.at);
  }
  for (let index = 1; index < Math.min(trustedFrom, path.length); index += 1) {
    checkCaCertificate(path, index);
  }
  if (options.usage !== 'path') checkEnterpriseCertificate(leaf, profile);

  const revocation: RevocationOutcome[] = [];
  let revocationUntil = Infinity;
  for (let index = Math.min(trustedFrom, anchorIndex) - 1; index >= 0; index -= 1) {
    const cert = path[index];
    const sameCa = path.slice(index + 2).filter((other) => nameKey(other.subject) === nameKey(cert.issuer));
    const status = await revocationStatus(cert, [path[index + 1], ...sameCa], profile, options.at, options.revocation);
    if (status.status === 'revoked' && status.reason === 'certificateHold') {
      // A hold is temporary (RFC 5280 section 5.3.1), so it refuses the certificate without ending its binding.
      throw reject('CERTIFICATE_ON_HOLD', cert, `on hold since ${status.revocationDate.toISOString()} (${status.source}); ask the CA to release the hold, or use another certificate`);
    }
    if (status.status === 'revoked') {
      const error = reject('REVOKED', cert, `revoked on ${status.revocationDate.toISOString()} (reason: ${status.reason}; ${status.source})`);
      error.revokedVia = status.via;
      throw error;
    }
    if (status.status === 'unknown') {
      const detail = status.problems.join('; ');
      if (profile.revocation.failPolicy === 'closed') {
        throw reject('REVOCATION_UNKNOWN', cert, `revocation status cannot be established (${detail}); CA profile "${profile.id}" requires it`);
      }
      warnUnknownAccepted(profile.id, describe(cert), detail);
      revocation.push({ ...describe(cert), status: 'unknown-accepted', detail });
      if (index > 0) revocationUntil = -Infinity;
    } else {
      const notes = status.notes ? `; OCSP not used: ${status.notes.join('; ')}` : '';
      revocation.push({ ...describe(cert), status: 'good', detail: `${status.source}${notes}` });
      if (index > 0) revocationUntil = Math.min(revocationUntil, status.until.getTime());
    }
  }

  if (trustedFrom > 1 && path.length > 1) rememberIssuerPath(store, path.slice(1), anchor, revocationUntil);
  return { path, profile, anchorSpkiHash: anchor.spkiHash, revocation, issuerCached: trustedFrom <= 1 };
}

function checkSignature(cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, budget: Budget): void {
  const algorithm = cert.signatureAlgorithm.algorithmId;
  if (!profile.allowedSignatureAlgorithms.includes(algorithm)) {
    throw reject('ALGORITHM_NOT_ALLOWED', cert, `signature algorithm ${algorithm} is not allowed by CA profile "${profile.id}"`);
  }
  if (!signatureAlgorithmsMatch(cert)) throw reject('MALFORMED', cert, 'the signature algorithm inside the signed part differs from the outer one');
  if (budget.signatureChecks >= MAX_SIGNATURE_CHECKS) {
    throw reject('PATH_INVALID', cert, `path search stopped after ${MAX_SIGNATURE_CHECKS} signature checks; send the certificate with its own chain only`);
  }
  budget.signatureChecks += 1;
  let valid: boolean;
  try {
    valid =
      cert.signatureValue.valueBlock.unusedBits === 0 &&
      verifySignature({ data: cert.tbsView, signature: cert.signatureValue.valueBlock.valueHexView, spki: issuer.subjectPublicKeyInfo, algorithm: cert.signatureAlgorithm, sm2SignerId: profile.sm2SignerId });
  } catch (error) {
    if (!(error instanceof UnsupportedAlgorithm)) throw error;
    throw reject('ALGORITHM_NOT_ALLOWED', cert, error.message);
  }
  if (!valid) {
    // An SM2 signature verifies only under the signer ID the CA signed with, so a wrong sm2SignerId looks like a bad signature.
    const signerId = algorithm === ALGORITHM_OID.sm2WithSm3 ? ` under SM2 signer ID "${profile.sm2SignerId}" (sm2SignerId of CA profile "${profile.id}")` : '';
    throw reject('PATH_INVALID', cert, `its signature does not verify with the key of "${nameToString(issuer.subject)}"${signerId}`);
  }
}

/** How often the same accepted unknown revocation status is logged again, per CA and certificate. */
const UNKNOWN_ACCEPTED_LOG_INTERVAL_MS = 60_000;
const unknownAcceptedLogged = new Map<string, number>();

/**
 * Log that an open fail policy accepted an unknown revocation status, once a
 * minute per certificate in this instance, so a CA whose CRL cannot be fetched
 * does not fill the log with one line per login.
 */
function warnUnknownAccepted(caId: string, certificate: { subject: string; serial: string }, detail: string): void {
  const key = `${caId} ${certificate.serial} ${certificate.subject}`;
  const now = Date.now();
  if ((unknownAcceptedLogged.get(key) ?? 0) > now - UNKNOWN_ACCEPTED_LOG_INTERVAL_MS) return;
  if (unknownAcceptedLogged.size >= 10_000) unknownAcceptedLogged.clear();
  unknownAcceptedLogged.set(key, now);
  log.warn('revocation status unknown, accepted by open fail policy', { caId, ...certificate, detail });
}

function checkCaStatus(profile: CaProfile, leaf: pkijs.Certificate, usage: Usage): void {
  const reason = profile.statusReason ? ` (${profile.statusReason})` : '';
  if (profile.status === 'distrusted') throw reject('CA_DISTRUSTED', leaf, `CA "${profile.name}" is distrusted${reason}, so none of its certificates can be used`);
  if (usage === 'bind' && profile.status === 'suspended') {
    throw reject('CA_SUSPENDED', leaf, `CA "${profile.name}" is suspended${reason}, so no new certificate can be bound; bound certificates still work`);
  }
  if (usage === 'bind' && profile.status === 'retired') {
    throw reject('CA_RETIRED', leaf, `CA "${profile.name}" is retired${reason}, so no new certificate can be bound; bound certificates work until they expire`);
  }
}

/** Rules for every certificate in the path: validity, version, extensions, key type and size. */
function checkCertificate(cert: pkijs.Certificate, isAnchor: boolean, profile: CaProfile, at: Date): void {
  if (cert.notBefore.value > at) throw reject('NOT_YET_VALID', cert, `valid from ${cert.notBefore.value.toISOString()}, checked at ${at.toISOString()}`);
  if (cert.notAfter.value < at) throw reject('EXPIRED', cert, `expired at ${cert.notAfter.value.toISOString()}, checked at ${at.toISOString()}`);
  const extensions = cert.extensions ?? [];
  if (extensions.length > 0 && cert.version !== 2) throw reject('MALFORMED', cert, `a version ${cert.version + 1} certificate must not carry extensions`);
  const seen = new Set<string>();
  for (const ext of extensions) {
    if (seen.has(ext.extnID)) throw reject('MALFORMED', cert, `extension ${ext.extnID} appears twice`);
    seen.add(ext.extnID);
    const problem = isAnchor ? undefined : extensionValueProblem(ext);
    if (problem) throw reject('MALFORMED', cert, `extension ${ext.extnID} is malformed: ${problem}`);
    if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(ext.extnID) && !isAnchor) throw reject('PATH_INVALID', cert, `unknown critical extension ${ext.extnID}`);
  }
  checkKey(cert, profile);
}

function checkKey(cert: pkijs.Certificate, profile: CaProfile): void {
  let details: ReturnType<typeof publicKeyDetails>;
  try {
    details = publicKeyDetails(cert.subjectPublicKeyInfo);
  } catch (error) {
    if (error instanceof UnsupportedAlgorithm) throw reject('ALGORITHM_NOT_ALLOWED', cert, error.message);
    throw error;
  }
  const bits = profile.rsaKeyBits ?? { min: 2048, max: 4096 };
  if (details.type === 'rsa' && (!details.bits || details.bits < bits.min || details.bits > bits.max)) {
    throw reject('ALGORITHM_NOT_ALLOWED', cert, `its RSA key has ${details.bits} bits; CA profile "${profile.id}" accepts ${bits.min} to ${bits.max}`);
  }
  if (details.type === 'ec' && details.curve !== ALGORITHM_OID.p256 && details.curve !== ALGORITHM_OID.p384) {
    throw reject('ALGORITHM_NOT_ALLOWED', cert, `its key is on curve ${details.curve ?? '(unnamed)'}; P-256, P-384 and SM2 are accepted`);
  }
  if (details.type === 'dsa' && !profile.allowedSignatureAlgorithms.some((oid) => DSA_ALGORITHMS.includes(oid))) {
    throw reject('ALGORITHM_NOT_ALLOWED', cert, `DSA keys are not allowed by CA profile "${profile.id}"`);
  }
  if (details.type === 'other') throw reject('ALGORITHM_NOT_ALLOWED', cert, 'its key type is not RSA, ECDSA or SM2');
}

/** Rules for a certificate that issues the one below it (RFC 5280 section 6.1.4). */
function checkCaCertificate(path: pkijs.Certificate[], index: number): void {
  const ca = path[index];
  const isAnchor = index === path.length - 1;
  const constraints = basicConstraints(ca);
  if (!constraints?.cA && !(isAnchor && ca.version === 0)) {
    throw reject('PATH_INVALID', ca, 'it issues certificates but basicConstraints does not mark it as a CA');
  }
  const usages = keyUsages(ca);
  if (usages && !usages.has('keyCertSign')) throw reject('PATH_INVALID', ca, 'it issues certificates but its key usage lacks keyCertSign');
  const pathLen = constraints?.pathLenConstraint;
  if (pathLen !== undefined) {
    const below = nonSelfIssuedCasBelow(path, index);
    if (below > pathLen) throw reject('PATH_INVALID', ca, `pathLenConstraint ${pathLen} allows fewer CA certificates below it than the ${below} in this path`);
  }
}

/** Count non-self-issued CA certificates strictly between the leaf and path[index]. */
function nonSelfIssuedCasBelow(path: pkijs.Certificate[], index: number): number {
  let count = 0;
  for (let i = 1; i < index; i += 1) if (!isSelfIssued(path[i])) count += 1;
  return count;
}

/** Rules for a certificate that an enterprise signs challenges with. */
function checkEnterpriseCertificate(leaf: pkijs.Certificate, profile: CaProfile): void {
  if (basicConstraints(leaf)?.cA) throw reject('KEY_USAGE', leaf, 'it is a CA certificate, not an enterprise certificate');
  const usages = keyUsages(leaf);
  if (usages && !usages.has('digitalSignature') && !usages.has('nonRepudiation')) {
    throw reject('KEY_USAGE', leaf, 'its key usage allows neither digitalSignature nor nonRepudiation, so it cannot sign a challenge');
  }
  const purposes = extendedKeyUsages(leaf);
  if (purposes && !purposes.some((p) => p === CLIENT_AUTH || p === ANY_EXTENDED_KEY_USAGE || profile.acceptedExtendedKeyUsages.includes(p))) {
    throw reject('KEY_USAGE', leaf, `its extended key usage (${purposes.join(', ')}) includes neither clientAuth nor one accepted by CA profile "${profile.id}"`);
  }
}

interface CachedIssuerPath {
  version: number;
  path: pkijs.Certificate[];
  anchor: TrustedCertificate;
  validFrom: number;
  validUntil: number;
}

/** Validated CA paths by the fingerprint of their first certificate: the issuer of the leaves that follow. */
const issuerCache = new Map<string, CachedIssuerPath>();
const MAX_CACHED_ISSUERS = 1024;

function rememberIssuerPath(store: TrustStore, path: pkijs.Certificate[], anchor: TrustedCertificate, revocationUntil: number): void {
  const validUntil = Math.min(revocationUntil, ...path.map((cert) => cert.notAfter.value.getTime()));
  if (!(validUntil > Date.now())) return;
  if (issuerCache.size >= MAX_CACHED_ISSUERS) issuerCache.clear();
  issuerCache.set(fingerprint(path[0]), {
    version: store.version,
    path,
    anchor,
    validFrom: Math.max(...path.map((cert) => cert.notBefore.value.getTime())),
    validUntil,
  });
}

function cachedCandidates(leaf: pkijs.Certificate, supplied: pkijs.Certificate[], store: TrustStore, at: Date): CandidatePath[] {
  const suppliedBySubject = new Map<string, pkijs.Certificate[]>();
  for (const cert of supplied) {
    const key = nameKey(cert.subject);
    suppliedBySubject.set(key, [...(suppliedBySubject.get(key) ?? []), cert]);
  }
  const candidates: CandidatePath[] = [];
  for (const issuer of candidateIssuers(leaf, suppliedBySubject, store, at)) {
    const cached = issuerCache.get(fingerprint(issuer));
    if (!cached || cached.version !== store.version) continue;
    if (at.getTime() < cached.validFrom || at.getTime() > cached.validUntil) continue;
    candidates.push({ path: [leaf, ...cached.path], anchor: cached.anchor, trustedFrom: 1 });
  }
  return candidates;
}

/** Forget every validated issuer (benchmarks of a cold start, tests). */
export function clearIssuerCache(): void {
  issuerCache.clear();
}
