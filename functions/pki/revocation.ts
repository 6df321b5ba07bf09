import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { basicConstraints, extension, keyUsages, nameToString, OID, serialHex, sha256Hex, spkiHash } from './certificate.js';
import { splitCrl, type CrlEntry } from './crl-entries.js';
import { MalformedInput, base64ToBytes, parseSingleDer } from './der.js';
import { nameKey, namesEqual } from './names.js';
import { UnsupportedAlgorithm, verifySignature } from './signature.js';
import type { CaProfile } from './trust-store.js';

export const CRL_OID = {
  crlNumber: '2.5.29.20',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCrl: '2.5.29.46',
  authorityKeyIdentifier: '2.5.29.35',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29',
} as const;

const UNDERSTOOD_CRL_EXTENSIONS = new Set<string>([CRL_OID.crlNumber, CRL_OID.deltaCrlIndicator, CRL_OID.issuingDistributionPoint, CRL_OID.freshestCrl, CRL_OID.authorityKeyIdentifier]);
const UNDERSTOOD_ENTRY_EXTENSIONS = new Set<string>([CRL_OID.reasonCode, CRL_OID.invalidityDate]);

/** CRL reason codes (RFC 5280 section 5.3.1) by value. */
export const CRL_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;

/** A parsed CRL with the bytes it came from, so its hash can identify it. */
export interface ParsedCrl {
  /** The CRL without its revokedCertificates field, which `entries` holds. */
  crl: pkijs.CertificateRevocationList;
  der: Uint8Array;
  /** The signed part (tbsCertList) as it came. */
  tbs: Uint8Array;
  sha256: string;
  /** Revoked serials (hex of the DER INTEGER content) to their entries. */
  entries: Map<string, CrlEntry>;
}

/** Decode a CRL given as PEM, base64 or DER; exactly one DER value is accepted. */
export function parseCrl(input: string | Uint8Array, what = 'CRL'): ParsedCrl {
  // Some CAs serve their CRL as PEM text although RFC 5280 section 4.2.1.13 requires DER.
  if (typeof input !== 'string' && Buffer.from(input.subarray(0, 11)).toString('latin1') === '-----BEGIN ') input = Buffer.from(input).toString('latin1');
  let der: Uint8Array;
  if (typeof input === 'string') {
    const pem = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(input);
    const otherLabel = pem ? undefined : /-----BEGIN ([A-Z0-9 ]+)-----/.exec(input)?.[1];
    if (otherLabel) throw new MalformedInput(what, `PEM label is ${otherLabel}, expected X509 CRL; send the CRL, not a ${otherLabel.toLowerCase()}`);
    der = base64ToBytes(pem ? pem[1] : input, what);
  } else {
    der = input;
  }
  const { entries, tbs, withoutEntries } = splitCrl(der, what);
  const schema = parseSingleDer(withoutEntries, what);
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = new pkijs.CertificateRevocationList({ schema });
  } catch (error) {
    throw new MalformedInput(what, `not an X.509 CRL (${(error as Error).message})`);
  }
  return { crl, der, tbs, sha256: sha256Hex(der), entries };
}

/** The serial number's exact DER content octets, so 00FF (255) and FF (-1) stay distinct. */
function serialKey(serial: { valueBlock: { valueHexView: Uint8Array } }): string {
  return Buffer.from(serial.valueBlock.valueHexView).toString('hex').toUpperCase();
}

export type CrlVerdict =
  | { status: 'good'; nextUpdate: Date; crl: ParsedCrl }
  | { status: 'revoked'; reason: string; revocationDate: Date; crl: ParsedCrl }
  /** The CRL does not apply to this certificate (scope) or cannot be trusted, for the reason in `problem`. */
  | { status: 'unusable'; problem: string };

const verifiedSignatures = new Map<string, boolean>();
const MAX_VERIFIED_SIGNATURES = 4096;

/**
 * Check `cert` against one CRL that claims to be from `issuer` (RFC 5280
 * section 6.3, without delta CRLs or indirect CRLs). The CRL counts only if it
 * names the issuer, is signed by the issuer's key with an algorithm the CA
 * profile allows, the issuer may sign CRLs, thisUpdate <= at <= nextUpdate, its
 * scope covers the certificate and it has no critical extension this service
 * does not process.
 */
export function checkCrl(cert: pkijs.Certificate, issuers: pkijs.Certificate[], parsed: ParsedCrl, profile: CaProfile, at: Date): CrlVerdict {
  const { crl } = parsed;
  if (!namesEqual(crl.issuer, cert.issuer)) return { status: 'unusable', problem: `CRL issuer "${nameToString(crl.issuer)}" is not the certificate's issuer` };
  const algorithm = crl.signatureAlgorithm.algorithmId;
  if (!profile.allowedSignatureAlgorithms.includes(algorithm)) {
    return { status: 'unusable', problem: `CRL signature algorithm ${algorithm} is not allowed by CA profile "${profile.id}"` };
  }
  const signer = issuers.find((issuer) => crlSignatureValid(parsed, issuer, profile));
  if (!signer) return { status: 'unusable', problem: `the CRL signature does not verify with the key of "${nameToString(issuers[0].subject)}"` };
  const usages = keyUsages(signer);
  if (usages && !usages.has('cRLSign')) return { status: 'unusable', problem: `issuer "${nameToString(signer.subject)}" may not sign CRLs (its key usage lacks cRLSign)` };

  for (const ext of crl.crlExtensions?.extensions ?? []) {
    if (ext.critical && !UNDERSTOOD_CRL_EXTENSIONS.has(ext.extnID)) return { status: 'unusable', problem: `the CRL has an unknown critical extension ${ext.extnID}` };
  }
  const crlExtension = (oid: string) => crl.crlExtensions?.extensions.find((ext) => ext.extnID === oid);
  if (crlExtension(CRL_OID.deltaCrlIndicator)) return { status: 'unusable', problem: 'it is a delta CRL, and delta CRLs are not used' };
  const scope = scopeProblem(cert, crl.issuer, crlExtension(CRL_OID.issuingDistributionPoint));
  if (scope) return { status: 'unusable', problem: scope };

  const thisUpdate = crl.thisUpdate.value;
  const nextUpdate = crl.nextUpdate?.value;
  if (thisUpdate > at) return { status: 'unusable', problem: `the CRL is issued for ${thisUpdate.toISOString()}, after the validation time ${at.toISOString()}` };
  if (!nextUpdate) return { status: 'unusable', problem: 'the CRL has no nextUpdate, so its freshness cannot be judged' };
  if (nextUpdate < at) return { status: 'unusable', problem: `the CRL is stale: its nextUpdate ${nextUpdate.toISOString()} is before ${at.toISOString()}` };

  const entry = parsed.entries.get(serialKey(cert.serialNumber));
  if (!entry) return { status: 'good', nextUpdate, crl: parsed };
  const unknown = entry.criticalExtensions.find((oid) => !UNDERSTOOD_ENTRY_EXTENSIONS.has(oid));
  if (unknown) return { status: 'unusable', problem: `the CRL entry for serial ${serialHex(cert)} has an unknown critical extension ${unknown}` };
  const reason = reasonName(entry);
  if (reason === 'removeFromCRL') return { status: 'good', nextUpdate, crl: parsed };
  return { status: 'revoked', reason, revocationDate: entry.revocationDate, crl: parsed };
}

/** Name the reason of a CRL entry: its reasonCode, or unspecified without one (RFC 5280 section 5.3.1). */
export function reasonName(entry: CrlEntry): string {
  const code = entry.reasonCode ?? 0;
  return CRL_REASONS[code] ?? `reason ${code}`;
}

/** Find the first of `candidates` whose name is the CRL issuer and whose key signed the CRL with an allowed algorithm. */
export function checkCrlSignature(parsed: ParsedCrl, candidates: pkijs.Certificate[], profile: CaProfile): pkijs.Certificate | undefined {
  if (!profile.allowedSignatureAlgorithms.includes(parsed.crl.signatureAlgorithm.algorithmId)) return undefined;
  return candidates.find((cert) => namesEqual(cert.subject, parsed.crl.issuer) && crlSignatureValid(parsed, cert, profile));
}

function crlSignatureValid(parsed: ParsedCrl, issuer: pkijs.Certificate, profile: CaProfile): boolean {
  const key = `${parsed.sha256}|${spkiHash(issuer)}|${profile.sm2SignerId}`;
  const cached = verifiedSignatures.get(key);
  if (cached !== undefined) return cached;
  let valid: boolean;
  try {
    valid =
      parsed.crl.signatureValue.valueBlock.unusedBits === 0 &&
      verifySignature({
        data: parsed.tbs,
        signature: parsed.crl.signatureValue.valueBlock.valueHexView,
        spki: issuer.subjectPublicKeyInfo,
        algorithm: parsed.crl.signatureAlgorithm,
        sm2SignerId: profile.sm2SignerId,
      });
  } catch (error) {
    if (!(error instanceof UnsupportedAlgorithm)) throw error;
    valid = false;
  }
  if (verifiedSignatures.size >= MAX_VERIFIED_SIGNATURES) verifiedSignatures.clear();
  verifiedSignatures.set(key, valid);
  return valid;
}

/** Forget verified CRL signatures (benchmarks of a cold start). */
export function clearCrlSignatureCache(): void {
  verifiedSignatures.clear();
}

/** Explain why an issuingDistributionPoint excludes `cert` from the CRL, or return undefined when it covers it. */
function scopeProblem(cert: pkijs.Certificate, crlIssuer: pkijs.RelativeDistinguishedNames, idpExtension: pkijs.Extension | undefined): string | undefined {
  if (!idpExtension) return undefined;
  const idp = idpExtension.parsedValue as pkijs.IssuingDistributionPoint | undefined;
  if (!idp) return 'the CRL issuingDistributionPoint extension cannot be decoded';
  if (idp.indirectCRL) return 'it is an indirect CRL, and indirect CRLs are not used';
  if (idp.onlySomeReasons !== undefined) return 'it covers only some revocation reasons, and partitioned CRLs are not used';
  if (idp.onlyContainsAttributeCerts) return 'it covers only attribute certificates';
  const isCa = Boolean(basicConstraints(cert)?.cA);
  if (idp.onlyContainsUserCerts && isCa) return 'it covers only end-entity certificates, and this is a CA certificate';
  if (idp.onlyContainsCACerts && !isCa) return 'it covers only CA certificates, and this is an end-entity certificate';
  if (idp.distributionPoint === undefined && hasContextElement(idpExtension, 0)) {
    return 'the CRL issuingDistributionPoint names a distribution point in a form that cannot be decoded';
  }
  const idpNames = distributionPointNames(idp.distributionPoint, crlIssuer);
  if (idpNames.length === 0) return undefined;
  const certPoints = crlDistributionPoints(cert);
  if (certPoints && certPoints.length === 0) return 'the certificate CRL distribution points cannot be decoded';
  // Without CRL distribution points, the certificate is covered by a CRL whose distribution point is its issuer's name.
  const certNames = certPoints
    ? certPoints.flatMap((dp) => distributionPointNames(dp.distributionPoint, crlIssuer))
    : [`4:${nameKey(cert.issuer)}`];
  if (!idpNames.some((name) => certNames.includes(name))) return 'the CRL is for another distribution point than the certificate names';
  return undefined;
}

/** Check whether the extension value (a SEQUENCE) contains an element with context tag [tag]. */
function hasContextElement(ext: pkijs.Extension, tag: number): boolean {
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  const items = (parsed.result as asn1js.Sequence).valueBlock?.value;
  return Array.isArray(items) && items.some((item) => item.idBlock.tagClass === 3 && item.idBlock.tagNumber === tag);
}

/** Comparable names of a distribution point: URIs as text, directory names (including names relative to the CRL issuer) by nameKey. */
function distributionPointNames(point: pkijs.DistributionPoint['distributionPoint'] | undefined, crlIssuer: pkijs.RelativeDistinguishedNames): string[] {
  if (!point) return [];
  if (!Array.isArray(point)) return [`4:${nameKey(crlIssuer)}\u0000${nameKey(point)}`];
  return point.map((name) => {
    if (name.type === 4) return `4:${nameKey(name.value as pkijs.RelativeDistinguishedNames)}`;
    if (typeof name.value === 'string') return `${name.type}:${name.value}`;
    return `${name.type}:${Buffer.from(name.value.toSchema().toBER(false)).toString('hex')}`;
  });
}

export function crlDistributionPoints(cert: pkijs.Certificate): pkijs.DistributionPoint[] | undefined {
  const ext = extension(cert, OID.crlDistributionPoints);
  return (ext?.parsedValue as pkijs.CRLDistributionPoints | undefined)?.distributionPoints;
}

/** HTTP(S) URLs of the certificate's CRL distribution points. */
export function crlUrls(cert: pkijs.Certificate): string[] {
  return (crlDistributionPoints(cert) ?? [])
    .flatMap((dp) => (Array.isArray(dp.distributionPoint) ? dp.distributionPoint : []))
    .filter((name) => name.type === 6 && typeof name.value === 'string' && /^https?:\/\//i.test(name.value))
    .map((name) => name.value as string);
}

/** Source of a path's revocation data: files, pushed CRLs, distribution points or an OCSP responder. */
export interface RevocationSource {
  /** CRLs that may cover `cert`, whose issuer is `issuer`. */
  crlsFor(cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, at: Date): Promise<ParsedCrl[]>;
  /** Status from the profile's OCSP responder, when it has one. */
  ocsp?(cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, at: Date): Promise<RevocationStatus | undefined>;
}

export type RevocationStatus =
  /** `notes` lists why sources tried before `source` (an OCSP responder) did not decide. */
  | { status: 'good'; source: string; until: Date; notes?: string[] }
  | { status: 'revoked'; source: string; reason: string; revocationDate: Date; via: 'crl' | 'ocsp' }
  | { status: 'unknown'; problems: string[] };

/**
 * Decide a certificate's status. When the CA profile names an OCSP responder
 * and the source can query it, its response comes first: a valid good or revoked
 * response decides. Otherwise (no responder, status unknown, or any failure)
 * every CRL the source offers is checked, and without a usable one the status
 * is unknown. `issuers` are the certificate's issuer first, then other
 * certificates of the same CA (same name, validated in the same path) whose
 * key may sign its CRLs, as after a CA key rollover.
 */
export async function revocationStatus(
  cert: pkijs.Certificate,
  issuers: pkijs.Certificate[],
  profile: CaProfile,
  at: Date,
  source: RevocationSource,
): Promise<RevocationStatus> {
  const problems: string[] = [];
  const issuer = issuers[0];
  if (profile.revocation.ocspUrl && source.ocsp) {
    const answer = await source.ocsp(cert, issuer, profile, at);
    if (answer?.status === 'good' || answer?.status === 'revoked') return answer;
    if (answer?.status === 'unknown') problems.push(...answer.problems);
  }
  const ocspNotes = [...problems];
  let good: RevocationStatus | undefined;
  for (const parsed of await source.crlsFor(cert, issuer, profile, at)) {
    const verdict = checkCrl(cert, issuers, parsed, profile, at);
    if (verdict.status === 'revoked') {
      return { status: 'revoked', source: `CRL ${parsed.sha256.slice(0, 16)}`, reason: verdict.reason, revocationDate: verdict.revocationDate, via: 'crl' };
    }
    if (verdict.status === 'good' && !good) {
      good = { status: 'good', source: `CRL ${parsed.sha256.slice(0, 16)}`, until: verdict.nextUpdate, ...(ocspNotes.length > 0 ? { notes: ocspNotes } : {}) };
    }
    if (verdict.status === 'unusable') problems.push(verdict.problem);
  }
  if (good) return good;
  if (problems.length === 0) problems.push('no CRL or OCSP answer is available for it');
  return { status: 'unknown', problems };
}

/** A revocation source over CRLs given up front (files, tests, conformance vectors). */
export class StaticRevocationSource implements RevocationSource {
  constructor(private readonly crls: ParsedCrl[]) {}

  async crlsFor(cert: pkijs.Certificate): Promise<ParsedCrl[]> {
    return this.crls.filter((parsed) => namesEqual(parsed.crl.issuer, cert.issuer));
  }
}
