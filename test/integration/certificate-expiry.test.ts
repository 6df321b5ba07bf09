import { randomBytes, X509Certificate } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBinding } from '../../functions/db/certificates.js';
import { dynamo } from '../../functions/db/client.js';
import { getEnterprise } from '../../functions/db/enterprises.js';
import { readEvents, readFeedHead, type StoredEvent } from '../../functions/db/events.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { expireCertificates } from '../../functions/services/certificate-expiry.js';
import { markBindingRevoked } from '../../functions/services/certificate-revocation.js';
import { bind, register } from '../../infra/local/journey.js';
import { ensureTable } from '../../infra/local/tables.js';
import { randomCreditCode } from '../helpers/codes.js';
import { getJson, platformToken } from '../helpers/feed.js';
import { createRootCa, enterpriseHolder, profileWithoutRevocation, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let ca: Awaited<ReturnType<typeof createRootCa>>;

const DAY_MS = 24 * 3600 * 1000;
const start = Date.now();

/** Format the time `days` days after this file started as an openssl ca date (YYYYMMDDHHMMSSZ). */
function opensslDate(days: number): string {
  return new Date(start + days * DAY_MS).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  ca = await createRootCa(await tempDir(), 'Expiry Test CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('expiry-ca', 'Expiry Test CA', [ca.certPem]));
});
afterAll(async () => {
  await service?.stop();
});

/** Register an enterprise and bind a certificate that expires `days` days from now; returns the fingerprint. */
async function bindExpiring(code: string, id: string, days: number): Promise<string> {
  const holder = await enterpriseHolder(ca, id, code, { startDate: opensslDate(-1), endDate: opensslDate(days) });
  const bound = await bind(service.url, code, holder, { confirmDetails: true });
  expect(bound.status, JSON.stringify(bound.body)).toBe(201);
  const fingerprint = bound.body.certificate.fingerprint as string;
  expect(fingerprint).toBe(new X509Certificate(holder.certPem).fingerprint256.replace(/:/g, '').toLowerCase());
  return fingerprint;
}

async function registerEnterprise(name: string): Promise<string> {
  const code = randomCreditCode();
  const registered = await register(service.url, { creditCode: code, name, legalRepresentative: '钱七', contact: { name: '孙八', phone: '0755-87654321' } });
  expect(registered.status).toBe(201);
  return code;
}

async function expiredEventsAfter(seq: number): Promise<StoredEvent[]> {
  const page = await readEvents(seq, 1000);
  return page.events.filter((event) => event.type === EVENT_TYPES.certificateExpired);
}

describe('certificate expiry', () => {
  let first: string;
  let second: string;
  let later: string;
  let revoked: string;
  let firstCode: string;
  let secondCode: string;

  beforeAll(async () => {
    firstCode = await registerEnterprise('到期测试甲有限公司');
    secondCode = await registerEnterprise('到期测试乙有限公司');
    // Bound in an order that differs from the expiry order, which the events must follow.
    first = await bindExpiring(firstCode, 'first-3d', 3);
    second = await bindExpiring(secondCode, 'second-2d', 2);
    later = await bindExpiring(firstCode, 'first-10d', 10);
    revoked = await bindExpiring(secondCode, 'second-1d', 1);
    expect(await markBindingRevoked(revoked, { reason: 'keyCompromise', source: 'operator', actor: 'op_test' })).toBe(true);
  });

  it('records each expiry once, in order', async () => {
    const head = await readFeedHead();
    const runAt = new Date(start + 5 * DAY_MS);
    // One binding per page, so the run must follow the index pages.
    const result = await expireCertificates({ now: runAt, pageSize: 1 });
    expect(result).toEqual({ expired: 2, skipped: 0, failed: 0, complete: true });

    const events = await expiredEventsAfter(head);
    expect(events.map((event) => event.data.fingerprint)).toEqual([second, first]);
    const [secondEvent, firstEvent] = events;
    const secondBinding = (await getBinding(second))!;
    expect(secondEvent.creditCode).toBe(secondCode);
    expect(secondEvent.caId).toBe('expiry-ca');
    expect(secondEvent.enterpriseSeq).toBe((await getEnterprise(secondCode))!.version);
    expect(secondEvent.data).toEqual({
      creditCode: secondCode,
      fingerprint: second,
      serial: secondBinding.serial,
      issuer: secondBinding.issuer,
      caId: 'expiry-ca',
      notAfter: secondBinding.notAfter,
    });
    expect(firstEvent.creditCode).toBe(firstCode);
    expect(firstEvent.enterpriseSeq).toBe((await getEnterprise(firstCode))!.version);
  });

  it('marks the bindings expired', async () => {
    const expired = (await getBinding(first))!;
    expect(expired.status).toBe('expired');
    expect(expired.expiredAt).toBe(new Date(start + 5 * DAY_MS).toISOString());
    expect((await getBinding(second))!.status).toBe('expired');
    expect((await getBinding(later))!.status).toBe('active');
    expect((await getBinding(revoked))!.status).toBe('revoked');

    const platform = await platformToken(service.url);
    const read = await getJson(`${service.url}/api/feed/certificates/${first}`, platform.token);
    expect(read.status).toBe(200);
    expect(read.body.certificate.status).toBe('expired');
  });

  it('adds nothing on a second run', async () => {
    const head = await readFeedHead();
    const result = await service.runExpiry(new Date(start + 5 * DAY_MS));
    expect(result).toEqual({ expired: 0, skipped: 0, failed: 0, complete: true });
    expect(await readFeedHead()).toBe(head);
  });

  it('records once from concurrent runs', async () => {
    const head = await readFeedHead();
    const runAt = new Date(start + 11 * DAY_MS);
    const results = await Promise.all([expireCertificates({ now: runAt }), expireCertificates({ now: runAt }), service.runExpiry(runAt)]);
    expect(results.reduce((sum, result) => sum + result.expired, 0)).toBe(1);
    expect(results.every((result) => result.failed === 0 && result.complete)).toBe(true);
    const events = await expiredEventsAfter(head);
    expect(events.map((event) => event.data.fingerprint)).toEqual([later]);
    expect((await getBinding(later))!.status).toBe('expired');
  });

  it('leaves bindings before notAfter', async () => {
    const code = await registerEnterprise('到期测试丙有限公司');
    const fingerprint = await bindExpiring(code, 'third-30d', 30);
    const notAfter = Date.parse((await getBinding(fingerprint))!.notAfter);
    // A certificate is valid through its notAfter (RFC 5280 section 4.1.2.5), so a run at that instant leaves it.
    expect((await expireCertificates({ now: new Date(notAfter) })).expired).toBe(0);
    expect((await getBinding(fingerprint))!.status).toBe('active');
    expect((await expireCertificates({ now: new Date(notAfter + 1000) })).expired).toBe(1);
    expect((await getBinding(fingerprint))!.status).toBe('expired');
  });
});

describe('local table', () => {
  it('gains the expiry index on start', async () => {
    const name = `old_${randomBytes(6).toString('hex')}`;
    const key = (attribute: string, type: 'HASH' | 'RANGE') => ({ AttributeName: attribute, KeyType: type });
    // A table as the local host created it before the expiry index existed.
    await dynamo().send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((attribute) => ({ AttributeName: attribute, AttributeType: 'S' })),
        KeySchema: [key('pk', 'HASH'), key('sk', 'RANGE')],
        GlobalSecondaryIndexes: ['gsi1', 'gsi2'].map((index) => ({
          IndexName: index,
          KeySchema: [key(`${index}pk`, 'HASH'), key(`${index}sk`, 'RANGE')],
          Projection: { ProjectionType: 'ALL' },
        })),
      }),
    );
    await ensureTable(dynamo(), name);
    const { Table } = await dynamo().send(new DescribeTableCommand({ TableName: name }));
    const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
    expect(indexes).toEqual(['gsi1', 'gsi2', 'gsi3']);
    await dynamo().send(new DeleteTableCommand({ TableName: name }));
  });
});
