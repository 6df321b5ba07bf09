import { createHash } from 'node:crypto';
import * as pkijs from 'pkijs';
import { certificateBytes, derOf, spkiBytes, toBytes } from './der.js';
import { basicConstraintsFields, extendedKeyUsageIds, keyUsageBytes } from './extension-fields.js';

/** Attribute type OIDs and their usual short names, for printing distinguished names. */
export const NAME_ATTRIBUTES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export interface NameAttribute {
  type: string;
  value: string;
}

export function nameAttributes(name: pkijs.RelativeDistinguishedNames): NameAttribute[] {
  return name.typesAndValues.map((tv) => ({ type: tv.type, value: attributeText(tv) }));
}

function attributeText(tv: pkijs.AttributeTypeAndValue): string {
  const block = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock;
  return typeof block?.value === 'string' ? block.value : '';
}

/** Print a name in RFC 4514 order (most specific first). */
export function nameToString(name: pkijs.RelativeDistinguishedNames): string {
  return nameAttributes(name)
    .reverse()
    .map((a) => `${NAME_ATTRIBUTES[a.type] ?? a.type}=${a.value.replace(/([,+"\\<>;])/g, '\\$1')}`)
    .join(', ');
}

export const sha256Hex = (bytes: Uint8Array | ArrayBuffer) => createHash('sha256').update(toBytes(bytes)).digest('hex');

export function certificateDer(cert: pkijs.Certificate): Uint8Array {
  return derOf(cert) ?? new Uint8Array(cert.toSchema(true).toBER(false));
}

/** Memoise a per-certificate value; certificates are never changed after parsing. */
function memo(compute: (cert: pkijs.Certificate) => string): (cert: pkijs.Certificate) => string {
  const cache = new WeakMap<pkijs.Certificate, string>();
  return (cert) => {
    let value = cache.get(cert);
    if (value === undefined) {
      value = compute(cert);
      cache.set(cert, value);
    }
    return value;
  };
}

export const fingerprint = memo((cert) => certificateBytes(cert)?.sha256 ?? sha256Hex(certificateDer(cert)));

/** SHA-256 of the DER SubjectPublicKeyInfo: how trust anchors are identified. */
export const spkiHash = memo((cert) => sha256Hex(spkiBytes(cert.subjectPublicKeyInfo) ?? cert.subjectPublicKeyInfo.toSchema().toBER(false)));

const signatureAlgorithmChecks = new WeakMap<pkijs.Certificate, boolean>();

/** Check that the signature algorithm inside the signed part has the same DER encoding as the outer one (RFC 5280 section 4.1.1.2). */
export function signatureAlgorithmsMatch(cert: pkijs.Certificate): boolean {
  let matches = signatureAlgorithmChecks.get(cert);
  if (matches === undefined) {
    const bytes = certificateBytes(cert);
    const inner = bytes?.innerSignatureAlgorithm ?? new Uint8Array(cert.signature.toSchema().toBER(false));
    const outer = bytes?.outerSignatureAlgorithm ?? new Uint8Array(cert.signatureAlgorithm.toSchema().toBER(false));
    matches = Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength).equals(outer);
    signatureAlgorithmChecks.set(cert, matches);
  }
  return matches;
}

export function serialHex(cert: pkijs.Certificate): string {
  return Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^(00)+(?=.)/, '').toUpperCase();
}

// Hashes of the names as they came; a certificate built another way is encoded again.
export const issuerNameHash = memo((cert) => sha256Hex(certificateBytes(cert)?.issuer ?? cert.issuer.toSchema().toBER(false)));

export const subjectNameHash = memo((cert) => sha256Hex(certificateBytes(cert)?.subject ?? cert.subject.toSchema().toBER(false)));

export function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((ext) => ext.extnID === oid);
}

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  certificatePolicies: '2.5.29.32',
  subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  policyMappings: '2.5.29.33',
  issuerAltName: '2.5.29.18',
} as const;

/** Key usage bits by name, in the order of RFC 5280 section 4.2.1.3. */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

/** Key usages asserted by the certificate, or undefined when it has no keyUsage extension. */
export function keyUsages(cert: pkijs.Certificate): Set<KeyUsageName> | undefined {
  const ext = extension(cert, OID.keyUsage);
  if (!ext) return undefined;
  const bytes = keyUsageBytes(ext) ?? (ext.parsedValue as { valueBlock?: { valueHexView: Uint8Array } } | undefined)?.valueBlock?.valueHexView ?? new Uint8Array();
  const usages = new Set<KeyUsageName>();
  KEY_USAGE_BITS.forEach((name, bit) => {
    const byte = bytes[bit >> 3] ?? 0;
    if (byte & (0x80 >> (bit & 7))) usages.add(name);
  });
  return usages;
}

export function basicConstraints(cert: pkijs.Certificate): { cA: boolean; pathLenConstraint?: number } | undefined {
  const ext = extension(cert, OID.basicConstraints);
  if (!ext) return undefined;
  const fields = basicConstraintsFields(ext);
  if (fields) return fields;
  const parsed = ext.parsedValue as pkijs.BasicConstraints | undefined;
  if (!parsed) return { cA: false };
  const pathLen = parsed.pathLenConstraint;
  return {
    cA: Boolean(parsed.cA),
    pathLenConstraint: typeof pathLen === 'number' ? pathLen : pathLen?.valueBlock?.valueDec,
  };
}

export function extendedKeyUsages(cert: pkijs.Certificate): string[] | undefined {
  const ext = extension(cert, OID.extKeyUsage);
  if (!ext) return undefined;
  return extendedKeyUsageIds(ext) ?? (ext.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  signatureAlgorithm: string;
}

export function summarize(cert: pkijs.Certificate): CertificateSummary {
  return {
    subject: nameToString(cert.subject),
    issuer: nameToString(cert.issuer),
    serial: serialHex(cert),
    fingerprint: fingerprint(cert),
    notBefore: cert.notBefore.value.toISOString(),
    notAfter: cert.notAfter.value.toISOString(),
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
  };
}

/** The organisation name a certificate vouches for: O, else CN. */
export function organizationName(cert: pkijs.Certificate): string | undefined {
  const attrs = nameAttributes(cert.subject);
  return attrs.find((a) => a.type === '2.5.4.10')?.value || attrs.find((a) => a.type === '2.5.4.3')?.value || undefined;
}
