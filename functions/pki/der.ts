import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { readCertificate } from './certificate-reader.js';

/** Input that could not be read as a certificate; `detail` explains why. */
export class MalformedInput extends Error {
  constructor(readonly what: string, readonly detail: string) {
    super(`${what} is malformed: ${detail}`);
    this.name = 'MalformedInput';
  }
}

/**
 * Parts of the bytes each parsed certificate came from, so hashes and
 * comparisons need no re-encoding. The views share one buffer with the
 * certificate's asn1js values.
 */
interface CertificateBytes {
  der: Uint8Array;
  /** SHA-256 of `der`, in hex. */
  sha256: string;
  /** AlgorithmIdentifier inside the signed part (tbsCertificate.signature). */
  innerSignatureAlgorithm: Uint8Array;
  /** AlgorithmIdentifier after the signed part (signatureAlgorithm). */
  outerSignatureAlgorithm: Uint8Array;
  /** Issuer and subject Names as they came. */
  issuer: Uint8Array;
  subject: Uint8Array;
}

const originalBytes = new WeakMap<pkijs.Certificate, CertificateBytes>();
const originalSpki = new WeakMap<pkijs.PublicKeyInfo, Uint8Array>();

export function derOf(cert: pkijs.Certificate): Uint8Array | undefined {
  return originalBytes.get(cert)?.der;
}

/** Return the original bytes of a certificate made by parseCertificate, or undefined for one built another way. */
export function certificateBytes(cert: pkijs.Certificate): Readonly<CertificateBytes> | undefined {
  return originalBytes.get(cert);
}

/** Return the original DER of a SubjectPublicKeyInfo from a certificate made by parseCertificate. */
export function spkiBytes(spki: pkijs.PublicKeyInfo): Uint8Array | undefined {
  return originalSpki.get(spki);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * Decode a certificate given as PEM, base64 DER or raw DER bytes. Exactly one
 * DER value is accepted: trailing bytes, a second value or an encoding that
 * BER allows but DER does not are rejected rather than half-parsed.
 */
export function parseCertificate(input: string | Uint8Array, what = 'certificate'): pkijs.Certificate {
  const der = typeof input === 'string' ? decodeText(input, what) : input;
  const digest = createHash('sha256').update(der).digest();
  const key = digest.toString('base64');
  const cached = parsedCertificates.get(key);
  if (cached) return cached;
  const bytes = checkedCopy(der, what);
  const sha256 = digest.toString('hex');
  // Certificates of the common shape are read without decoding the whole value.
  // readCertificate returns undefined for the rest, which take the general path.
  const read = readCertificate(bytes);
  let cert: pkijs.Certificate;
  if (read) {
    cert = read.certificate;
    originalBytes.set(cert, { der: bytes, sha256, innerSignatureAlgorithm: read.innerSignatureAlgorithm, outerSignatureAlgorithm: read.outerSignatureAlgorithm, issuer: read.issuer, subject: read.subject });
    originalSpki.set(cert.subjectPublicKeyInfo, read.subjectPublicKeyInfo);
  } else {
    cert = certificateFromSchema(bytes, what, sha256);
  }
  if (parsedCertificates.size >= MAX_PARSED_CERTIFICATES) parsedCertificates.clear();
  parsedCertificates.set(key, cert);
  return cert;
}

/**
 * Parse a certificate by decoding all of it with asn1js and matching it
 * against the pkijs Certificate schema: the general path of parseCertificate,
 * exported so that tests can compare both paths. Uses no cache.
 */
export function parseCertificateBySchema(der: Uint8Array, what = 'certificate'): pkijs.Certificate {
  return certificateFromSchema(checkedCopy(der, what), what, createHash('sha256').update(der).digest('hex'));
}

/** Build a certificate from `bytes`, which have passed the canonical-DER check and belong to the caller. */
function certificateFromSchema(bytes: Uint8Array, what: string, sha256: string): pkijs.Certificate {
  const value = decodeChecked(bytes, what);
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema: value });
  } catch (error) {
    throw new MalformedInput(what, `not an X.509 certificate (${(error as Error).message})`);
  }
  rememberBytes(cert, value, bytes, sha256);
  return cert;
}

/**
 * Record the original bytes of the certificate's parts. pkijs has matched
 * `value` against the Certificate schema, so tbsCertificate contains an
 * optional [0] version, then serialNumber, signature, issuer, validity,
 * subject and subjectPublicKeyInfo in this order.
 */
function rememberBytes(cert: pkijs.Certificate, value: asn1js.AsnType, der: Uint8Array, sha256: string): void {
  const [tbs, outerAlgorithm] = (value as asn1js.Sequence).valueBlock.value;
  const fields = (tbs as asn1js.Sequence).valueBlock.value;
  const first = fields[0].idBlock;
  const versionFields = first.tagClass === 3 && first.tagNumber === 0 ? 1 : 0;
  originalBytes.set(cert, {
    der,
    sha256,
    innerSignatureAlgorithm: fields[versionFields + 1].valueBeforeDecodeView,
    outerSignatureAlgorithm: outerAlgorithm.valueBeforeDecodeView,
    issuer: fields[versionFields + 2].valueBeforeDecodeView,
    subject: fields[versionFields + 4].valueBeforeDecodeView,
  });
  originalSpki.set(cert.subjectPublicKeyInfo, fields[versionFields + 5].valueBeforeDecodeView);
}

/**
 * Certificates parsed earlier, by the SHA-256 of their DER bytes: a bound
 * certificate logs in again and again, and asn1js parsing costs more than
 * verifying its signature. Callers must not modify the returned objects.
 */
const parsedCertificates = new Map<string, pkijs.Certificate>();
const MAX_PARSED_CERTIFICATES = 4096;

/** Forget parsed certificates (benchmarks of a cold start). */
export function clearParsedCertificates(): void {
  parsedCertificates.clear();
}

/** Decode every certificate in a PEM bundle (or a single base64/DER value). */
export function parseCertificates(input: string, what = 'certificate bundle'): pkijs.Certificate[] {
  const blocks = [...input.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return [parseCertificate(input, what)];
  return blocks.map((block, i) => {
    if (block[1] !== 'CERTIFICATE') throw new MalformedInput(`${what} item ${i + 1}`, `PEM label is ${block[1]}, expected CERTIFICATE`);
    return parseCertificate(base64ToBytes(block[2], `${what} item ${i + 1}`), `${what} item ${i + 1}`);
  });
}

/**
 * Check that `der` is exactly one value in canonical DER, without decoding it
 * into asn1js objects. Throws MalformedInput with the reason otherwise.
 */
export function checkSingleDer(der: Uint8Array, what: string): void {
  if (der.byteLength === 0) throw new MalformedInput(what, 'it is empty');
  const end = checkDerElement(der, 0, der.byteLength, 0, what);
  if (end !== der.byteLength) throw new MalformedInput(what, `${der.byteLength - end} trailing byte(s) after the DER value`);
}

/** Parse exactly one DER value, rejecting trailing data and any encoding that is not DER. */
export function parseSingleDer(der: Uint8Array, what: string): asn1js.AsnType {
  return decodeSingleDer(der, what).value;
}

/** Decode as parseSingleDer does, and also return the copy of the input that the asn1js values point into. */
function decodeSingleDer(der: Uint8Array, what: string): { bytes: Uint8Array; value: asn1js.AsnType } {
  const bytes = checkedCopy(der, what);
  return { bytes, value: decodeChecked(bytes, what) };
}

/** Copy `der` and check that the copy is exactly one value in canonical DER. Decoders may keep views into the copy. */
function checkedCopy(der: Uint8Array, what: string): Uint8Array {
  if (der.byteLength === 0) throw new MalformedInput(what, 'it is empty');
  const view = new Uint8Array(der);
  const end = checkDerElement(view, 0, view.byteLength, 0, what);
  if (end !== view.byteLength) throw new MalformedInput(what, `${view.byteLength - end} trailing byte(s) after the DER value`);
  return view;
}

/** Decode a value that checkedCopy has returned into asn1js objects that point into it. */
function decodeChecked(view: Uint8Array, what: string): asn1js.AsnType {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    // view is the caller's own copy, so asn1js may keep views into it. The
    // contents of OCTET and BIT STRINGs are not decoded speculatively: pkijs
    // decodes the ones it needs (extension values, keys) itself. asn1js 4
    // stops at 10,000 nodes by default, which a CRL of about 1,500 entries
    // exceeds. Every node takes at least two bytes, and checkDerElement has
    // bounded the depth, so the input's length bounds the work instead.
    parsed = asn1js.fromBER(view, { copyInput: false, parseEmbedded: false, maxNodes: Math.max(asn1js.DEFAULT_MAX_NODES, view.byteLength), maxContentLength: Math.max(asn1js.DEFAULT_MAX_CONTENT_LENGTH, view.byteLength) });
  } catch (error) {
    // asn1js throws plain errors for some content it cannot convert, for example a UTCTime that is not a time.
    throw new MalformedInput(what, `invalid ASN.1 (${(error as Error).message})`);
  }
  if (parsed.offset === -1) throw new MalformedInput(what, `invalid ASN.1 (${parsed.result.error || 'decoding failed'})`);
  if (parsed.offset !== view.byteLength) {
    throw new MalformedInput(what, `${view.byteLength - parsed.offset} trailing byte(s) after the DER value`);
  }
  return parsed.result;
}

/** Maximum nesting of constructed values. X.509 certificates and CRLs nest far less deeply. */
const MAX_DER_DEPTH = 64;

/**
 * Universal tags that DER encodes only in primitive form (X.690 section 10.2):
 * BOOLEAN, INTEGER, BIT STRING, OCTET STRING, NULL, OBJECT IDENTIFIER, REAL,
 * ENUMERATED, RELATIVE-OID, the string types and the time types.
 */
const PRIMITIVE_ONLY_TAGS = new Set([1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30]);

/**
 * Walk one TLV element at `offset` and everything nested in it, and return
 * the offset just past it. Rejects what DER forbids in the structure:
 * indefinite lengths, lengths or tag numbers in a longer form than needed,
 * constructed strings, primitive SEQUENCE or SET, and contents that overrun
 * their parent. This replaces decoding and re-encoding the whole value, which
 * cost about as much as the decoding itself.
 */
function checkDerElement(bytes: Uint8Array, offset: number, limit: number, depth: number, what: string): number {
  if (depth > MAX_DER_DEPTH) notCanonical(what, offset, `values are nested more than ${MAX_DER_DEPTH} levels deep`);
  if (offset >= limit) notCanonical(what, offset, 'the value is truncated');
  const identifier = bytes[offset];
  const constructed = (identifier & 0x20) !== 0;
  const tagClass = identifier >> 6;
  let tagNumber = identifier & 0x1f;
  let position = offset + 1;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let count = 0; ; count += 1) {
      if (position >= limit) notCanonical(what, offset, 'the tag is truncated');
      const byte = bytes[position++];
      if (count === 0 && byte === 0x80) notCanonical(what, offset, 'the tag number has a leading zero');
      if (count >= 3) notCanonical(what, offset, 'the tag number is too large');
      tagNumber = tagNumber * 128 + (byte & 0x7f);
      if ((byte & 0x80) === 0) break;
    }
    if (tagNumber < 0x1f) notCanonical(what, offset, `tag number ${tagNumber} is in the long form`);
  }
  if (tagClass === 0) {
    if (tagNumber === 0) notCanonical(what, offset, 'universal tag 0 (end-of-contents) appears');
    if (constructed && PRIMITIVE_ONLY_TAGS.has(tagNumber)) notCanonical(what, offset, `universal tag ${tagNumber} is constructed`);
    if (!constructed && (tagNumber === 16 || tagNumber === 17)) notCanonical(what, offset, `universal tag ${tagNumber} (SEQUENCE or SET) is primitive`);
  }
  if (position >= limit) notCanonical(what, offset, 'the length is truncated');
  const first = bytes[position++];
  let length = first;
  if (first === 0x80) notCanonical(what, offset, 'the length is indefinite');
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > 4) notCanonical(what, offset, `the length takes ${count} bytes`);
    if (position + count > limit) notCanonical(what, offset, 'the length is truncated');
    if (bytes[position] === 0) notCanonical(what, offset, 'the length has a leading zero byte');
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + bytes[position++];
    if (length < 0x80) notCanonical(what, offset, `length ${length} is in the long form`);
  }
  const end = position + length;
  if (end > limit) notCanonical(what, offset, `the length ${length} runs past the end of the enclosing value`);
  if (tagClass === 0) {
    if (tagNumber === 1 && length !== 1) notCanonical(what, offset, `a BOOLEAN has ${length} content bytes`);
    if (tagNumber === 5 && length !== 0) notCanonical(what, offset, `a NULL has ${length} content bytes`);
    if (tagNumber === 3 && (length === 0 || bytes[position] > 7 || (length === 1 && bytes[position] !== 0))) notCanonical(what, offset, 'a BIT STRING has an invalid unused-bits count');
    if (tagNumber === 6 || tagNumber === 13) checkObjectIdentifier(bytes, position, end, what, offset);
  }
  if (constructed) {
    while (position < end) position = checkDerElement(bytes, position, end, depth + 1, what);
  }
  return end;
}

/** Check that each OBJECT IDENTIFIER subidentifier takes the fewest bytes and that the last one is complete (X.690 section 8.19.2). */
function checkObjectIdentifier(bytes: Uint8Array, start: number, end: number, what: string, offset: number): void {
  if (start === end) notCanonical(what, offset, 'an OBJECT IDENTIFIER is empty');
  let atSubidentifierStart = true;
  for (let i = start; i < end; i += 1) {
    if (atSubidentifierStart && bytes[i] === 0x80) notCanonical(what, offset, 'an OBJECT IDENTIFIER subidentifier has a leading zero');
    atSubidentifierStart = (bytes[i] & 0x80) === 0;
  }
  if (!atSubidentifierStart) notCanonical(what, offset, 'an OBJECT IDENTIFIER ends inside a subidentifier');
}

/**
 * Throw the error for an element at `offset` that breaks a DER rule. A
 * module-level function rather than a closure per element, because the walk
 * visits every element of every certificate.
 */
function notCanonical(what: string, offset: number, detail: string): never {
  throw new MalformedInput(what, `the encoding is not canonical DER: ${detail} (element at byte ${offset})`);
}

function decodeText(text: string, what: string): Uint8Array {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length > 1) throw new MalformedInput(what, `it contains ${blocks.length} PEM blocks; send one certificate here and the others as the chain`);
  if (blocks.length === 1) {
    if (blocks[0][1] !== 'CERTIFICATE') throw new MalformedInput(what, `PEM label is ${blocks[0][1]}, expected CERTIFICATE`);
    return base64ToBytes(blocks[0][2], what);
  }
  const der = base64ToBytes(text, what);
  // Text without a PEM block is only taken for base64 DER when it opens like a
  // certificate: a SEQUENCE tag and a short or 1- to 4-byte long-form length.
  // Other text gets this message instead of a DER error about bytes it never meant.
  const [tag, length] = der;
  if (tag !== 0x30 || length === undefined || length === 0x80 || length > 0x84) {
    const start = Array.from(der.subarray(0, 2), (byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join(' ');
    throw new MalformedInput(
      what,
      `it is not a PEM or base64 DER certificate: the text has no -----BEGIN CERTIFICATE----- block, and as base64 it decodes to bytes starting ${start}, not to a DER SEQUENCE (30); send the certificate as PEM or as base64 of its DER`,
    );
  }
  return der;
}

export function base64ToBytes(text: string, what: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) throw new MalformedInput(what, 'it is empty');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) throw new MalformedInput(what, 'it is neither PEM nor base64');
  return new Uint8Array(Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

export function toBytes(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
