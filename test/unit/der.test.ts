import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import { describe, expect, it } from 'vitest';
import { MalformedInput, parseCertificate, parseSingleDer } from '../../functions/pki/der.js';
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
