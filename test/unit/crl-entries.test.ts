import { readdirSync, readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { splitCrl } from '../../functions/pki/crl-entries.js';
import { MalformedInput } from '../../functions/pki/der.js';
import { parseCrl } from '../../functions/pki/revocation.js';
import { testDataPath } from '../helpers/testdata.js';

const crlDirectory = testDataPath('pkits', 'crls');
const crlFiles = readdirSync(crlDirectory).filter((name) => name.endsWith('.crl'));

/** Decode a CRL whole with asn1js and pkijs, the reference for the split reading. */
function referenceCrl(der: Uint8Array): pkijs.CertificateRevocationList {
  const decoded = asn1js.fromBER(der, { maxNodes: der.byteLength });
  return new pkijs.CertificateRevocationList({ schema: decoded.result });
}

function referenceEntries(crl: pkijs.CertificateRevocationList) {
  return (crl.revokedCertificates ?? []).map((entry) => {
    const extensions = entry.crlEntryExtensions?.extensions ?? [];
    const reason = extensions.find((ext) => ext.extnID === '2.5.29.21');
    return {
      serial: Buffer.from(entry.userCertificate.valueBlock.valueHexView).toString('hex').toUpperCase(),
      revocationDate: entry.revocationDate.value.toISOString(),
      reasonCode: (reason?.parsedValue as { valueBlock?: { valueDec?: number } } | undefined)?.valueBlock?.valueDec,
      criticalExtensions: extensions.filter((ext) => ext.critical).map((ext) => ext.extnID),
    };
  });
}

/** Find the offset of the first revoked entry's serial INTEGER with these content bytes. */
function serialOffset(der: Uint8Array, serial: number[]): number {
  const needle = Buffer.from([0x02, serial.length, ...serial]);
  return Buffer.from(der).indexOf(needle);
}

describe('split CRL reading', () => {
  it('has PKITS CRLs to compare', () => {
    expect(crlFiles.length).toBeGreaterThan(50);
  });

  it.each(crlFiles)('reads %s as pkijs does', (name) => {
    const der = new Uint8Array(readFileSync(`${crlDirectory}/${name}`));
    const reference = referenceCrl(der);
    const split = splitCrl(der, name);
    const entries = [...split.entries].map(([serial, entry]) => ({
      serial,
      revocationDate: entry.revocationDate.toISOString(),
      reasonCode: entry.reasonCode,
      criticalExtensions: entry.criticalExtensions,
    }));
    expect(entries).toEqual(referenceEntries(reference));
    expect(Buffer.from(split.tbs).equals(Buffer.from(reference.tbsView))).toBe(true);

    const parsed = parseCrl(der, name);
    expect(parsed.crl.revokedCertificates).toBeUndefined();
    expect(parsed.crl.thisUpdate.value.getTime()).toBe(reference.thisUpdate.value.getTime());
    expect(parsed.crl.nextUpdate?.value.getTime()).toBe(reference.nextUpdate?.value.getTime());
    expect(parsed.crl.issuer.isEqual(reference.issuer)).toBe(true);
    expect(parsed.crl.crlExtensions?.extensions.map((ext) => ext.extnID)).toEqual(reference.crlExtensions?.extensions.map((ext) => ext.extnID));
  });

  it('reads a CRL of more than 10,000 ASN.1 nodes', () => {
    const base = new Uint8Array(readFileSync(`${crlDirectory}/GoodCACRL.crl`));
    const reference = referenceCrl(base);
    const entry = reference.revokedCertificates![0];
    reference.revokedCertificates = Array.from({ length: 3000 }, (_, index) => {
      const copy = new pkijs.RevokedCertificate({ schema: entry.toSchema() });
      copy.userCertificate = new asn1js.Integer({ value: 100_000 + index });
      return copy;
    });
    const der = new Uint8Array(reference.toSchema(true).toBER(false));
    expect(parseCrl(der).entries.size).toBe(3000);
  });

  it('rejects a serial number of the wrong type', () => {
    const der = new Uint8Array(readFileSync(`${crlDirectory}/GoodCACRL.crl`));
    const first = referenceCrl(der).revokedCertificates![0];
    const offset = serialOffset(der, [...first.userCertificate.valueBlock.valueHexView]);
    expect(offset).toBeGreaterThan(0);
    const damaged = new Uint8Array(der);
    damaged[offset] = 0x04;
    expect(() => splitCrl(damaged, 'CRL')).toThrow(MalformedInput);
    expect(() => splitCrl(damaged, 'CRL')).toThrow(/has no serial number/);
  });

  it('rejects a revocation date that is not a time', () => {
    const der = new Uint8Array(readFileSync(`${crlDirectory}/GoodCACRL.crl`));
    const first = referenceCrl(der).revokedCertificates![0];
    const offset = serialOffset(der, [...first.userCertificate.valueBlock.valueHexView]);
    const timeOffset = offset + 2 + first.userCertificate.valueBlock.valueHexView.byteLength;
    expect(der[timeOffset]).toBe(0x17);
    const damaged = new Uint8Array(der);
    damaged[timeOffset + 2] = 'X'.charCodeAt(0);
    expect(() => splitCrl(damaged, 'CRL')).toThrow(/is not in the form RFC 5280 requires/);
  });

  it('rejects a month 13 revocation date', () => {
    const der = new Uint8Array(readFileSync(`${crlDirectory}/GoodCACRL.crl`));
    const first = referenceCrl(der).revokedCertificates![0];
    const offset = serialOffset(der, [...first.userCertificate.valueBlock.valueHexView]);
    const timeOffset = offset + 2 + first.userCertificate.valueBlock.valueHexView.byteLength;
    const damaged = new Uint8Array(der);
    damaged.set(Buffer.from('13'), timeOffset + 4);
    expect(() => splitCrl(damaged, 'CRL')).toThrow(/is not a valid date/);
  });

  it('rejects truncated and trailing bytes', () => {
    const der = new Uint8Array(readFileSync(`${crlDirectory}/GoodCACRL.crl`));
    expect(() => splitCrl(der.subarray(0, der.byteLength - 1), 'CRL')).toThrow(MalformedInput);
    expect(() => splitCrl(new Uint8Array([...der, 0]), 'CRL')).toThrow(/trailing byte/);
  });

  it('rejects a structure that is not a CRL', () => {
    const certificate = new Uint8Array(readFileSync(testDataPath('pkits', 'certs', 'GoodCACert.crt')));
    expect(() => parseCrl(certificate, 'CRL')).toThrow(MalformedInput);
  });
});
