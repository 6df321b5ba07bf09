import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/** Input that could not be read as a certificate; `detail` says why. */
export class MalformedInput extends Error {
  constructor(readonly what: string, readonly detail: string) {
    super(`${what} is malformed: ${detail}`);
    this.name = 'MalformedInput';
  }
}

/** The exact bytes each parsed certificate came from, so hashes need no re-encoding. */
const originalDer = new WeakMap<pkijs.Certificate, Uint8Array>();

export function derOf(cert: pkijs.Certificate): Uint8Array | undefined {
  return originalDer.get(cert);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * Decode a certificate given as PEM, base64 DER or raw DER bytes. Exactly one
 * DER value is accepted: trailing bytes, a second value or a BER-only encoding
 * that does not round-trip are rejected rather than half-parsed.
 */
export function parseCertificate(input: string | Uint8Array, what = 'certificate'): pkijs.Certificate {
  const der = typeof input === 'string' ? decodeText(input, what) : input;
  const key = createHash('sha256').update(der).digest('base64');
  const cached = parsedCertificates.get(key);
  if (cached) return cached;
  const schema = parseSingleDer(der, what);
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema });
    originalDer.set(cert, new Uint8Array(der));
  } catch (error) {
    throw new MalformedInput(what, `not an X.509 certificate (${(error as Error).message})`);
  }
  if (parsedCertificates.size >= MAX_PARSED_CERTIFICATES) parsedCertificates.clear();
  parsedCertificates.set(key, cert);
  return cert;
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

/** Parse exactly one DER value, rejecting trailing data and non-canonical lengths. */
export function parseSingleDer(der: Uint8Array, what: string): asn1js.AsnType {
  if (der.byteLength === 0) throw new MalformedInput(what, 'it is empty');
  const view = new Uint8Array(der);
  const parsed = asn1js.fromBER(view);
  if (parsed.offset === -1) throw new MalformedInput(what, `invalid ASN.1 (${parsed.result.error || 'decoding failed'})`);
  if (parsed.offset !== view.byteLength) {
    throw new MalformedInput(what, `${view.byteLength - parsed.offset} trailing byte(s) after the DER value`);
  }
  const reencoded = new Uint8Array(parsed.result.toBER(false));
  if (reencoded.byteLength !== view.byteLength || !reencoded.every((b, i) => b === view[i])) {
    throw new MalformedInput(what, 'not DER: the encoding is not canonical');
  }
  return parsed.result;
}

function decodeText(text: string, what: string): Uint8Array {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length > 1) throw new MalformedInput(what, `it holds ${blocks.length} PEM blocks; send one certificate here and the others as the chain`);
  if (blocks.length === 1) {
    if (blocks[0][1] !== 'CERTIFICATE') throw new MalformedInput(what, `PEM label is ${blocks[0][1]}, expected CERTIFICATE`);
    return base64ToBytes(blocks[0][2], what);
  }
  return base64ToBytes(text, what);
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
