import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../functions/pki/der.js';
import { locateCreditCode } from '../../functions/pki/credit-code-locator.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { parseCaProfileInput } from '../../functions/services/ca-profile-input.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, tempDir, type TestCa } from '../helpers/pki.js';

let ca: TestCa;

beforeAll(async () => {
  ca = await createRootCa(await tempDir(), 'Locator CA', 'ec');
});

describe('credit code pattern', () => {
  it('extracts the code from a CN with other text', async () => {
    const code = randomCreditCode();
    const holder = await enterpriseHolder(ca, 'pattern-cn', code, { subject: `/C=CN/O=模式测试公司/CN=模式测试公司(${code})@0100` });
    const profile = { ...defaultProfile('locator', 'Locator CA', [ca.certPem]), creditCodeLocation: { source: 'cn' as const }, creditCodePattern: '\\(([0-9A-Z]{18})\\)' };
    const located = locateCreditCode(parseCertificate(holder.certPem), profile);
    expect(located.code).toBe(code);
    expect(located.checkValid).toBe(true);
  });

  it('reports a missing code when the pattern does not match', async () => {
    const code = randomCreditCode();
    const holder = await enterpriseHolder(ca, 'pattern-miss', code, { subject: `/C=CN/O=模式测试公司/CN=${code}` });
    const profile = { ...defaultProfile('locator', 'Locator CA', [ca.certPem]), creditCodeLocation: { source: 'cn' as const }, creditCodePattern: '^X([0-9A-Z]{18})$' };
    expect(() => locateCreditCode(parseCertificate(holder.certPem), profile)).toThrow(/no 18-character credit code found/);
  });

  it('rejects nested quantifiers at input', () => {
    const body = { id: 'locator', name: 'Locator CA', anchors: [ca.certPem], creditCodePattern: '^(\\w+)+$' };
    expect(() => parseCaProfileInput(body)).toThrow(/nested quantifiers/);
  });

  it('accepts a plain pattern at input', () => {
    const body = { id: 'locator', name: 'Locator CA', anchors: [ca.certPem], creditCodePattern: '^91[0-9A-Z]{16}' };
    expect(parseCaProfileInput(body).creditCodePattern).toBe('^91[0-9A-Z]{16}');
  });
});
