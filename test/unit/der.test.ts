import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MalformedInput, parseCertificate } from '../../functions/pki/der.js';
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
