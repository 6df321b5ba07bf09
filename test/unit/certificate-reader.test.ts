import { X509Certificate } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRootCa, issueCertificate, issueIntermediateCa } from '../../infra/local/openssl-ca.js';
import { extensionValueBytes, readCertificate, readHeader } from '../../functions/pki/certificate-reader.js';
import { MalformedInput, certificateBytes, clearParsedCertificates, parseCertificate, parseCertificateBySchema, spkiBytes } from '../../functions/pki/der.js';
import { testDataPath } from '../helpers/testdata.js';

const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');

/** Everything a caller can read from a parsed certificate, as plain data, so two parses compare with toEqual. */
function describeCertificate(cert: pkijs.Certificate) {
  const name = (rdn: pkijs.RelativeDistinguishedNames) => ({
    der: hex(rdn.valueBeforeDecode),
    attributes: rdn.typesAndValues.map((tv) => ({ type: tv.type, kind: tv.value.constructor.name, der: hex(tv.value.valueBeforeDecodeView), json: tv.value.toJSON() })),
  });
  const algorithm = (id: pkijs.AlgorithmIdentifier) => ({
    id: id.algorithmId,
    hasParams: 'algorithmParams' in id,
    params: id.algorithmParams ? { kind: id.algorithmParams.constructor.name, json: id.algorithmParams.toJSON() } : undefined,
  });
  const bytes = certificateBytes(cert);
  return {
    json: cert.toJSON(),
    keys: Object.keys(cert),
    tbs: hex(cert.tbsView),
    version: cert.version,
    serial: { kind: cert.serialNumber.constructor.name, der: hex(cert.serialNumber.valueBeforeDecodeView), json: cert.serialNumber.toJSON() },
    signature: algorithm(cert.signature),
    signatureAlgorithm: algorithm(cert.signatureAlgorithm),
    signatureValue: cert.signatureValue.toJSON(),
    issuer: name(cert.issuer),
    subject: name(cert.subject),
    notBefore: { type: cert.notBefore.type, value: cert.notBefore.value.getTime() },
    notAfter: { type: cert.notAfter.type, value: cert.notAfter.value.getTime() },
    spki: { algorithm: algorithm(cert.subjectPublicKeyInfo.algorithm), key: cert.subjectPublicKeyInfo.subjectPublicKey.toJSON(), der: hex(spkiBytes(cert.subjectPublicKeyInfo)!) },
    issuerUniqueID: cert.issuerUniqueID ? hex(cert.issuerUniqueID) : undefined,
    subjectUniqueID: cert.subjectUniqueID ? hex(cert.subjectUniqueID) : undefined,
    extensions: cert.extensions?.map((ext) => ({ id: ext.extnID, critical: ext.critical, contents: hex(extensionValueBytes(ext)), value: ext.extnValue.toJSON(), der: hex(ext.extnValue.valueBeforeDecodeView) })),
    recorded: bytes && { der: hex(bytes.der), sha256: bytes.sha256, inner: hex(bytes.innerSignatureAlgorithm), outer: hex(bytes.outerSignatureAlgorithm) },
  };
}

/** Parse with both paths and return each one's description or error message. */
function parseBoth(der: Uint8Array): { fast: unknown; general: unknown } {
  const outcome = (parse: () => pkijs.Certificate) => {
    try {
      return { parsed: describeCertificate(parse()) };
    } catch (error) {
      expect(error).toBeInstanceOf(MalformedInput);
      return { error: (error as Error).message };
    }
  };
  clearParsedCertificates();
  return { fast: outcome(() => parseCertificate(der)), general: outcome(() => parseCertificateBySchema(der)) };
}

/** Encode a TLV with a DER length. */
function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(contents);
  const length = body.length;
  let lengthBytes = [0x82, length >> 8, length & 0xff];
  if (length < 0x80) lengthBytes = [length];
  else if (length < 0x100) lengthBytes = [0x81, length];
  return new Uint8Array([tag, ...lengthBytes, ...body]);
}

/** Return the complete encodings of the elements inside the constructed value at the start of `der`. */
function childrenOf(der: Uint8Array): Uint8Array[] {
  const outer = readHeader(der, 0);
  const children: Uint8Array[] = [];
  for (let offset = outer.contentStart; offset < outer.end; ) {
    const child = readHeader(der, offset);
    children.push(der.subarray(offset, child.end));
    offset = child.end;
  }
  return children;
}

/** Rebuild a certificate with its tbsCertificate elements changed by `edit`. */
function editTbs(der: Uint8Array, edit: (fields: Uint8Array[]) => Uint8Array[]): Uint8Array {
  const [tbs, ...rest] = childrenOf(der);
  return tlv(0x30, tlv(0x30, ...edit(childrenOf(tbs))), ...rest);
}

const pkitsDir = testDataPath('pkits', 'certs');
const pkits = readdirSync(pkitsDir).map((name) => ({ name, der: new Uint8Array(readFileSync(join(pkitsDir, name))) }));
const generated: { name: string; der: Uint8Array }[] = [];

beforeAll(async () => {
  for (const algorithm of ['rsa', 'ec', 'sm2'] as const) {
    const root = await createRootCa(await mkdtemp(join(tmpdir(), 'tif-reader-root-')), `Reader ${algorithm} Root`, algorithm, { crlUrl: 'http://127.0.0.1:9/root.crl' });
    const issuing = await issueIntermediateCa(root, await mkdtemp(join(tmpdir(), 'tif-reader-issuing-')), `Reader ${algorithm} Issuing`, algorithm, { crlUrl: 'http://127.0.0.1:9/issuing.crl' });
    const leaf = await issueCertificate(issuing, { id: 'leaf', subject: '/C=CN/O=Reader 企业/serialNumber=91440300MA5G000001/CN=Reader', algorithm });
    for (const [role, pem] of [['root', root.certPem], ['issuing', issuing.certPem], ['leaf', leaf.certPem]]) {
      generated.push({ name: `${algorithm} ${role}`, der: new Uint8Array(new X509Certificate(pem).raw) });
    }
  }
}, 60_000);

describe('certificate reader', () => {
  it('reads PKITS certificates as pkijs does', () => {
    let read = 0;
    for (const { name, der } of pkits) {
      if (readCertificate(new Uint8Array(der))) read += 1;
      const { fast, general } = parseBoth(der);
      expect(fast, name).toEqual(general);
      expect(fast, name).toHaveProperty('parsed');
    }
    // Every PKITS certificate has the common shape. The count shows that the reader, not the general path, ran.
    expect(read).toBe(pkits.length);
  });

  it('reads RSA, ECDSA and SM2 certificates as pkijs does', () => {
    expect(generated).toHaveLength(9);
    for (const { name, der } of generated) {
      expect(readCertificate(new Uint8Array(der)), name).toBeDefined();
      const { fast, general } = parseBoth(der);
      expect(fast, name).toEqual(general);
      expect(fast, name).toHaveProperty('parsed');
    }
  });

  it('agrees with pkijs on mutated certificates', () => {
    // Seeded byte flips in a PKITS certificate and a generated SM2 leaf: both paths must
    // accept the same inputs with the same result, and reject the rest with the same message.
    let seed = 777;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const originals = [pkits.find((item) => item.name === 'GoodCACert.crt')!.der, generated.find((item) => item.name === 'sm2 leaf')!.der];
    let accepted = 0;
    let rejected = 0;
    for (let round = 0; round < 1000; round += 1) {
      const mutated = new Uint8Array(originals[round % originals.length]);
      const flips = 1 + Math.floor(random() * 2);
      for (let i = 0; i < flips; i += 1) {
        const position = random() < 0.5 ? Math.floor(random() * 80) : Math.floor(random() * mutated.length);
        mutated[position] = Math.floor(random() * 256);
      }
      const { fast, general } = parseBoth(mutated);
      expect(fast, `round ${round}`).toEqual(general);
      if ('parsed' in (fast as object)) accepted += 1;
      else rejected += 1;
    }
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });
});

describe('certificate reader on uncommon and hostile input', () => {
  const base = () => pkits.find((item) => item.name === 'GoodCACert.crt')!.der;

  /** Inputs the reader leaves to the general path; both paths must still agree. */
  const uncommon: [string, () => Uint8Array][] = [
    ['an element after the extensions', () => editTbs(base(), (fields) => [...fields, tlv(0x02, new Uint8Array([1]))])],
    ['an element after the signature', () => tlv(0x30, ...childrenOf(base()), tlv(0x05))],
    ['an empty RDN in the subject', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 5 ? tlv(0x30, ...childrenOf(field), tlv(0x31)) : field)))],
    ['an empty extension list', () => editTbs(base(), (fields) => [...fields.slice(0, -1), tlv(0xa3, tlv(0x30))])],
    ['a third validity time', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 4 ? tlv(0x30, ...childrenOf(field), childrenOf(field)[0]) : field)))],
    ['an object identifier arc of 8 bytes', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 2 ? tlv(0x30, tlv(0x06, new Uint8Array([0x2a, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01]))) : field)))],
    ['an algorithm identifier with three elements', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 2 ? tlv(0x30, ...childrenOf(field), tlv(0x05)) : field)))],
  ];
  for (const [label, build] of uncommon) {
    it(`leaves ${label} to pkijs`, () => {
      const der = build();
      expect(readCertificate(new Uint8Array(der))).toBeUndefined();
      const { fast, general } = parseBoth(der);
      expect(fast).toEqual(general);
    });
  }

  /** Rarer inputs of the common shape, which the reader handles itself. */
  const rare: [string, () => Uint8Array][] = [
    ['an empty subject', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 5 ? tlv(0x30) : field)))],
    ['unique identifiers', () => editTbs(base(), (fields) => [...fields.slice(0, -1), tlv(0x81, new Uint8Array([0, 1, 2])), tlv(0x82, new Uint8Array([0, 7])), fields[fields.length - 1]])],
    ['a version 1 certificate without extensions', () => editTbs(base(), (fields) => fields.slice(1, -1))],
    ['a critical flag of 0x01', () => editTbs(base(), (fields) => {
      const [first, ...others] = childrenOf(childrenOf(fields[fields.length - 1])[0]);
      const parts = childrenOf(first);
      const [id, value] = [parts[0], parts[parts.length - 1]];
      return [...fields.slice(0, -1), tlv(0xa3, tlv(0x30, tlv(0x30, id, tlv(0x01, new Uint8Array([1])), value), ...others))];
    })],
  ];
  for (const [label, build] of rare) {
    it(`reads ${label} as pkijs does`, () => {
      const der = build();
      expect(readCertificate(new Uint8Array(der))).toBeDefined();
      const { fast, general } = parseBoth(der);
      expect(fast).toEqual(general);
      expect(fast).toHaveProperty('parsed');
    });
  }

  const hostile: [string, () => Uint8Array, RegExp][] = [
    ['a truncated certificate', () => base().subarray(0, 500), /not canonical DER/],
    ['a trailing byte', () => new Uint8Array([...base(), 0]), /1 trailing byte/],
    ['tbsCertificate tagged as a SET', () => tlv(0x30, tlv(0x31, ...childrenOf(childrenOf(base())[0])), ...childrenOf(base()).slice(1)), /not an X.509 certificate/],
    ['a serial number tagged as a BOOLEAN', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 1 ? tlv(0x01, new Uint8Array([1])) : field))), /not an X.509 certificate/],
    ['a validity time that is not a time', () => editTbs(base(), (fields) => fields.map((field, i) => (i === 4 ? tlv(0x30, tlv(0x18, Buffer.from('2024x1010000000Z')), childrenOf(field)[1]) : field))), /invalid ASN.1/],
    ['a length of 4 GiB', () => new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00]), /runs past the end/],
    ['values nested 100 deep', () => Array.from({ length: 100 }).reduce<Uint8Array>((inner) => tlv(0x30, inner), tlv(0x05)), /nested more than 64 levels/],
    ['an empty input', () => new Uint8Array(), /it is empty/],
  ];
  for (const [label, build, message] of hostile) {
    it(`rejects ${label} as pkijs does`, () => {
      const der = build();
      const { fast, general } = parseBoth(der);
      expect(fast).toEqual(general);
      expect((fast as { error?: string }).error).toMatch(message);
    });
  }

  it('decodes extnValue on first read', () => {
    const der = new Uint8Array(base());
    clearParsedCertificates();
    const [first, second] = parseCertificate(der).extensions!;
    const contents = hex(extensionValueBytes(first));
    expect(Object.getOwnPropertyDescriptor(first, 'extnValue')?.get).toBeDefined();
    expect(hex(first.extnValue.valueBlock.valueHexView)).toBe(contents);
    expect(Object.getOwnPropertyDescriptor(first, 'extnValue')?.get).toBeUndefined();
    expect(first.extnValue).toBe(first.extnValue);
    // Assigning a new value replaces what extensionValueBytes returns.
    second.extnValue = new asn1js.OctetString({ valueHex: new Uint8Array([1, 2, 3]) });
    expect(hex(extensionValueBytes(second))).toBe('010203');
    clearParsedCertificates();
  });

  it('leaves input over 20,000 bytes to pkijs', () => {
    // A large extension (as in a certificate with many alternative names) pushes the input past the limit.
    const big = tlv(0x30, tlv(0x06, new Uint8Array([0x2a, 0x03])), tlv(0x04, new Uint8Array(21_000)));
    const der = editTbs(base(), (fields) => {
      const extensions = childrenOf(childrenOf(fields[fields.length - 1])[0]);
      return [...fields.slice(0, -1), tlv(0xa3, tlv(0x30, ...extensions, big))];
    });
    expect(der.byteLength).toBeGreaterThan(20_000);
    expect(readCertificate(new Uint8Array(der))).toBeUndefined();
    const { fast, general } = parseBoth(der);
    expect(fast).toEqual(general);
    expect(fast).toHaveProperty('parsed');
  });
});
