import { MalformedInput, checkSingleDer } from './der.js';

/**
 * Reading of CRLs with many entries. asn1js and pkijs build several objects
 * per node, and decoding took about 0.5 ms per entry (6.4 s for a CRL of
 * 12,000 entries, measured on a 2-core VM with Node 20.20). So the list of
 * revoked certificates is read here with a plain walk over its bytes, and
 * pkijs decodes the rest of the CRL without it.
 */

/** One revoked certificate of a CRL. */
export interface CrlEntry {
  revocationDate: Date;
  /** RFC 5280 reason code of the entry, when it has a readable one. */
  reasonCode?: number;
  /** OIDs of the entry's critical extensions. */
  criticalExtensions: string[];
}

/** A CRL split into its entries and the same CRL without them. */
export interface SplitCrl {
  /** Revoked serials (hex of the DER INTEGER content, upper case) to their entries. */
  entries: Map<string, CrlEntry>;
  /** The signed part as it came, for signature verification. */
  tbs: Uint8Array;
  /** DER of the CRL with the revokedCertificates field left out, for pkijs. */
  withoutEntries: Uint8Array;
}

interface Element {
  tag: number;
  /** Offset of the identifier byte. */
  start: number;
  /** Offset of the contents. */
  contentStart: number;
  /** Offset just past the element. */
  end: number;
}

const TAG = { boolean: 0x01, integer: 0x02, octetString: 0x04, oid: 0x06, enumerated: 0x0a, utcTime: 0x17, generalizedTime: 0x18, sequence: 0x30, explicit0: 0xa0 } as const;

const REASON_CODE_OID = '2.5.29.21';

/**
 * Split a CRL. The input must be one canonical DER value (checked here), a
 * SEQUENCE of tbsCertList, signatureAlgorithm and signatureValue, and every
 * entry must be a serial number, a time and optional extensions
 * (RFC 5280 section 5.1). Throws MalformedInput naming what is wrong.
 */
export function splitCrl(der: Uint8Array, what: string): SplitCrl {
  checkSingleDer(der, what);
  const fail = (detail: string): never => {
    throw new MalformedInput(what, `not an X.509 CRL (${detail})`);
  };
  const outer = readElement(der, 0, der.byteLength);
  if (outer.tag !== TAG.sequence) fail('it is not a SEQUENCE');
  const parts = children(der, outer);
  if (parts.length !== 3) fail(`the CRL has ${parts.length} fields, expected 3`);
  const [tbsElement, algorithm, signature] = parts;
  if (tbsElement.tag !== TAG.sequence) fail('tbsCertList is not a SEQUENCE');
  const fields = children(der, tbsElement);
  let index = fields[0]?.tag === TAG.integer ? 1 : 0;
  // signature, issuer and thisUpdate come first; nextUpdate is an optional Time.
  index += 3;
  if (fields.length < index) fail('tbsCertList lacks signature, issuer or thisUpdate');
  if (fields[index]?.tag === TAG.utcTime || fields[index]?.tag === TAG.generalizedTime) index += 1;
  const entries = new Map<string, CrlEntry>();
  let kept = fields;
  if (fields[index]?.tag === TAG.sequence) {
    for (const entry of children(der, fields[index])) {
      const { serial, value } = readEntry(der, entry, fail);
      entries.set(serial, value);
    }
    kept = fields.filter((_, position) => position !== index);
  }
  const tbs = der.subarray(tbsElement.start, tbsElement.end);
  const keptTbs = sequence(kept.map((field) => der.subarray(field.start, field.end)));
  const withoutEntries = sequence([keptTbs, der.subarray(algorithm.start, algorithm.end), der.subarray(signature.start, signature.end)]);
  return { entries, tbs, withoutEntries };
}

function readEntry(der: Uint8Array, entry: Element, fail: (detail: string) => never): { serial: string; value: CrlEntry } {
  if (entry.tag !== TAG.sequence) fail(`a revokedCertificates entry at byte ${entry.start} is not a SEQUENCE`);
  const [serial, date, extensions, ...rest] = children(der, entry);
  if (serial?.tag !== TAG.integer) fail(`the entry at byte ${entry.start} has no serial number`);
  if (date?.tag !== TAG.utcTime && date?.tag !== TAG.generalizedTime) fail(`the entry at byte ${entry.start} has no revocation date`);
  if ((extensions && extensions.tag !== TAG.sequence) || rest.length > 0) fail(`the entry at byte ${entry.start} has fields after its revocation date that are not extensions`);
  const revocationDate = readTime(der, date, fail);
  const value: CrlEntry = { revocationDate, criticalExtensions: [] };
  for (const extension of extensions ? children(der, extensions) : []) {
    const [oid, second, third] = extension.tag === TAG.sequence ? children(der, extension) : [];
    if (oid?.tag !== TAG.oid) fail(`an extension of the entry at byte ${entry.start} has no OID`);
    const critical = second?.tag === TAG.boolean && der[second.contentStart] !== 0;
    const valueElement = second?.tag === TAG.boolean ? third : second;
    if (valueElement?.tag !== TAG.octetString) fail(`an extension of the entry at byte ${entry.start} has no OCTET STRING value`);
    const id = oidText(der.subarray(oid.contentStart, oid.end));
    if (critical) value.criticalExtensions.push(id);
    if (id === REASON_CODE_OID) value.reasonCode = reasonCode(der, valueElement);
  }
  const serialHex = Buffer.from(der.buffer, der.byteOffset + serial.contentStart, serial.end - serial.contentStart).toString('hex').toUpperCase();
  return { serial: serialHex, value };
}

/** Read a CRLReason (an ENUMERATED inside the extension's OCTET STRING), or undefined when it is not one. */
function reasonCode(der: Uint8Array, octets: Element): number | undefined {
  if (octets.end - octets.contentStart !== 3) return undefined;
  if (der[octets.contentStart] !== TAG.enumerated || der[octets.contentStart + 1] !== 1) return undefined;
  return der[octets.contentStart + 2];
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d*[1-9])?Z$/;

/** Read a UTCTime or GeneralizedTime in the DER form RFC 5280 requires (UTC, with seconds). */
function readTime(der: Uint8Array, element: Element, fail: (detail: string) => never): Date {
  const text = Buffer.from(der.buffer, der.byteOffset + element.contentStart, element.end - element.contentStart).toString('latin1');
  const match = element.tag === TAG.utcTime ? UTC_TIME.exec(text) : GENERALIZED_TIME.exec(text);
  if (!match) return fail(`the time ${JSON.stringify(text)} at byte ${element.start} is not in the form RFC 5280 requires`);
  const numbers = match.slice(1, 7).map(Number);
  // RFC 5280 section 4.1.2.5.1: two-digit years 50 to 99 are 19xx, 00 to 49 are 20xx.
  let year = numbers[0];
  if (element.tag === TAG.utcTime) year += numbers[0] >= 50 ? 1900 : 2000;
  const milliseconds = match[7] ? Math.floor(Number(`0${match[7]}`) * 1000) : 0;
  const date = new Date(Date.UTC(year, numbers[1] - 1, numbers[2], numbers[3], numbers[4], numbers[5], milliseconds));
  if (date.getUTCMonth() !== numbers[1] - 1 || date.getUTCDate() !== numbers[2] || numbers[3] > 23 || numbers[4] > 59 || numbers[5] > 59) {
    fail(`the time ${JSON.stringify(text)} at byte ${element.start} is not a valid date`);
  }
  return date;
}

/** Decode OBJECT IDENTIFIER contents to dotted text. checkSingleDer has checked the subidentifier encoding. */
function oidText(contents: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of contents) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

/** Read the element at `offset`; the caller has checked the input as canonical DER. */
function readElement(bytes: Uint8Array, offset: number, limit: number): Element {
  const tag = bytes[offset];
  let position = offset + 1;
  // Tags above 30 take more bytes; CRL fields use none, but skip them correctly.
  if ((tag & 0x1f) === 0x1f) while (bytes[position++] & 0x80);
  let length = bytes[position++];
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + bytes[position++];
  }
  const end = position + length;
  if (end > limit) throw new MalformedInput('CRL', `an element at byte ${offset} runs past its enclosing value`);
  return { tag, start: offset, contentStart: position, end };
}

function children(bytes: Uint8Array, parent: Element): Element[] {
  const result: Element[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const element = readElement(bytes, offset, parent.end);
    result.push(element);
    offset = element.end;
  }
  return result;
}

/** Encode a SEQUENCE of already encoded elements. */
function sequence(elements: Uint8Array[]): Uint8Array {
  const length = elements.reduce((sum, element) => sum + element.byteLength, 0);
  const lengthBytes: number[] = [];
  if (length < 0x80) {
    lengthBytes.push(length);
  } else {
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest % 256);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  return new Uint8Array(Buffer.concat([Buffer.from([TAG.sequence, ...lengthBytes]), ...elements]));
}
