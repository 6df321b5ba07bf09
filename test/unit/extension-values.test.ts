import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../functions/pki/der.js';
import { StaticRevocationSource } from '../../functions/pki/revocation.js';
import { TrustStore } from '../../functions/pki/trust-store.js';
import { validatePath } from '../../functions/pki/validate.js';
import { createRootCa, issueCertificate, profileWithoutRevocation, tempDir, type TestCa } from '../helpers/pki.js';

const CREDIT_CODE = '914403001922038216';

/**
 * Extension sections added to the test CA's openssl config. Each gives one
 * extension a raw DER value that is not what RFC 5280 defines for it.
 */
const DAMAGED: { section: string; oid: string; value: string; problem: RegExp }[] = [
  { section: 'ku_null_ext', oid: '2.5.29.15', value: 'critical,DER:0500', problem: /must be a KeyUsage/ },
  { section: 'ku_trailing_ext', oid: '2.5.29.15', value: 'critical,DER:03020780FF', problem: /trailing byte/ },
  { section: 'bc_integer_ext', oid: '2.5.29.19', value: 'critical,DER:020101', problem: /not a valid BasicConstraints/ },
  { section: 'eku_empty_ext', oid: '2.5.29.37', value: 'DER:3000', problem: /at least one entry/ },
  { section: 'eku_null_ext', oid: '2.5.29.37', value: 'DER:0500', problem: /not a valid ExtKeyUsageSyntax/ },
  { section: 'crldp_null_ext', oid: '2.5.29.31', value: 'DER:0500', problem: /not a valid CRLDistributionPoints/ },
  { section: 'ski_long_length_ext', oid: '2.5.29.14', value: 'DER:04810401020304', problem: /not canonical DER/ },
];

describe('extension values in path validation', () => {
  let ca: TestCa;
  let store: TrustStore;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Extension Test CA', 'ec');
    const sections = DAMAGED.map(({ section, oid, value }) => {
      // Every section keeps valid leaf extensions except the damaged one.
      const base = [
        oid === '2.5.29.19' ? '' : 'basicConstraints = critical, CA:false',
        oid === '2.5.29.15' ? '' : 'keyUsage = critical, digitalSignature',
        oid === '2.5.29.14' ? '' : 'subjectKeyIdentifier = hash',
        `${oid} = ${value}`,
      ];
      return `\n[ ${section} ]\n${base.filter(Boolean).join('\n')}\n`;
    });
    await appendFile(join(ca.dir, 'openssl.cnf'), sections.join(''));
    store = new TrustStore([profileWithoutRevocation('ext-ca', 'Extension Test CA', [ca.certPem])], 1);
  }, 60_000);

  const validate = async (extensions: string) => {
    const issued = await issueCertificate(ca, { id: extensions, subject: `/C=CN/O=Example/serialNumber=${CREDIT_CODE}/CN=Example`, extensions });
    return validatePath(parseCertificate(issued.certPem), [], store, { at: new Date(), usage: 'path', revocation: new StaticRevocationSource([]) });
  };

  it('accepts well-formed enterprise extensions', async () => {
    const validated = await validate('enterprise_ext');
    expect(validated.path.length).toBe(2);
  }, 30_000);

  for (const { section, oid, problem } of DAMAGED) {
    it(`rejects ${section.replace(/_ext$/, '').replaceAll('_', ' ')}`, async () => {
      const rejection = await validate(section).then(
        () => undefined,
        (error: unknown) => error as { code?: string; message?: string },
      );
      expect(rejection?.code).toBe('MALFORMED');
      expect(rejection?.message).toContain(`extension ${oid} is malformed`);
      expect(rejection?.message).toMatch(problem);
    }, 30_000);
  }

  it('accepts well-formed extensions after damaged ones', async () => {
    // Schemas are shared between checks, so a failed match must leave nothing behind.
    const validated = await validate('enterprise_ext');
    expect(validated.path.length).toBe(2);
  }, 30_000);
});
