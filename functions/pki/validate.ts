import * as pkijs from 'pkijs';
import {
  basicConstraints,
  extendedKeyUsages,
  extension,
  issuerNameHash,
  keyUsages,
  nameToString,
  OID,
  serialHex,
  spkiHash,
  subjectNameHash,
} from './certificate.js';
import { CertificateRejected, type RejectionCode } from './reasons.js';
import type { CaProfile, TrustStore } from './trust-store.js';

/** What the certificate is about to be used for; CA status rules differ between them. */
export type Usage = 'bind' | 'login' | 'sync';

export interface ValidatedPath {
  /** Leaf first, trust anchor last. */
  path: pkijs.Certificate[];
  profile: CaProfile;
  anchorSpkiHash: string;
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
/** Maximum signature verifications while searching for a path, so hostile bundles cannot stall a request. */
const MAX_SIGNATURE_CHECKS = 32;

const describe = (cert: pkijs.Certificate) => ({ subject: nameToString(cert.subject), serial: serialHex(cert) });
const reject = (code: RejectionCode, cert: pkijs.Certificate, rule: string) =>
  new CertificateRejected(code, `certificate "${nameToString(cert.subject)}" (serial ${serialHex(cert)}): ${rule}`, describe(cert));

/**
 * Build and check a path from `leaf` to a trust anchor in `store`, using the
 * certificates the client sent and the store's intermediates. Throws
 * CertificateRejected with a stable code on the first rule the path breaks.
 */
export async function validatePath(
  leaf: pkijs.Certificate,
  supplied: pkijs.Certificate[],
  store: TrustStore,
  options: { at: Date; usage: Usage },
): Promise<ValidatedPath> {
  const budget = { signatureChecks: 0 };
  const candidatesByIssuer = indexBySubject(supplied);
  let lastFailure: CertificateRejected | undefined;

  const search = async (chain: pkijs.Certificate[]): Promise<ValidatedPath | undefined> => {
    const current = chain[chain.length - 1];
    const anchor = store.anchorsBySpki.get(spkiHash(current));
    if (anchor && chain.length > 1) return { path: chain, profile: anchor.profile, anchorSpkiHash: anchor.spkiHash };
    if (anchor && chain.length === 1) {
      lastFailure = reject('PATH_INVALID', current, 'a trust anchor cannot be used as an enterprise certificate');
      return undefined;
    }
    if (chain.length > MAX_DEPTH + 1) {
      lastFailure = reject('PATH_INVALID', leaf, `no trust anchor within ${MAX_DEPTH} CA certificates`);
      return undefined;
    }
    const key = issuerNameHash(current);
    const candidates = [
      ...(store.bySubject.get(key) ?? []).map((entry) => entry.cert),
      ...(candidatesByIssuer.get(key) ?? []),
    ];
    for (const issuer of candidates) {
      if (chain.some((c) => c === issuer || spkiHash(c) === spkiHash(issuer))) continue;
      if (!keyIdentifiersMatch(current, issuer)) continue;
      if (budget.signatureChecks >= MAX_SIGNATURE_CHECKS) {
        lastFailure = reject('PATH_INVALID', leaf, `path search gave up after ${MAX_SIGNATURE_CHECKS} signature checks`);
        return undefined;
      }
      budget.signatureChecks += 1;
      if (!(await verifySignature(current, issuer))) {
        lastFailure = reject('PATH_INVALID', current, `its signature does not verify with the key of "${nameToString(issuer.subject)}"`);
        continue;
      }
      const found = await search([...chain, issuer]);
      if (found) return found;
    }
    return undefined;
  };

  const found = await search([leaf]);
  if (!found) {
    if (lastFailure && lastFailure.code !== 'PATH_INVALID') throw lastFailure;
    if (lastFailure && /signature|gave up|within/.test(lastFailure.message)) throw lastFailure;
    throw reject('UNTRUSTED', leaf, `issuer "${nameToString(leaf.issuer)}" does not lead to a trusted CA`);
  }
  checkPath(found, options);
  return found;
}

function indexBySubject(certs: pkijs.Certificate[]): Map<string, pkijs.Certificate[]> {
  const map = new Map<string, pkijs.Certificate[]>();
  for (const cert of certs) {
    const key = subjectNameHash(cert);
    map.set(key, [...(map.get(key) ?? []), cert]);
  }
  return map;
}

/** Where both carry them, the child's authority key identifier must equal the issuer's subject key identifier. */
function keyIdentifiersMatch(child: pkijs.Certificate, issuer: pkijs.Certificate): boolean {
  const aki = extension(child, OID.authorityKeyIdentifier)?.parsedValue as pkijs.AuthorityKeyIdentifier | undefined;
  const ski = extension(issuer, OID.subjectKeyIdentifier)?.parsedValue as { valueBlock?: { valueHexView: Uint8Array } } | undefined;
  const akiBytes = aki?.keyIdentifier?.valueBlock.valueHexView;
  const skiBytes = ski?.valueBlock?.valueHexView;
  if (!akiBytes || !skiBytes) return true;
  return Buffer.from(akiBytes).equals(Buffer.from(skiBytes));
}

async function verifySignature(cert: pkijs.Certificate, issuer: pkijs.Certificate): Promise<boolean> {
  try {
    return await cert.verify(issuer);
  } catch {
    return false;
  }
}

/** Apply the per-certificate rules of RFC 5280 path validation that this profile needs. */
function checkPath(found: ValidatedPath, options: { at: Date; usage: Usage }): void {
  const { path, profile } = found;
  const leaf = path[0];

  if (profile.status === 'distrusted') {
    throw reject('CA_DISTRUSTED', leaf, `CA "${profile.name}" is distrusted${profile.statusReason ? ` (${profile.statusReason})` : ''}`);
  }
  if (options.usage === 'bind' && profile.status === 'suspended') {
    throw reject('CA_SUSPENDED', leaf, `CA "${profile.name}" is suspended, so no new certificate can be bound${profile.statusReason ? ` (${profile.statusReason})` : ''}`);
  }
  if (options.usage === 'bind' && profile.status === 'retired') {
    throw reject('CA_RETIRED', leaf, `CA "${profile.name}" is retired, so no new certificate can be bound`);
  }

  path.forEach((cert, index) => {
    if (cert.notBefore.value > options.at) {
      throw reject('NOT_YET_VALID', cert, `valid from ${cert.notBefore.value.toISOString()}, checked at ${options.at.toISOString()}`);
    }
    if (cert.notAfter.value < options.at) {
      throw reject('EXPIRED', cert, `expired at ${cert.notAfter.value.toISOString()}, checked at ${options.at.toISOString()}`);
    }
    if (!profile.allowedSignatureAlgorithms.includes(cert.signatureAlgorithm.algorithmId) && index < path.length - 1) {
      throw reject('ALGORITHM_NOT_ALLOWED', cert, `signature algorithm ${cert.signatureAlgorithm.algorithmId} is not allowed by CA profile "${profile.id}"`);
    }
    for (const ext of cert.extensions ?? []) {
      if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(ext.extnID)) {
        throw reject('PATH_INVALID', cert, `unknown critical extension ${ext.extnID}`);
      }
    }
    if ((cert.extensions ?? []).some((ext) => (ext as { parsingError?: string }).parsingError)) {
      throw reject('MALFORMED', cert, 'an extension could not be decoded');
    }
  });

  // Every certificate above the leaf acts as a CA.
  for (let index = 1; index < path.length; index += 1) {
    const ca = path[index];
    const constraints = basicConstraints(ca);
    const isAnchor = index === path.length - 1;
    if (!constraints?.cA && !(isAnchor && isVersion1(ca))) {
      throw reject('PATH_INVALID', ca, 'it issues certificates but basicConstraints does not mark it as a CA');
    }
    const usages = keyUsages(ca);
    if (usages && !usages.has('keyCertSign')) {
      throw reject('PATH_INVALID', ca, 'it issues certificates but its key usage lacks keyCertSign');
    }
    const caBelow = countNonSelfIssuedCas(path, index);
    if (constraints?.pathLenConstraint !== undefined && caBelow > constraints.pathLenConstraint) {
      throw reject('PATH_INVALID', ca, `pathLenConstraint ${constraints.pathLenConstraint} allows fewer CA certificates below it than the ${caBelow} in this path`);
    }
  }

  const leafConstraints = basicConstraints(leaf);
  if (leafConstraints?.cA) throw reject('KEY_USAGE', leaf, 'it is a CA certificate, not an enterprise certificate');
  const usages = keyUsages(leaf);
  if (usages && !usages.has('digitalSignature') && !usages.has('nonRepudiation')) {
    throw reject('KEY_USAGE', leaf, 'its key usage allows neither digitalSignature nor nonRepudiation, so it cannot sign a challenge');
  }
  const purposes = extendedKeyUsages(leaf);
  if (purposes && !purposes.some((p) => p === CLIENT_AUTH || p === ANY_EXTENDED_KEY_USAGE || profile.acceptedExtendedKeyUsages.includes(p))) {
    throw reject('KEY_USAGE', leaf, `its extended key usage (${purposes.join(', ')}) includes neither clientAuth nor one accepted by CA profile "${profile.id}"`);
  }
}

function isVersion1(cert: pkijs.Certificate): boolean {
  return cert.version === 0;
}

/** Count CA certificates strictly between the leaf and path[index] that are not self-issued. */
function countNonSelfIssuedCas(path: pkijs.Certificate[], index: number): number {
  let count = 0;
  for (let i = 1; i < index; i += 1) {
    if (!path[i].subject.isEqual(path[i].issuer)) count += 1;
  }
  return count;
}

export { pkijs };
