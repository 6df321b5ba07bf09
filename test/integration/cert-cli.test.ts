import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as certCli } from '../../functions/cli/cert.js';
import { getCaProfile, invalidateTrustStore } from '../../functions/db/ca-profiles.js';
import { main as provision } from '../../infra/aws/provision.js';
import { fingerprint } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { markBindingRevoked } from '../../functions/services/certificate-revocation.js';
import { bind, register, type Holder } from '../../infra/local/journey.js';
import { randomCreditCode, withWrongCheck } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, issueCertificate, profileWithoutRevocation, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let holder: Holder;
let certPath: string;
let creditCode: string;
let unboundPath: string;
let badCheckPath: string;
let noCodePath: string;

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  const dir = await tempDir();
  const ca = await createRootCa(`${dir}/ca`, 'CLI Live CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('cli-live-ca', 'CLI Live CA', [ca.certPem]));
  creditCode = randomCreditCode();
  expect((await register(service.url, { creditCode, name: '命令行测试公司', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } })).status).toBe(201);
  holder = await enterpriseHolder(ca, 'cli-live', creditCode, { name: '命令行测试公司' });
  expect((await bind(service.url, creditCode, holder, { confirmDetails: true })).status).toBe(201);
  certPath = join(dir, 'leaf.pem');
  await writeFile(certPath, holder.certPem);
  unboundPath = (await issueCertificate(ca, { id: 'cli-unbound', subject: `/C=CN/O=Unbound/serialNumber=${randomCreditCode()}/CN=Unbound` })).certPath;
  badCheckPath = (await issueCertificate(ca, { id: 'cli-bad-check', subject: `/C=CN/O=Bad Check/serialNumber=${withWrongCheck(randomCreditCode())}/CN=Bad Check` })).certPath;
  noCodePath = (await issueCertificate(ca, { id: 'cli-no-code', subject: '/C=CN/O=No Code/CN=No Code' })).certPath;
}, 60_000);

afterAll(async () => {
  await service?.stop();
});

interface LiveReport {
  verdict: string;
  code?: string;
  message?: string;
  creditCode?: { code: string; where: string; checkCharacterValid: boolean };
}

/** Run `cert verify` against the live trust store and return its exit code and JSON report. */
async function verifyLive(usage = 'login', path = certPath): Promise<{ code: number; report: LiveReport }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const code = await certCli(['verify', '--cert', path, '--trust-store', 'live', '--usage', usage, '--json']);
    return { code, report: JSON.parse(chunks.join('')) };
  } finally {
    spy.mockRestore();
  }
}

describe('cert verify with the live trust store', () => {
  it('accepts a bound certificate', async () => {
    // Loading the live trust store logs at info level; none of it may reach the JSON on standard output.
    process.env.LOG_LEVEL = 'info';
    invalidateTrustStore();
    const { code, report } = await verifyLive();
    process.env.LOG_LEVEL = 'warn';
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
    expect(report.creditCode).toEqual({ code: creditCode, where: 'binding', checkCharacterValid: true });
  });

  it('rejects an unbound certificate for login', async () => {
    const { code, report } = await verifyLive('login', unboundPath);
    expect(code).toBe(1);
    expect(report.code).toBe('NOT_BOUND');
    expect(report.message).toContain('is not bound to any enterprise');
  });

  it('accepts an unbound certificate for bind', async () => {
    const { code, report } = await verifyLive('bind', unboundPath);
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
    expect(report.creditCode?.where).toBe('subject serialNumber');
  });

  it('rejects a wrong check character for bind', async () => {
    const { code, report } = await verifyLive('bind', badCheckPath);
    expect(code).toBe(1);
    expect(report.code).toBe('CREDIT_CODE_INVALID');
    expect(report.creditCode?.checkCharacterValid).toBe(false);
  });

  it('rejects a missing credit code for bind', async () => {
    const { code, report } = await verifyLive('bind', noCodePath);
    expect(code).toBe(1);
    expect(report.code).toBe('CREDIT_CODE_MISSING');
  });

  it('rejects a certificate whose binding was revoked', async () => {
    const revoked = await markBindingRevoked(fingerprint(parseCertificate(holder.certPem)), { reason: 'keyCompromise', source: 'operator', actor: 'test' });
    expect(revoked).toBe(true);
    const { code, report } = await verifyLive();
    expect(code).toBe(1);
    expect(report.verdict).toBe('rejected');
    expect(report.code).toBe('BINDING_REVOKED');
    expect(report.message).toContain('keyCompromise');
  });

  it('rejects binding again after revocation', async () => {
    const { code, report } = await verifyLive('bind');
    expect(code).toBe(1);
    expect(report.code).toBe('BINDING_REVOKED');
    expect(report.message).toContain('cannot be bound again');
  });

  it('skips bindings for path usage', async () => {
    const { code, report } = await verifyLive('path');
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
  });
});

describe('provision ca', () => {
  it('refuses an enterprise certificate as a CA anchor', async () => {
    await expect(provision(['ca', 'leaf-as-ca', 'Not a CA', certPath])).rejects.toThrow('is not a CA certificate');
    expect(await getCaProfile('leaf-as-ca')).toBeUndefined();
  });
});
