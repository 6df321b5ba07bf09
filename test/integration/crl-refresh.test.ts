import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBinding } from '../../functions/db/certificates.js';
import { dynamo, tableName } from '../../functions/db/client.js';
import { getPushedCrl, listCrlSources } from '../../functions/db/crls.js';
import { handler as crlRefreshHandler } from '../../functions/handlers/crl-refresh.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { fingerprint, spkiHash } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { changeCaStatus, saveCaProfile } from '../../functions/services/ca-profiles.js';
import { refreshCrls } from '../../functions/services/crl-refresh.js';
import { postJson } from '../../infra/local/journey.js';
import { createRootCa, generateCrl, issueCertificate, revokeCertificate, type TestCa } from '../../infra/local/openssl-ca.js';
import { randomCreditCode } from '../helpers/codes.js';
import { tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { signRaw, startCrlServer } from '../helpers/signing.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let crls: Awaited<ReturnType<typeof startCrlServer>>;
let ca: TestCa;

interface Bound {
  certPath: string;
  fingerprint: string;
}

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  crls = await startCrlServer();
  // CRLs valid for one hour: within the refresh lead time, so every run fetches them again.
  ca = await createRootCa(await tempDir(), 'Refresh CA', 'ec', { crlUrl: crls.url('/refresh.crl') });
  crls.set('/refresh.crl', await generateCrl(ca, { hours: 1 }));
  await saveCaProfile(defaultProfile('refresh-ca', 'Refresh CA', [ca.certPem]));
}, 60_000);

afterAll(async () => {
  await crls?.stop();
  await service?.stop();
});

async function bind(id: string): Promise<Bound> {
  const creditCode = randomCreditCode();
  const issued = await issueCertificate(ca, { id, subject: `/C=CN/O=企业${id}/serialNumber=${creditCode}/CN=企业${id}`, algorithm: 'ec' });
  await postJson(`${service.url}/api/enterprises`, { creditCode, name: '刷新测试有限公司', legalRepresentative: '张三', contact: { name: '李四', phone: '+86 755 1234 5678' } });
  const challenge = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode });
  const text = challenge.body.challenge as string;
  const response = await postJson(`${service.url}/api/enterprises/${creditCode}/certificates`, { certificate: issued.certPem, challenge: text, signature: await signRaw(issued.keyPem, text, 'ec') });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return { certPath: issued.certPath, fingerprint: fingerprint(parseCertificate(issued.certPem)) };
}

async function revokedEvents(fp: string): Promise<Record<string, any>[]> {
  const result = await dynamo().send(
    new QueryCommand({ TableName: tableName(), IndexName: 'gsi2', KeyConditionExpression: 'gsi2pk = :pk', ExpressionAttributeValues: marshall({ ':pk': 'EVT#CA#refresh-ca' }) }),
  );
  return (result.Items ?? []).map((item) => unmarshall(item)).filter((event) => event.type === EVENT_TYPES.certificateRevoked && event.data.fingerprint === fp);
}

describe('scheduled CRL refresh', () => {
  let first: Bound;
  let second: Bound;

  beforeAll(async () => {
    first = await bind('refresh-first');
    second = await bind('refresh-second');
  }, 60_000);

  it('learns the distribution point from a binding and stores its CRL', async () => {
    const sources = await listCrlSources('refresh-ca');
    expect(sources.map((source) => source.url)).toEqual([crls.url('/refresh.crl')]);
    const report = await service.crlRefresh.runOnce();
    expect(report.failures).toEqual([]);
    expect(report.fetched).toBe(1);
    expect(report.stored).toBe(1);
    expect(report.revokedBindings).toEqual([]);
    const stored = await getPushedCrl(spkiHash(parseCertificate(ca.certPem)));
    expect(stored?.pushedBy).toBe('crl-refresh');
  });

  it('stops a binding the CA revoked between two runs', async () => {
    await revokeCertificate(ca, first.certPath, 'keyCompromise');
    crls.set('/refresh.crl', await generateCrl(ca, { hours: 1 }));
    const report = await crlRefreshHandler();
    expect(report.revokedBindings).toEqual([first.fingerprint]);
    const binding = await getBinding(first.fingerprint);
    expect(binding?.status).toBe('revoked');
    expect(binding?.revocationReason).toContain('keyCompromise');
    const events = await revokedEvents(first.fingerprint);
    expect(events).toHaveLength(1);
    expect(events[0].data.actor).toBe('crl-refresh');
    expect((await getBinding(second.fingerprint))?.status).toBe('active');
  });

  it('records a revocation once when two runs overlap', async () => {
    await revokeCertificate(ca, second.certPath, 'superseded');
    crls.set('/refresh.crl', await generateCrl(ca, { hours: 1 }));
    const [a, b] = await Promise.all([refreshCrls(), refreshCrls()]);
    expect([...a.revokedBindings, ...b.revokedBindings]).toEqual([second.fingerprint]);
    expect(await revokedEvents(second.fingerprint)).toHaveLength(1);
    const again = await refreshCrls();
    expect(again.revokedBindings).toEqual([]);
  });
});

describe('CRL refresh across CAs', () => {
  it('goes on with other CAs when one URL fails', async () => {
    const broken = await createRootCa(await tempDir(), 'Broken Refresh CA', 'ec');
    await saveCaProfile({ ...defaultProfile('broken-ca', 'Broken Refresh CA', [broken.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [crls.url('/missing.crl')], failPolicy: 'closed' } });
    const before = crls.hits('/refresh.crl');
    const report = await refreshCrls();
    expect(report.failures).toEqual([{ caId: 'broken-ca', url: crls.url('/missing.crl'), error: expect.stringContaining('HTTP 404') }]);
    expect(crls.hits('/refresh.crl')).toBeGreaterThan(before);
    const [source] = await listCrlSources('broken-ca');
    expect(source.lastError).toContain('HTTP 404');
  });

  it('does not fetch a CRL whose nextUpdate is far', async () => {
    const weekly = await createRootCa(await tempDir(), 'Weekly CA', 'ec');
    // openssl-ca.ts issues CRLs for 7 days by default.
    crls.set('/weekly.crl', await generateCrl(weekly));
    await saveCaProfile({ ...defaultProfile('weekly-ca', 'Weekly CA', [weekly.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [crls.url('/weekly.crl')], failPolicy: 'closed' } });
    await refreshCrls();
    expect(crls.hits('/weekly.crl')).toBe(1);
    await refreshCrls();
    expect(crls.hits('/weekly.crl')).toBe(1);
  });

  it('skips a distrusted CA', async () => {
    const distrusted = await createRootCa(await tempDir(), 'Distrusted Refresh CA', 'ec');
    crls.set('/distrusted.crl', await generateCrl(distrusted, { hours: 1 }));
    const saved = await saveCaProfile({ ...defaultProfile('distrusted-ca', 'Distrusted Refresh CA', [distrusted.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [crls.url('/distrusted.crl')], failPolicy: 'closed' } });
    await changeCaStatus('distrusted-ca', 'distrusted', 'key compromise', saved.version, 'test');
    await refreshCrls();
    expect(crls.hits('/distrusted.crl')).toBe(0);
  });

  it('rejects a CRL signed by another key', async () => {
    const honest = await createRootCa(await tempDir(), 'Forged Refresh CA', 'ec');
    const forger = await createRootCa(await tempDir(), 'Forged Refresh CA', 'ec');
    crls.set('/forged.crl', await generateCrl(forger, { hours: 1 }));
    await saveCaProfile({ ...defaultProfile('forged-ca', 'Forged Refresh CA', [honest.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [crls.url('/forged.crl')], failPolicy: 'closed' } });
    const report = await refreshCrls();
    const failure = report.failures.find((entry) => entry.caId === 'forged-ca');
    expect(failure?.error).toContain('not signed by any CA certificate');
    expect(await getPushedCrl(spkiHash(parseCertificate(forger.certPem)))).toBeUndefined();
  });
});
