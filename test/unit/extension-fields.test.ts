import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { OID } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { extensionValueProblem } from '../../functions/pki/extension-values.js';
import { authorityKeyIdentifierOnly, basicConstraintsFields, extendedKeyUsageIds, keyUsageBytes, subjectKeyIdentifier } from '../../functions/pki/extension-fields.js';
import { testDataPath } from '../helpers/testdata.js';

const hex = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString('hex') : undefined);

/** Each reader next to the value the same field had when read through pkijs's parsedValue. */
const readers: Record<string, { read: (ext: pkijs.Extension) => unknown; reference: (ext: pkijs.Extension) => unknown }> = {
  [OID.authorityKeyIdentifier]: {
    read: (ext) => hex(authorityKeyIdentifierOnly(ext)),
    reference: (ext) => hex((ext.parsedValue as pkijs.AuthorityKeyIdentifier | undefined)?.keyIdentifier?.valueBlock.valueHexView),
  },
  [OID.subjectKeyIdentifier]: {
    read: (ext) => hex(subjectKeyIdentifier(ext)),
    reference: (ext) => hex((ext.parsedValue as { valueBlock?: { valueHexView: Uint8Array } } | undefined)?.valueBlock?.valueHexView),
  },
  [OID.keyUsage]: {
    read: (ext) => hex(keyUsageBytes(ext)),
    reference: (ext) => hex((ext.parsedValue as { valueBlock?: { valueHexView: Uint8Array } } | undefined)?.valueBlock?.valueHexView),
  },
  [OID.basicConstraints]: {
    read: (ext) => basicConstraintsFields(ext),
    reference: (ext) => {
      const parsed = ext.parsedValue as pkijs.BasicConstraints | undefined;
      if (!parsed) return { cA: false };
      const pathLen = parsed.pathLenConstraint;
      const pathLenConstraint = typeof pathLen === 'number' ? pathLen : pathLen?.valueBlock?.valueDec;
      return pathLenConstraint === undefined ? { cA: Boolean(parsed.cA) } : { cA: Boolean(parsed.cA), pathLenConstraint };
    },
  },
  [OID.extKeyUsage]: {
    read: (ext) => extendedKeyUsageIds(ext),
    reference: (ext) => (ext.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [],
  },
};

const extensionWith = (extnID: string, value: Uint8Array) => new pkijs.Extension({ extnID, extnValue: value.slice().buffer });

/** Check that a reader that returns a value returns the pkijs one, and return whether it returned one. */
function expectAgreement(extnID: string, value: Uint8Array, label: string): boolean {
  const { read, reference } = readers[extnID];
  const fast = read(extensionWith(extnID, value));
  if (fast === undefined) return false;
  expect(fast, label).toEqual(reference(extensionWith(extnID, value)));
  return true;
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text.replace(/ /g, ''), 'hex'));

/** Values in each layout the readers handle, and some they leave to pkijs. */
const samples: [string, string][] = [
  [OID.authorityKeyIdentifier, '3016 8014 00112233445566778899aabbccddeeff00112233'],
  [OID.authorityKeyIdentifier, '3000'],
  [OID.authorityKeyIdentifier, '300b a106 a404 3002 3100 820101'],
  [OID.authorityKeyIdentifier, '3010 8002 0102 a106 a404 3002 3100 820101'],
  [OID.subjectKeyIdentifier, '0414 00112233445566778899aabbccddeeff00112233'],
  [OID.subjectKeyIdentifier, '0400'],
  [OID.keyUsage, '03020186'],
  [OID.keyUsage, '0303070080'],
  [OID.basicConstraints, '3000'],
  [OID.basicConstraints, '3003 0101ff'],
  [OID.basicConstraints, '3006 0101ff 020100'],
  [OID.basicConstraints, '3006 0101ff 02017f'],
  [OID.basicConstraints, '3006 0101ff 020180'],
  [OID.basicConstraints, '3003 020105'],
  [OID.basicConstraints, '3007 0101ff 02020100'],
  [OID.basicConstraints, '3006 010101 020103'],
  [OID.extKeyUsage, '300a 06082b06010505070302'],
  [OID.extKeyUsage, '3014 06082b06010505070302 06082b06010505070304'],
  [OID.extKeyUsage, '3000'],
];

describe('extension field readers', () => {
  it('agree with pkijs on PKITS extensions', () => {
    const dir = testDataPath('pkits', 'certs');
    let read = 0;
    for (const name of readdirSync(dir)) {
      const cert = parseCertificate(new Uint8Array(readFileSync(join(dir, name))));
      for (const ext of cert.extensions ?? []) {
        if (!readers[ext.extnID]) continue;
        if (expectAgreement(ext.extnID, ext.extnValue.valueBlock.valueHexView, `${name} ${ext.extnID}`)) read += 1;
      }
    }
    expect(read).toBeGreaterThan(1000);
  });

  it('agree with pkijs on sample values', () => {
    let read = 0;
    for (const [extnID, value] of samples) {
      if (expectAgreement(extnID, bytes(value), `${extnID} ${value}`)) read += 1;
    }
    // Five samples (AKI without a keyIdentifier or with authorityCertIssuer, long pathLenConstraints) are left to pkijs.
    expect(read).toBe(samples.length - 5);
  });

  it('leave uncommon layouts to pkijs', () => {
    // authorityCertIssuer, a pathLenConstraint above 127 or of 2 bytes, a non-canonical length and a trailing byte.
    const uncommon: [string, string][] = [
      [OID.authorityKeyIdentifier, '3010 8002 0102 a106 a404 3002 3100 820101'],
      [OID.basicConstraints, '3006 0101ff 020180'],
      [OID.basicConstraints, '3007 0101ff 02020100'],
      [OID.subjectKeyIdentifier, '048102 0102'],
      [OID.keyUsage, '03020186 00'],
    ];
    for (const [extnID, value] of uncommon) {
      expect(readers[extnID].read(extensionWith(extnID, bytes(value))), value).toBeUndefined();
    }
  });

  it('agree with pkijs on mutated values', () => {
    let seed = 99;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let read = 0;
    for (let round = 0; round < 3000; round += 1) {
      const [extnID, text] = samples[round % samples.length];
      const value = bytes(text);
      value[Math.floor(random() * value.length)] = Math.floor(random() * 256);
      if (expectAgreement(extnID, value, `round ${round}: ${Buffer.from(value).toString('hex')}`)) read += 1;
    }
    expect(read).toBeGreaterThan(200);
  });

  it('need no schema check for common layouts', () => {
    // extensionValueProblem skips the pkijs schema for values these readers accept, so the schema must accept them too.
    const schemas: Record<string, () => asn1js.AsnType> = {
      [OID.authorityKeyIdentifier]: () => pkijs.AuthorityKeyIdentifier.schema(),
      [OID.basicConstraints]: () => pkijs.BasicConstraints.schema(),
      [OID.extKeyUsage]: () => pkijs.ExtKeyUsage.schema(),
    };
    let seed = 5;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let checked = 0;
    for (let round = 0; round < 3000; round += 1) {
      const [extnID, text] = samples[round % samples.length];
      if (!schemas[extnID]) continue;
      const value = bytes(text);
      if (round >= samples.length) value[Math.floor(random() * value.length)] = Math.floor(random() * 256);
      const ext = extensionWith(extnID, value);
      if (readers[extnID].read(ext) === undefined) continue;
      const decoded = asn1js.fromBER(value);
      expect(decoded.offset, text).toBe(value.length);
      expect(asn1js.compareSchema(decoded.result, decoded.result, schemas[extnID]()).verified, text).toBe(true);
      const empty = extnID === OID.extKeyUsage && (decoded.result as asn1js.Sequence).valueBlock.value.length === 0;
      expect(extensionValueProblem(ext), text).toBe(empty ? 'its ExtKeyUsageSyntax must contain at least one entry' : undefined);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(300);
  });
});
