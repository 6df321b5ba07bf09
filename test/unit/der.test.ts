import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as pkijs from 'pkijs';
import { fingerprint, issuerNameHash, signatureAlgorithmsMatch, spkiHash, subjectNameHash } from '../../functions/pki/certificate.js';
import { MalformedInput, certificateBytes, clearParsedCertificates, parseCertificate, parseSingleDer, spkiBytes } from '../../functions/pki/der.js';
import { parseCrl } from '../../functions/pki/revocation.js';
import { testDataPath } from '../helpers/testdata.js';

const certificate = new Uint8Array(readFileSync(testDataPath('pkits', 'certs', 'GoodCACert.crt')));
const crl = new Uint8Array(readFileSync(testDataPath('pkits', 'crls', 'GoodCACRL.crl')));

describe('strict DER parsing', () => {
  it('parses a certificate', () => {
    expect(parseCertificate(certificate).serialNumber.valueBlock.valueDec).toBe(2);
  });

  it('rejects a trailing byte after a certificate', () => {
    expect(() => parseCertificate(new Uint8Array([...certificate, 0]))).toThrow(MalformedInput);
    expect(() => parseCertificate(new Uint8Array([...certificate, 0]))).toThrow(/1 trailing byte/);
  });

  it('rejects a truncated certificate', () => {
    expect(() => parseCertificate(certificate.subarray(0, certificate.length - 10))).toThrow(MalformedInput);
  });

  it('rejects a non-minimal length encoding', () => {
    // 30 82 LL LL -> 30 83 00 LL LL: the same length in a longer, non-DER form.
    const longForm = new Uint8Array([0x30, 0x83, 0x00, certificate[2], certificate[3], ...certificate.subarray(4)]);
    expect(() => parseCertificate(longForm)).toThrow(/not canonical/);
  });

  it('names text that is not base64 DER', () => {
    expect(() => parseCertificate('hello')).toThrow(/not a PEM or base64 DER certificate/);
    expect(() => parseCertificate('hello')).toThrow(/starting 85 E9/);
  });

  it('keeps DER messages for base64 DER', () => {
    const longForm = new Uint8Array([0x30, 0x83, 0x00, certificate[2], certificate[3], ...certificate.subarray(4)]);
    expect(() => parseCertificate(Buffer.from(longForm).toString('base64'))).toThrow(/not canonical/);
  });

  it('rejects a trailing byte after a CRL', () => {
    expect(() => parseCrl(new Uint8Array([...crl, 0]))).toThrow(MalformedInput);
  });
});

/** Apply the rule that the strict check replaced: asn1js decodes all input and re-encodes it to the same bytes. */
function roundTrips(der: Uint8Array): boolean {
  try {
    const parsed = asn1js.fromBER(der);
    if (parsed.offset !== der.byteLength) return false;
    return Buffer.from(parsed.result.toBER(false)).equals(Buffer.from(der));
  } catch {
    return false;
  }
}

describe('canonical DER check', () => {
  const malformed: [string, number[]][] = [
    ['indefinite length', [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00]],
    ['length with a leading zero byte', [0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05]],
    ['short length in the long form', [0x30, 0x81, 0x03, 0x02, 0x01, 0x05]],
    ['low tag number in the long form', [0x30, 0x04, 0x1f, 0x02, 0x01, 0x05]],
    ['constructed OCTET STRING', [0x24, 0x05, 0x04, 0x03, 0x01, 0x02, 0x03]],
    ['primitive SEQUENCE', [0x10, 0x01, 0x00]],
    ['inner length past its parent', [0x30, 0x03, 0x02, 0x05, 0x05]],
    ['truncated length', [0x30, 0x82, 0x01]],
  ];
  for (const [name, bytes] of malformed) {
    it(`rejects ${name}`, () => {
      expect(() => parseSingleDer(new Uint8Array(bytes), 'value')).toThrow(MalformedInput);
    });
  }

  it('rejects a GeneralizedTime that is not a time', () => {
    // asn1js throws a plain Error while decoding this; the caller must get MalformedInput.
    const text = [...Buffer.from('2024x1010000000Z')];
    expect(() => parseSingleDer(new Uint8Array([0x30, text.length + 2, 0x18, text.length, ...text]), 'value')).toThrow(MalformedInput);
  });

  it('names the element that breaks the rule', () => {
    expect(() => parseSingleDer(new Uint8Array([0x30, 0x04, 0x02, 0x81, 0x01, 0x05]), 'value')).toThrow(/length 1 is in the long form \(element at byte 2\)/);
  });

  it('rejects non-minimal lengths nested in the certificate', () => {
    // The first element of tbsCertificate, re-encoded with its length in the long form.
    const tbsStart = 4;
    const tbsLength = (certificate[tbsStart + 2] << 8) | certificate[tbsStart + 3];
    const firstInner = tbsStart + 4;
    const innerLength = certificate[firstInner + 1];
    expect(innerLength).toBeLessThan(0x80);
    const inner = [certificate[firstInner], 0x81, innerLength, ...certificate.subarray(firstInner + 2, firstInner + 2 + innerLength)];
    const tbs = [0x30, 0x82, (tbsLength + 1) >> 8, (tbsLength + 1) & 0xff, ...inner, ...certificate.subarray(firstInner + 2 + innerLength, tbsStart + 4 + tbsLength)];
    const rest = certificate.subarray(tbsStart + 4 + tbsLength);
    const total = tbs.length + rest.length;
    const mutated = new Uint8Array([0x30, 0x82, total >> 8, total & 0xff, ...tbs, ...rest]);
    expect(() => parseCertificate(mutated)).toThrow(/not canonical DER/);
  });

  it('accepts every PKITS certificate and CRL', () => {
    for (const folder of ['certs', 'crls']) {
      const dir = `/work/shared/testdata/pkits/${folder}`;
      for (const name of readdirSync(dir)) {
        const der = new Uint8Array(readFileSync(join(dir, name)));
        expect(() => parseSingleDer(der, name), name).not.toThrow();
      }
    }
  });

  it('accepts nothing the re-encoding check rejected', () => {
    // Flip bytes of a real certificate at random positions (seeded) and compare both rules.
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let rejectedByBoth = 0;
    for (let round = 0; round < 3000; round += 1) {
      const mutated = new Uint8Array(certificate);
      const flips = 1 + Math.floor(random() * 3);
      for (let i = 0; i < flips; i += 1) {
        // Bias towards the header bytes, where tags and lengths sit.
        const position = random() < 0.5 ? Math.floor(random() * 64) : Math.floor(random() * mutated.length);
        mutated[position] = Math.floor(random() * 256);
      }
      let accepted = true;
      try {
        parseSingleDer(mutated, 'mutated certificate');
      } catch (error) {
        expect(error).toBeInstanceOf(MalformedInput);
        accepted = false;
      }
      if (accepted) expect(roundTrips(mutated), `round ${round}`).toBe(true);
      else if (!roundTrips(mutated)) rejectedByBoth += 1;
    }
    expect(rejectedByBoth).toBeGreaterThan(100);
  });
});

/** Check that what parseCertificate records from the input bytes equals what re-encoding the pkijs object gives. */
function expectRecordedBytesMatch(cert: pkijs.Certificate, der: Uint8Array, label: string): void {
  const recorded = certificateBytes(cert);
  expect(recorded, label).toBeDefined();
  const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
  expect(hex(recorded!.der), label).toBe(hex(der));
  expect(recorded!.sha256, label).toBe(createHash('sha256').update(der).digest('hex'));
  expect(hex(spkiBytes(cert.subjectPublicKeyInfo)!), label).toBe(hex(cert.subjectPublicKeyInfo.toSchema().toBER(false)));
  expect(hex(recorded!.innerSignatureAlgorithm), label).toBe(hex(cert.signature.toSchema().toBER(false)));
  expect(hex(recorded!.outerSignatureAlgorithm), label).toBe(hex(cert.signatureAlgorithm.toSchema().toBER(false)));
}

describe('recorded certificate bytes', () => {
  it('match re-encoding for every PKITS certificate', () => {
    const dir = testDataPath('pkits', 'certs');
    for (const name of readdirSync(dir)) {
      const der = new Uint8Array(readFileSync(join(dir, name)));
      const cert = parseCertificate(der);
      expectRecordedBytesMatch(cert, der, name);
      expect(fingerprint(cert), name).toBe(createHash('sha256').update(der).digest('hex'));
      expect(signatureAlgorithmsMatch(cert), name).toBe(true);
    }
  });

  it('match re-encoding for a version 1 certificate', () => {
    // openssl x509 -req without extensions issues a version 1 certificate, which has no [0] version field.
    const dir = mkdtempSync(join(tmpdir(), 'tif-der-v1-'));
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'key.pem')]);
    execFileSync('openssl', ['req', '-new', '-key', join(dir, 'key.pem'), '-subj', '/CN=Version 1', '-out', join(dir, 'req.pem')]);
    execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'req.pem'), '-signkey', join(dir, 'key.pem'), '-days', '1', '-outform', 'DER', '-out', join(dir, 'cert.der')], { stdio: 'ignore' });
    const der = new Uint8Array(readFileSync(join(dir, 'cert.der')));
    const cert = parseCertificate(der);
    expect(cert.version).toBe(0);
    expectRecordedBytesMatch(cert, der, 'version 1 certificate');
  });

  it('detect differing inner and outer signature algorithms', () => {
    // GoodCACert is signed with sha256WithRSAEncryption (OID ending in 0x0b). Changing the
    // last OID byte of the outer algorithm to 0x0c (sha384WithRSAEncryption) keeps the DER valid.
    const outerOid = Buffer.from('06092a864886f70d01010b', 'hex');
    const position = Buffer.from(certificate).lastIndexOf(outerOid);
    expect(position).toBeGreaterThan(Buffer.from(certificate).indexOf(outerOid));
    const mutated = new Uint8Array(certificate);
    mutated[position + outerOid.length - 1] = 0x0c;
    const cert = parseCertificate(mutated);
    expect(signatureAlgorithmsMatch(cert)).toBe(false);
    const rebuilt = new pkijs.Certificate({ schema: cert.toSchema() });
    expect(certificateBytes(rebuilt)).toBeUndefined();
    expect(signatureAlgorithmsMatch(rebuilt)).toBe(false);
    expect(spkiHash(rebuilt)).toBe(spkiHash(cert));
  });

  it('match re-encoding for mutated certificates that parse', () => {
    // Seeded byte flips, as in the canonical DER check. Every mutation that still parses must record the right parts.
    let seed = 4242;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let parsed = 0;
    for (let round = 0; round < 1000; round += 1) {
      const mutated = new Uint8Array(certificate);
      const position = Math.floor(random() * mutated.length);
      mutated[position] = Math.floor(random() * 256);
      clearParsedCertificates();
      let cert: pkijs.Certificate;
      try {
        cert = parseCertificate(mutated);
      } catch (error) {
        expect(error).toBeInstanceOf(MalformedInput);
        continue;
      }
      parsed += 1;
      expectRecordedBytesMatch(cert, mutated, `round ${round}, byte ${position}`);
    }
    expect(parsed).toBeGreaterThan(100);
  });
});

describe('name hashes from original bytes', () => {
  it('match the encoded names for every PKITS certificate', () => {
    const dir = testDataPath('pkits', 'certs');
    const names = readdirSync(dir).filter((name) => name.endsWith('.crt'));
    expect(names.length).toBeGreaterThan(100);
    for (const name of names) {
      const der = new Uint8Array(readFileSync(join(dir, name)));
      let cert: pkijs.Certificate;
      try {
        cert = parseCertificate(der, name);
      } catch {
        continue;
      }
      const encodedIssuer = createHash('sha256').update(new Uint8Array(cert.issuer.toSchema().toBER(false))).digest('hex');
      const encodedSubject = createHash('sha256').update(new Uint8Array(cert.subject.toSchema().toBER(false))).digest('hex');
      expect(issuerNameHash(cert), name).toBe(encodedIssuer);
      expect(subjectNameHash(cert), name).toBe(encodedSubject);
    }
  });
});
