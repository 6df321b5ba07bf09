import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

/**
 * Builds pkijs.Certificate objects from canonical DER by walking the TLV
 * structure directly, instead of decoding the whole certificate with asn1js
 * and matching it against the pkijs Certificate schema. Containers, object
 * identifiers and BOOLEANs are read here. Values that callers use as asn1js
 * objects (INTEGERs, BIT STRINGs, times, attribute values and algorithm
 * parameters) are still decoded by asn1js, one element at a time. An
 * extension's extnValue OCTET STRING is decoded when it is first read.
 *
 * Only the common shape is read: every container contains exactly the elements
 * RFC 5280 section 4.1 lists, in order, with nothing after them. For anything
 * else (an empty RDN, an empty extension list, an element that the pkijs
 * schema would skip, an object identifier arc above 2^49, an element that
 * asn1js cannot decode) readCertificate returns undefined. The caller then
 * parses the input with asn1js and pkijs as before, so the general path still
 * decides every certificate outside the common shape, with its own result or
 * error message.
 */

/** Identifier bytes of the types a certificate is built from. */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  objectIdentifier: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  /** [0] EXPLICIT Version */
  version: 0xa0,
  /** [1] IMPLICIT UniqueIdentifier */
  issuerUniqueId: 0x81,
  /** [2] IMPLICIT UniqueIdentifier */
  subjectUniqueId: 0x82,
  /** [3] EXPLICIT Extensions */
  extensions: 0xa3,
} as const;

/**
 * Input size up to which no decode here can reach asn1js's default limit of
 * 10,000 nodes, because every DER element takes at least 2 bytes. Larger
 * input takes the general path, which raises that limit with the input's
 * length.
 */
const MAX_INPUT_BYTES = 20_000;

/** Maximum length of an object identifier arc read here: 7 bytes of 7 bits each stay exact in a JavaScript number. */
const MAX_ARC_BYTES = 7;

/** One TLV element: offsets into the input of its first byte, its contents and the byte after it. */
export interface Element {
  /** The first identifier byte. A tag in the long form keeps its 0x1f marker and so matches no TAG value. */
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** Parts of a certificate read from DER, with the original bytes that hashes and comparisons use. */
export interface ReadCertificate {
  certificate: pkijs.Certificate;
  /** AlgorithmIdentifier inside the signed part (tbsCertificate.signature). */
  innerSignatureAlgorithm: Uint8Array;
  /** AlgorithmIdentifier after the signed part (signatureAlgorithm). */
  outerSignatureAlgorithm: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  /** Issuer and subject Names as they came. */
  issuer: Uint8Array;
  subject: Uint8Array;
}

/** Thrown inside this module when the input is outside the common shape. readCertificate turns it into undefined. */
class UncommonShape extends Error {}
const uncommon = new UncommonShape('the certificate is outside the common shape');

/**
 * Read a certificate from `bytes`, which must already have passed the
 * canonical-DER check as exactly one value. Returns undefined when the input
 * is outside the common shape described at the top of this file. The asn1js
 * values in the result are views into `bytes`, so the caller must own it.
 */
export function readCertificate(bytes: Uint8Array): ReadCertificate | undefined {
  if (bytes.byteLength > MAX_INPUT_BYTES) return undefined;
  try {
    return new CertificateReader(bytes).read();
  } catch (error) {
    if (error instanceof UncommonShape) return undefined;
    throw error;
  }
}

class CertificateReader {
  constructor(private readonly bytes: Uint8Array) {}

  read(): ReadCertificate {
    const root = this.header(0);
    const [tbs, outerAlgorithm, signatureValue] = this.children(this.require(root, TAG.sequence), 3);
    this.require(tbs, TAG.sequence);
    this.require(signatureValue, TAG.bitString);

    const fields = this.children(tbs);
    let index = 0;
    let version = 0;
    if (fields[0]?.tag === TAG.version) {
      const [number] = this.children(fields[0], 1);
      version = (this.decode(this.require(number, TAG.integer)) as asn1js.Integer).valueBlock.valueDec;
      index = 1;
    }
    const [serialNumber, innerAlgorithm, issuer, validity, subject, spki] = fields.slice(index, index + 6);
    const [notBefore, notAfter] = this.children(this.require(validity, TAG.sequence), 2);
    const [spkiAlgorithm, subjectPublicKey] = this.children(this.require(spki, TAG.sequence), 2);
    this.require(subjectPublicKey, TAG.bitString);
    const optional = fields.slice(index + 6);
    const issuerUniqueId = optional[0]?.tag === TAG.issuerUniqueId ? optional.shift() : undefined;
    const subjectUniqueId = optional[0]?.tag === TAG.subjectUniqueId ? optional.shift() : undefined;
    const extensions = optional[0]?.tag === TAG.extensions ? optional.shift() : undefined;
    if (optional.length > 0) throw uncommon;

    const subjectPublicKeyInfo = new pkijs.PublicKeyInfo({ algorithm: this.algorithm(spkiAlgorithm), subjectPublicKey: this.decode(subjectPublicKey) as asn1js.BitString });
    const certificate = new pkijs.Certificate({
      version,
      serialNumber: this.decode(this.require(serialNumber, TAG.integer)) as asn1js.Integer,
      signature: this.algorithm(innerAlgorithm),
      issuer: this.name(issuer),
      notBefore: this.time(notBefore),
      notAfter: this.time(notAfter),
      subject: this.name(subject),
      subjectPublicKeyInfo,
      signatureAlgorithm: this.algorithm(outerAlgorithm),
      signatureValue: this.decode(signatureValue) as asn1js.BitString,
    });
    // Assigned after construction, in the order pkijs's fromSchema adds them, and
    // without the copy that the constructor makes of `tbs`.
    certificate.tbsView = this.view(tbs);
    if (issuerUniqueId) certificate.issuerUniqueID = (this.decode(issuerUniqueId) as asn1js.Primitive).valueBlock.valueHex;
    if (subjectUniqueId) certificate.subjectUniqueID = (this.decode(subjectUniqueId) as asn1js.Primitive).valueBlock.valueHex;
    if (extensions) certificate.extensions = this.extensions(extensions);
    return {
      certificate,
      innerSignatureAlgorithm: this.view(innerAlgorithm),
      outerSignatureAlgorithm: this.view(outerAlgorithm),
      subjectPublicKeyInfo: this.view(spki),
      issuer: this.view(issuer!),
      subject: this.view(subject!),
    };
  }

  /** AlgorithmIdentifier: an OBJECT IDENTIFIER and optional parameters of any type. */
  private algorithm(element: Element | undefined): pkijs.AlgorithmIdentifier {
    const [id, parameters, ...rest] = this.children(this.require(element, TAG.sequence));
    if (rest.length > 0) throw uncommon;
    const algorithmId = this.objectIdentifier(id);
    return new pkijs.AlgorithmIdentifier(parameters ? { algorithmId, algorithmParams: this.decode(parameters) } : { algorithmId });
  }

  /** Name: a SEQUENCE of non-empty SETs of AttributeTypeAndValue, flattened as pkijs does. */
  private name(element: Element | undefined): pkijs.RelativeDistinguishedNames {
    const sequence = this.require(element, TAG.sequence);
    const typesAndValues: pkijs.AttributeTypeAndValue[] = [];
    for (const rdn of this.children(sequence)) {
      const attributes = this.children(this.require(rdn, TAG.set));
      if (attributes.length === 0) throw uncommon;
      for (const attribute of attributes) {
        const [type, value] = this.children(this.require(attribute, TAG.sequence), 2);
        // The value may be of any type. pkijs declares only the string types but keeps whatever it decoded.
        const decoded = this.decode(value) as pkijs.AttributeValueType;
        typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: this.objectIdentifier(type), value: decoded }));
      }
    }
    const valueBeforeDecode = this.bytes.slice(sequence.start, sequence.end).buffer;
    return new pkijs.RelativeDistinguishedNames({ typesAndValues, valueBeforeDecode });
  }

  private time(element: Element): pkijs.Time {
    if (element.tag !== TAG.utcTime && element.tag !== TAG.generalizedTime) throw uncommon;
    const decoded = this.decode(element) as asn1js.UTCTime | asn1js.GeneralizedTime;
    return new pkijs.Time({ type: element.tag === TAG.utcTime ? 0 : 1, value: decoded.toDate() });
  }

  /** Extensions: a non-empty SEQUENCE of Extension, each an OBJECT IDENTIFIER, an optional BOOLEAN and an OCTET STRING. */
  private extensions(element: Element): pkijs.Extension[] {
    const [list] = this.children(element, 1);
    const items = this.children(this.require(list, TAG.sequence));
    if (items.length === 0) throw uncommon;
    return items.map((item) => {
      const parts = this.children(this.require(item, TAG.sequence));
      if (parts.length !== 2 && parts.length !== 3) throw uncommon;
      const critical = parts.length === 3 ? this.boolean(parts[1]) : false;
      const value = this.require(parts[parts.length - 1], TAG.octetString);
      // The Extension constructor builds a default extnValue that would be replaced at once, so the
      // fields are set on a bare instance, in the constructor's order. Extension has no other fields.
      const extension: pkijs.Extension = Object.create(pkijs.Extension.prototype);
      extension.extnID = this.objectIdentifier(parts[0]);
      extension.critical = critical;
      defineLazyExtnValue(extension, this.view(value));
      extensionValues.set(extension, this.bytes.subarray(value.contentStart, value.end));
      return extension;
    });
  }

  /** Convert an OBJECT IDENTIFIER to the dotted form that asn1js's valueBlock.toString() gives. */
  private objectIdentifier(element: Element | undefined): string {
    const { contentStart, end } = this.require(element, TAG.objectIdentifier);
    const text = objectIdentifierText(this.bytes.subarray(contentStart, end));
    if (text === undefined) throw uncommon;
    return text;
  }

  /** Read a BOOLEAN as asn1js does: true when any content byte is non-zero. */
  private boolean(element: Element): boolean {
    this.require(element, TAG.boolean);
    return this.bytes.subarray(element.contentStart, element.end).some((byte) => byte !== 0);
  }

  /** Decode one element with asn1js, with the options the general path uses, so the object matches what it would hold. */
  private decode(element: Element): asn1js.AsnType {
    const view = this.view(element);
    let parsed: ReturnType<typeof asn1js.fromBER>;
    try {
      parsed = asn1js.fromBER(view, { copyInput: false, parseEmbedded: false });
    } catch {
      throw uncommon;
    }
    if (parsed.offset !== view.byteLength) throw uncommon;
    return parsed.result;
  }

  private view(element: Element): Uint8Array {
    return this.bytes.subarray(element.start, element.end);
  }

  private require(element: Element | undefined, tag: number): Element {
    if (element?.tag !== tag) throw uncommon;
    return element;
  }

  /** List the elements inside a constructed element. With `count`, any other number of elements makes the shape uncommon. */
  private children(element: Element, count?: number): Element[] {
    const children: Element[] = [];
    for (let position = element.contentStart; position < element.end; ) {
      const child = this.header(position);
      children.push(child);
      position = child.end;
    }
    if (count !== undefined && children.length !== count) throw uncommon;
    return children;
  }

  private header(offset: number): Element {
    return readHeader(this.bytes, offset);
  }
}

/** Contents of the extnValue OCTET STRING of each extension that readCertificate built. */
const extensionValues = new WeakMap<pkijs.Extension, Uint8Array>();

/**
 * Return the contents of an extension's extnValue. For extensions that
 * readCertificate built this does not create the asn1js OCTET STRING, which
 * most extensions never need.
 */
export function extensionValueBytes(extension: pkijs.Extension): Uint8Array {
  return extensionValues.get(extension) ?? extension.extnValue.valueBlock.valueHexView;
}

/**
 * Give `extension` an extnValue property that decodes `encoding` (a whole
 * OCTET STRING) with asn1js on first read and then becomes a plain property.
 * A primitive OCTET STRING that passed the canonical-DER check has no
 * contents for asn1js to reject when parseEmbedded is false, so the error
 * below marks a broken assumption, not bad input.
 */
function defineLazyExtnValue(extension: pkijs.Extension, encoding: Uint8Array): void {
  const settle = (value: asn1js.OctetString) => {
    Object.defineProperty(extension, 'extnValue', { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(extension, 'extnValue', {
    enumerable: true,
    configurable: true,
    get: () => {
      const decoded = asn1js.fromBER(encoding, { copyInput: false, parseEmbedded: false });
      if (decoded.offset === -1) throw new Error(`extension ${extension.extnID}: asn1js could not decode a checked OCTET STRING (${decoded.result.error})`);
      return settle(decoded.result as asn1js.OctetString);
    },
    // A value assigned later replaces the recorded contents too.
    set: (value: asn1js.OctetString) => {
      extensionValues.delete(extension);
      settle(value);
    },
  });
}

/**
 * Convert the contents of an OBJECT IDENTIFIER to the dotted form that
 * asn1js's valueBlock.toString() gives, or undefined when an arc takes more than 7 bytes
 * (asn1js shows such arcs in hex). `content` must have passed the
 * canonical-DER check, which rejects empty contents and an unfinished arc.
 */
export function objectIdentifierText(content: Uint8Array): string | undefined {
  let text = '';
  let arc = 0;
  let arcBytes = 0;
  for (const byte of content) {
    arc = arc * 128 + (byte & 0x7f);
    arcBytes += 1;
    if (arcBytes > MAX_ARC_BYTES) return undefined;
    if (byte & 0x80) continue;
    if (text === '') {
      // The first subidentifier encodes the first two arcs as 40 * first + second.
      let first = 2;
      if (arc <= 39) first = 0;
      else if (arc <= 79) first = 1;
      text = `${first}.${arc - 40 * first}`;
    } else {
      text += `.${arc}`;
    }
    arc = 0;
    arcBytes = 0;
  }
  return text;
}

/**
 * Read the identifier and length octets at `offset` of bytes that have passed
 * the canonical-DER check, which has already bounded every length.
 */
export function readHeader(bytes: Uint8Array, offset: number): Element {
  const tag = bytes[offset];
  let position = offset + 1;
  if ((tag & 0x1f) === 0x1f) {
    while (bytes[position] & 0x80) position += 1;
    position += 1;
  }
  let length = bytes[position];
  position += 1;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + bytes[position + i];
    position += count;
  }
  return { tag, start: offset, contentStart: position, end: position + length };
}
