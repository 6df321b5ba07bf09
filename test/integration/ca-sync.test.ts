import { createRequire } from 'node:module';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from '../../functions/db/client.js';
import { getBinding } from '../../functions/db/certificates.js';
import { getEnterprise } from '../../functions/db/enterprises.js';
import { readEvents, readFeedHead } from '../../functions/db/events.js';
import { queryAudit } from '../../functions/feed/audit.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { CA_SYNC_OPENAPI } from '../../functions/handlers/ca-sync-openapi.js';
import { CaFirmSession } from '../../infra/local/ca-client.js';
import { bind, certificateLogin, discoverPlatform, register, type Holder, type PlatformSettings } from '../../infra/local/journey.js';
import { randomCreditCode, withWrongCheck } from '../helpers/codes.js';
import { registerCaFirm } from '../helpers/clients.js';
import { getJson, platformToken, setVerifier } from '../helpers/feed.js';
import { createRootCa, enterpriseHolder, tempDir, type TestCa, profileWithoutRevocation } from '../helpers/pki.js';
import { generateCrl } from '../../infra/local/openssl-ca.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let caA: TestCa;
let caB: TestCa;
let firmA: CaFirmSession;
let firmB: CaFirmSession;
let counter = 0;

// ajv and ajv-formats are CommonJS packages whose typings do not fit NodeNext ESM imports.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020.js');
const addFormats = require('ajv-formats');
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...CA_SYNC_OPENAPI, $id: 'openapi' } as object, 'openapi');

/** Assert that a real response body matches the OpenAPI schema for it. */
function expectSchema(name: string, body: unknown) {
  const validate = ajv.getSchema(`openapi#/components/schemas/${name}`)!;
  const valid = validate(body);
  expect(validate.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
}

beforeAll(async () => {
  service = await startTestService();
  const dir = await tempDir();
  caA = await createRootCa(`${dir}/a`, 'CA Firm A', 'ec');
  caB = await createRootCa(`${dir}/b`, 'CA Firm B', 'rsa');
  await saveCaProfile(profileWithoutRevocation('ca-a', 'CA Firm A', [caA.certPem]));
  await saveCaProfile({ ...profileWithoutRevocation('ca-b', 'CA Firm B', [caB.certPem]), allowInvalidCheckCharacter: true });
  const a = await registerCaFirm('firm-a', ['ca-a']);
  const b = await registerCaFirm('firm-b', ['ca-b']);
  firmA = await CaFirmSession.connect({ issuer: service.url, ...a });
  firmB = await CaFirmSession.connect({ issuer: service.url, ...b });
});
afterAll(async () => {
  await service?.stop();
});

async function issue(ca: TestCa, code: string, name = '历史证书企业'): Promise<Holder> {
  counter += 1;
  return enterpriseHolder(ca, `sync-${counter}`, code, { name, algorithm: ca.algorithm });
}

const key = () => `batch-${Date.now()}-${Math.random().toString(36).slice(2)}`;

interface ImportEntry {
  creditCode: string;
  enterpriseSeq: number;
  created: boolean;
  certificates: { fingerprint: string }[];
}

/** Collect the enterprise entries of all certificates-imported events in the feed, with their certificates' fingerprints. */
async function importEvents(): Promise<{ seq: number; creditCode: string; fingerprints: string[] }[]> {
  const { events } = await readEvents(0, 100_000);
  return events
    .filter((event) => event.type === EVENT_TYPES.certificatesImported)
    .flatMap((event) => (event.data.enterprises as ImportEntry[]).map((entry) => ({ seq: event.seq, creditCode: entry.creditCode, fingerprints: entry.certificates.map((c) => c.fingerprint) })));
}

describe('CA sync authentication', () => {
  it('rejects a request without a token', async () => {
    const response = await fetch(`${service.url}/api/ca/certificates`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
  });

  it('rejects a platform token without the scope', async () => {
    await savePlatformClient({ client_id: 'platform-x', client_secret: 'platform-x-secret-0123456789', client_name: 'X', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'feed:read' });
    const configuration = await client.discovery(new URL(service.url), 'platform-x', undefined, client.ClientSecretBasic('platform-x-secret-0123456789'), { execute: [client.allowInsecureRequests] });
    const token = await client.clientCredentialsGrant(configuration, { scope: 'feed:read' });
    const response = await fetch(`${service.url}/api/ca/certificates?serial=01`, { headers: { authorization: `Bearer ${token.access_token}` } });
    expect(response.status).toBe(403);
    expect((await response.json()).error).toBe('INSUFFICIENT_SCOPE');
  });

  it('does not grant ca:sync to a platform client', async () => {
    const configuration = await client.discovery(new URL(service.url), 'platform-x', undefined, client.ClientSecretBasic('platform-x-secret-0123456789'), { execute: [client.allowInsecureRequests] });
    await expect(client.clientCredentialsGrant(configuration, { scope: 'ca:sync' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });
});

describe('CA sync import', () => {
  it('imports and pre-fills an unregistered enterprise', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code, 'CA预填企业');
    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(200);
    expectSchema('ImportResponse', response.body);
    expect(response.body.results[0]).toMatchObject({ index: 0, status: 'imported', creditCode: code, enterpriseCreated: true });
    const enterprise = await getEnterprise(code);
    expect(enterprise).toMatchObject({ source: 'ca', status: 'verified', certifiedName: 'CA预填企业', detailsConfirmed: false });
    expect(enterprise?.details).toBeUndefined();
  });

  it('reports each bad item and imports the rest', async () => {
    const good = randomCreditCode();
    const mismatched = randomCreditCode();
    const holderGood = await issue(caA, good);
    const holderMismatch = await issue(caA, mismatched);
    const foreign = await issue(caB, randomCreditCode());
    const response = await firmA.request(
      'POST',
      '/api/ca/certificates',
      {
        items: [
          { certificate: holderGood.certPem, creditCode: good },
          { certificate: holderMismatch.certPem, creditCode: randomCreditCode() },
          { certificate: 'not a certificate', creditCode: good },
          { certificate: foreign.certPem, creditCode: 'x' },
          { creditCode: good },
        ],
      },
      { 'idempotency-key': key() },
    );
    expect(response.status).toBe(200);
    expectSchema('ImportResponse', response.body);
    const [ok, mismatch, garbage, other, missing] = response.body.results;
    expect(ok.status).toBe('imported');
    expect(mismatch.error.code).toBe('CREDIT_CODE_MISMATCH');
    expect(mismatch.error.message).toContain(mismatched);
    expect(garbage.error.code).toBe('MALFORMED');
    expect(other.error.code).toBe('FORBIDDEN_CA');
    expect(missing.error.code).toBe('MALFORMED');
    expect(response.body.summary).toEqual({ imported: 1, rejected: 4 });
  });

  it('names the type of a malformed item', async () => {
    const holder = await issue(caA, randomCreditCode());
    const items = [null, 'x', { certificate: 5 }, { certificate: holder.certPem, creditCode: randomCreditCode(), chain: 'pem' }, { certificate: holder.certPem, creditCode: randomCreditCode(), chain: [7] }];
    const response = await firmA.request('POST', '/api/ca/certificates', { items }, { 'idempotency-key': key() });
    expect(response.status).toBe(200);
    expectSchema('ImportResponse', response.body);
    const [nullItem, stringItem, numberCertificate, stringChain, numberLink] = response.body.results;
    expect(nullItem.error.code).toBe('MALFORMED');
    expect(nullItem.error.message).toContain('item 0 is malformed: it must be an object');
    expect(nullItem.error.message).toContain('got null');
    expect(stringItem.error.message).toContain('must be an object {certificate, creditCode, chain?}, got string');
    expect(numberCertificate.error.message).toContain('item 2 certificate is malformed: it must be a string (PEM or base64 DER), got number');
    expect(stringChain.error.message).toContain('item 3 chain is malformed: it must be an array of PEM strings, got string');
    expect(numberLink.error.message).toContain('item 4 chain item 1 is malformed: it must be a string (PEM or base64 DER), got number');
    expect(response.body.summary).toEqual({ rejected: 5 });
  });

  it('rejects another firm’s CA before validating', async () => {
    const dir = await tempDir();
    const caC = await createRootCa(`${dir}/c`, 'CA Firm C', 'ec');
    // Closed fail policy and no CRL or OCSP: validating this CA's certificates fails with a revocation error naming the profile.
    const closed = defaultProfile('ca-closed', 'CA Firm C', [caC.certPem]);
    await saveCaProfile({ ...closed, revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'closed' } });
    const firmC = await CaFirmSession.connect({ issuer: service.url, ...(await registerCaFirm('firm-closed', ['ca-closed'])) });
    const code = randomCreditCode();
    const holder = await issue(caC, code);

    const own = await firmC.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(own.body.results[0].error.code).toBe('REVOCATION_UNKNOWN');
    expect(own.body.results[0].error.message).toContain('ca-closed');

    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(200);
    expectSchema('ImportResponse', response.body);
    const [result] = response.body.results;
    expect(result.status).toBe('rejected');
    expect(result.error.code).toBe('FORBIDDEN_CA');
    expect(result.error.message).toContain('firm-a');
    expect(result.error.message).not.toContain('ca-closed');
    expect(result.error.message).not.toMatch(/closed|revocation|CRL|OCSP/i);
    expect(await getBinding(result.fingerprint)).toBeUndefined();
  });

  it('audits an attempt on another CA', async () => {
    const foreign = await issue(caB, randomCreditCode());
    await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: foreign.certPem, creditCode: 'x' }] }, { 'idempotency-key': key() });
    const audit = await dynamo().send(
      new QueryCommand({ TableName: tableName(), IndexName: 'gsi2', KeyConditionExpression: 'gsi2pk = :pk', ExpressionAttributeValues: marshall({ ':pk': 'EVT#CA#ca-b' }) }),
    );
    const denied = (audit.Items ?? []).map((i) => unmarshall(i)).filter((e) => e.type.endsWith('ca-sync-denied'));
    expect(denied.length).toBeGreaterThan(0);
    expect(denied[0].data.clientId).toBe('firm-a');
  });

  it('replays a batch under the same key', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const body = { items: [{ certificate: holder.certPem, creditCode: code }] };
    const idempotencyKey = key();
    const first = await firmA.request('POST', '/api/ca/certificates', body, { 'idempotency-key': idempotencyKey });
    const second = await firmA.request('POST', '/api/ca/certificates', body, { 'idempotency-key': idempotencyKey });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    const third = await firmA.request('POST', '/api/ca/certificates', body, { 'idempotency-key': key() });
    expect(third.body.results[0].status).toBe('already-present');
    expect((await getEnterprise(code))?.version).toBe(1);
  });

  it('rejects a reused key with another body', async () => {
    const idempotencyKey = key();
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': idempotencyKey });
    const other = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }, { certificate: 'x', creditCode: code }] }, { 'idempotency-key': idempotencyKey });
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('requires an idempotency key', async () => {
    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: 'x', creditCode: 'x' }] });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('IDEMPOTENCY_KEY_MISSING');
  });

  it('recovers from a crash mid-batch', async () => {
    const holders = [];
    for (let i = 0; i < 40; i += 1) {
      const code = randomCreditCode();
      holders.push({ code, holder: await issue(caA, code) });
    }
    const body = { items: holders.map(({ code, holder }) => ({ certificate: holder.certPem, creditCode: code })) };
    const idempotencyKey = key();
    // Fail the second transaction of the import, as a crash or timeout would.
    let transactions = 0;
    const crash = (next: any, context: any) => async (args: any) => {
      if (context.commandName === 'TransactWriteItemsCommand' && ++transactions === 2) throw new Error('simulated crash');
      return next(args);
    };
    dynamo().middlewareStack.add(crash, { step: 'initialize', name: 'crash' });
    const crashed = await firmA.request('POST', '/api/ca/certificates', body, { 'idempotency-key': idempotencyKey });
    dynamo().middlewareStack.remove('crash');
    expect(crashed.status).toBe(500);
    const committed = (await Promise.all(holders.map(({ code }) => getEnterprise(code)))).filter(Boolean).length;
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(40);

    const locked = await firmA.request('POST', '/api/ca/certificates', body, { 'idempotency-key': idempotencyKey });
    expect(locked.status).toBe(409);
    process.env.IDEMPOTENCY_LOCK_SECONDS = '1';
    await new Promise((done) => setTimeout(done, 2100));
    const resent = await firmA.request('POST', '/api/ca/certificates', body, { 'idempotency-key': idempotencyKey });
    delete process.env.IDEMPOTENCY_LOCK_SECONDS;
    expect(resent.status).toBe(200);
    expect(resent.body.summary.imported + resent.body.summary['already-present']).toBe(40);
    expect(resent.body.summary['already-present']).toBe(committed);
    for (const { code } of holders) {
      const enterprise = await getEnterprise(code);
      expect(enterprise?.status).toBe('verified');
      expect(enterprise?.version).toBe(1);
    }
    // The feed records each certificate exactly once, and the crash left no gap.
    const imported = await importEvents();
    const fingerprints = resent.body.results.map((result: { fingerprint: string }) => result.fingerprint);
    for (const fingerprint of fingerprints) expect(imported.filter((entry) => entry.fingerprints.includes(fingerprint))).toHaveLength(1);
    const feed = await readEvents(0, 100_000);
    expect(feed.events.map((event) => event.seq)).toEqual(Array.from({ length: feed.head }, (_, i) => i + 1));
  });

  it('packs a batch into few events', async () => {
    const holders = [];
    for (let i = 0; i < 40; i += 1) {
      const code = randomCreditCode();
      holders.push({ code, holder: await issue(caA, code) });
    }
    const before = await readFeedHead();
    const response = await firmA.request('POST', '/api/ca/certificates', { items: holders.map(({ code, holder }) => ({ certificate: holder.certPem, creditCode: code })) }, { 'idempotency-key': key() });
    expect(response.body.summary).toEqual({ imported: 40 });
    const events = (await readEvents(before, 1000)).events;
    // 40 new enterprises cost 3 items each; 32 fit in a transaction of 100 with the head and the event.
    expect(events.map((event) => event.type)).toEqual([EVENT_TYPES.certificatesImported, EVENT_TYPES.certificatesImported]);
    expect(events.map((event) => (event.data.enterprises as unknown[]).length)).toEqual([32, 8]);
    for (const event of events) expect(event.caId).toBe('ca-a');
    const binding = await getBinding(response.body.results[39].fingerprint);
    expect(binding?.importSeq).toBe(events[1].seq);

    // A platform reads each event as one SET naming the CA, with the enterprises in its payload.
    const platform = await platformToken(service.url);
    const page = await getJson(`${service.url}/api/feed/events?after=${before}&limit=2`, platform.token);
    const payload = await setVerifier(service.url, platform.clientId)(page.body.sets[1].set);
    expect(payload.sub_id).toEqual({ format: 'opaque', id: 'ca-a' });
    expect(payload.enterprise_seq).toBeUndefined();
    const data = (payload.events as Record<string, any>)[EVENT_TYPES.certificatesImported];
    expect(data.enterprises[7]).toEqual({
      creditCode: holders[39].code,
      enterpriseSeq: 1,
      created: true,
      verified: true,
      status: 'verified',
      name: '历史证书企业',
      detailsConfirmed: false,
      certificates: [{ fingerprint: binding!.fingerprint, serial: binding!.serial, issuer: binding!.issuer, notAfter: binding!.notAfter }],
    });

    // Operators find the import by enterprise, narrowed to that enterprise's entry.
    const audit = await queryAudit({ creditCode: holders[39].code, limit: 10 });
    expect(audit.events.map((event) => event.seq)).toEqual([events[1].seq]);
    expect(audit.events[0].data.enterprises).toEqual([data.enterprises[7]]);
    expect((await queryAudit({ creditCode: holders[39].code, type: EVENT_TYPES.certificateRevoked, limit: 10 })).events).toEqual([]);
  });

  it('splits an enterprise larger than a transaction', async () => {
    const code = randomCreditCode();
    const holders = [];
    for (let i = 0; i < 100; i += 1) holders.push(await issue(caA, code, '大批证书企业'));
    const before = await readFeedHead();
    const response = await firmA.request('POST', '/api/ca/certificates', { items: holders.map((holder) => ({ certificate: holder.certPem, creditCode: code })) }, { 'idempotency-key': key() });
    expect(response.body.summary).toEqual({ imported: 100 });
    const entries = (await readEvents(before, 1000)).events.flatMap((event) => event.data.enterprises as ImportEntry[]);
    // A new enterprise leaves 96 places for certificates; the other 4 follow against the record just written.
    expect(entries.map((entry) => [entry.enterpriseSeq, entry.created, entry.certificates.length])).toEqual([
      [1, true, 96],
      [2, false, 4],
    ]);
    expect((await getEnterprise(code))?.version).toBe(2);
  });

  it('verifies a registered enterprise and keeps its details', async () => {
    const code = randomCreditCode();
    expect((await register(service.url, { creditCode: code, name: '自行登记公司', legalRepresentative: '孙七', contact: { name: '周八', phone: '13700137000' } })).status).toBe(201);
    const holder = await issue(caA, code, '自行登记公司');
    const before = await readFeedHead();
    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(response.body.results[0]).toMatchObject({ status: 'imported', enterpriseCreated: false });
    const enterprise = await getEnterprise(code);
    expect(enterprise).toMatchObject({ status: 'verified', source: 'self', version: 2 });
    expect(enterprise?.details?.legalRepresentative).toBe('孙七');
    const [event] = (await readEvents(before, 10)).events;
    expect(event.data.enterprises).toEqual([
      expect.objectContaining({ creditCode: code, enterpriseSeq: 2, created: false, verified: true, status: 'verified', name: '自行登记公司' }),
    ]);
  });

  it('imports racing batches for the same enterprises', async () => {
    const codes = [randomCreditCode(), randomCreditCode(), randomCreditCode()];
    const batches: { certificate: string; creditCode: string }[][] = [[], []];
    for (const batch of batches) {
      for (const code of codes) batch.push({ certificate: (await issue(caA, code)).certPem, creditCode: code });
    }
    const before = await readFeedHead();
    const responses = await Promise.all(batches.map((items) => firmA.request('POST', '/api/ca/certificates', { items }, { 'idempotency-key': key() })));
    for (const response of responses) expect(response.body.summary).toEqual({ imported: 3 });
    const entries = (await readEvents(before, 1000)).events.flatMap((event) => event.data.enterprises as ImportEntry[]);
    for (const code of codes) {
      // Two changes of each enterprise, numbered 1 and 2 in feed order, whichever batch committed first.
      const own = entries.filter((entry) => entry.creditCode === code);
      expect(own.map((entry) => entry.enterpriseSeq)).toEqual([1, 2]);
      expect(own.map((entry) => entry.created)).toEqual([true, false]);
      expect((await getEnterprise(code))?.version).toBe(2);
    }
  });

  it('accepts a failing check character when the profile allows it', async () => {
    const code = withWrongCheck(randomCreditCode());
    const holder = await issue(caB, code);
    const response = await firmB.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(response.body.results[0]).toMatchObject({ status: 'imported', creditCodeFlagged: true });
    const status = await firmB.request('GET', `/api/ca/certificates/${response.body.results[0].fingerprint}`);
    expect(status.body.creditCodeFlagged).toBe(true);
  });

  it('rejects an item without creditCode', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem }] }, { 'idempotency-key': key() });
    expect(response.body.results[0].error.code).toBe('FIELD_MISSING');
    expect(response.body.results[0].error.message).toContain(`creditCode is missing; send the credit code the CA recorded for the enterprise (the certificate carries ${code})`);
  });

  it('rejects a creditCode that is not a string', async () => {
    const holder = await issue(caA, randomCreditCode());
    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: 91440300 }] }, { 'idempotency-key': key() });
    expect(response.body.results[0].error.code).toBe('FIELD_INVALID');
    expect(response.body.results[0].error.message).toContain('creditCode must be a string of 18 characters, got number');
  });

  it('rejects a failing check character otherwise', async () => {
    const code = withWrongCheck(randomCreditCode());
    const holder = await issue(caA, code);
    const response = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(response.body.results[0].error.code).toBe('CREDIT_CODE_INVALID');
  });
});

describe('CA sync status and revocation', () => {
  it('answers status by fingerprint and serial, own only', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const { fingerprint, serial } = imported.body.results[0];
    const own = await firmA.request('GET', `/api/ca/certificates/${fingerprint}`);
    expect(own.status).toBe(200);
    expectSchema('CertificateStatus', own.body);
    expect(own.body.status).toBe('active');
    const bySerial = await firmA.request('GET', `/api/ca/certificates?serial=${serial}`);
    expect(bySerial.body.certificates.map((c: { fingerprint: string }) => c.fingerprint)).toEqual([fingerprint]);
    const foreign = await firmB.request('GET', `/api/ca/certificates/${fingerprint}`);
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('FORBIDDEN_CA');
    const foreignSerial = await firmB.request('GET', `/api/ca/certificates?serial=${serial}`);
    expect(foreignSerial.body.certificates).toEqual([]);
  });

  it('revokes by serial and stops logins', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const platform: PlatformSettings = { issuer: service.url, clientId: 'platform-login', clientSecret: 'platform-login-secret-012345', redirectUri: 'https://p.example/cb' };
    await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: 'P', redirect_uris: [platform.redirectUri] });
    const configuration = await discoverPlatform(platform);
    const before = await certificateLogin(configuration, platform, holder);
    expect(before.claims.credit_code).toBe(code);

    const revoked = await firmA.request('POST', '/api/ca/revocations', { items: [{ serial: imported.body.results[0].serial, reason: 'keyCompromise' }] }, { 'idempotency-key': key() });
    expect(revoked.status).toBe(200);
    expectSchema('RevocationResponse', revoked.body);
    expect(revoked.body.results[0].status).toBe('revoked');
    const again = await firmA.request('POST', '/api/ca/revocations', { items: [{ serial: imported.body.results[0].serial }] }, { 'idempotency-key': key() });
    expect(again.body.results[0].status).toBe('already-revoked');
    const reimported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expectSchema('ImportResponse', reimported.body);
    expect(reimported.body.results[0]).toMatchObject({ status: 'already-present', bindingStatus: 'revoked' });
    await expect(certificateLogin(configuration, platform, holder)).rejects.toMatchObject({ response: { error: 'BINDING_REVOKED' } });

    // The operators' view by enterprise lists the import once, in time order, across pages.
    const seen: string[] = [];
    let next: string | undefined;
    do {
      const page = await queryAudit({ creditCode: code, limit: 1, next });
      seen.push(...page.events.map((event) => event.type));
      next = page.next;
    } while (next);
    expect(seen.filter((type) => type === EVENT_TYPES.certificatesImported)).toHaveLength(1);
    expect(seen.indexOf(EVENT_TYPES.certificatesImported)).toBeLessThan(seen.indexOf(EVENT_TYPES.certificateRevoked));
  });

  it('refuses to revoke another CA’s certificate', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const attempt = await firmB.request('POST', '/api/ca/revocations', { items: [{ fingerprint: imported.body.results[0].fingerprint, reason: 'keyCompromise' }] }, { 'idempotency-key': key() });
    expect(attempt.body.results[0].error.code).toBe('FORBIDDEN_CA');
    expect(attempt.body.results[0].error.message).not.toContain('ca-a');
    const status = await firmA.request('GET', `/api/ca/certificates/${imported.body.results[0].fingerprint}`);
    expect(status.body.status).toBe('active');
  });

  it('rejects a serial that does not match the fingerprint', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const notice = { fingerprint: imported.body.results[0].fingerprint, serial: 'ABCDEF', reason: 'keyCompromise' };
    const response = await firmA.request('POST', '/api/ca/revocations', { items: [notice] }, { 'idempotency-key': key() });
    expect(response.body.results[0].error.code).toBe('SERIAL_MISMATCH');
    const status = await firmA.request('GET', `/api/ca/certificates/${notice.fingerprint}`);
    expect(status.body.status).toBe('active');
  });

  it('rejects a revokedAt in the future', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const { fingerprint } = imported.body.results[0];
    const response = await firmA.request('POST', '/api/ca/revocations', { items: [{ fingerprint, reason: 'keyCompromise', revokedAt: '2099-01-01T00:00:00Z' }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(200);
    expectSchema('RevocationResponse', response.body);
    expect(response.body.results[0].status).toBe('rejected');
    expect(response.body.results[0].error.code).toBe('FIELD_INVALID');
    expect(response.body.results[0].error.message).toContain('"2099-01-01T00:00:00Z"');
    expect(response.body.results[0].error.message).toContain('at most 5 minutes ahead');
    const status = await firmA.request('GET', `/api/ca/certificates/${fingerprint}`);
    expect(status.body.status).toBe('active');
  });

  it('accepts a revokedAt within the clock skew', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const { fingerprint } = imported.body.results[0];
    const revokedAt = new Date(Date.now() + 60_000).toISOString();
    const response = await firmA.request('POST', '/api/ca/revocations', { items: [{ fingerprint, reason: 'keyCompromise', revokedAt }] }, { 'idempotency-key': key() });
    expect(response.body.results[0].status).toBe('revoked');
    expect(response.body.results[0].revokedAt).toBe(revokedAt);
  });

  it('names the type of a malformed notice', async () => {
    const items = [null, 'x', { serial: 1 }, { fingerprint: 'abc' }, { reason: 'keyCompromise' }];
    const response = await firmA.request('POST', '/api/ca/revocations', { items }, { 'idempotency-key': key() });
    expect(response.status).toBe(200);
    expectSchema('RevocationResponse', response.body);
    const [nullItem, stringItem, numberSerial, shortFingerprint, neither] = response.body.results;
    expect(nullItem.error.code).toBe('FIELD_INVALID');
    expect(nullItem.error.message).toContain('item 0 must be an object');
    expect(nullItem.error.message).toContain('got null');
    expect(stringItem.error.message).toContain('got string');
    expect(numberSerial.error.message).toContain('serial must be a string of hex digits, got number');
    expect(shortFingerprint.error.message).toContain('fingerprint "abc" is not a SHA-256 fingerprint');
    expect(neither.error.code).toBe('FIELD_MISSING');
  });

  it('reports every bad field of a notice', async () => {
    const notice = { serial: '01', reason: 'bored', revokedAt: 'yesterday' };
    const response = await firmA.request('POST', '/api/ca/revocations', { items: [notice] }, { 'idempotency-key': key() });
    const [result] = response.body.results;
    expect(result.status).toBe('rejected');
    expect(result.error.code).toBe('FIELD_INVALID');
    expect(result.error.message).toContain('reason "bored" is not an RFC 5280 reason');
    expect(result.error.message).toContain('revokedAt "yesterday" is not an ISO 8601 time');
  });

  it('rejects reasons that are not permanent', async () => {
    const items = [
      { serial: '01', reason: 'removeFromCRL' },
      { serial: '01', reason: 'certificateHold' },
    ];
    const response = await firmA.request('POST', '/api/ca/revocations', { items }, { 'idempotency-key': key() });
    const [remove, hold] = response.body.results;
    expect(remove.error.code).toBe('FIELD_INVALID');
    expect(remove.error.message).toContain('no longer revoked');
    expect(hold.error.code).toBe('FIELD_INVALID');
    expect(hold.error.message).toContain('temporary suspension');
  });

  it('rejects a revocation time before issuance', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code);
    const imported = await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const { fingerprint } = imported.body.results[0];
    const response = await firmA.request('POST', '/api/ca/revocations', { items: [{ fingerprint, reason: 'keyCompromise', revokedAt: '1990-01-01T00:00:00Z' }] }, { 'idempotency-key': key() });
    expect(response.body.results[0].error.code).toBe('FIELD_INVALID');
    expect(response.body.results[0].error.message).toContain("before the certificate's notBefore");
    expect((await getBinding(fingerprint))?.status).toBe('active');
  });

  it('rejects an unknown revocation reason', async () => {
    const response = await firmA.request('POST', '/api/ca/revocations', { items: [{ serial: '01', reason: 'bored' }] }, { 'idempotency-key': key() });
    expect(response.body.results[0].error.code).toBe('FIELD_INVALID');
  });
});

describe('pre-filled enterprise', () => {
  it('is completed and confirmed by its owner', async () => {
    const code = randomCreditCode();
    const holder = await issue(caA, code, '预填后补全公司');
    await firmA.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    const registered = await register(service.url, { creditCode: code, name: '预填后补全公司', legalRepresentative: '郑一', contact: { name: '王二', phone: '13600136000' } });
    expect(registered.status).toBe(200);
    expect(registered.body.completed).toBe(true);
    expect(registered.body.detailsConfirmed).toBe(false);
    const second = await register(service.url, { creditCode: code, name: '别人', legalRepresentative: 'x', contact: { name: 'y', phone: '13600136001' } });
    expect(second.status).toBe(409);
    expect(second.body.message).toContain(`bind a certificate that carries credit code ${code}`);
    expect(second.body.details.bindPath).toBe(`/api/enterprises/${code}/certificates`);

    const platform: PlatformSettings = { issuer: service.url, clientId: 'portal-like', clientSecret: 'portal-like-secret-0123456789', redirectUri: 'https://portal.example/cb' };
    await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: 'Portal', redirect_uris: [platform.redirectUri] });
    const { tokens } = await certificateLogin(await discoverPlatform(platform), platform, holder);
    const confirmed = await fetch(`${service.url}/api/enterprises/${code}/details`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: '预填后补全公司', legalRepresentative: '郑一', contact: { name: '王二', phone: '13600136000' } }),
    });
    expect(confirmed.status).toBe(200);
    const enterprise = await getEnterprise(code);
    expect(enterprise?.detailsConfirmed).toBe(true);
    expect(enterprise?.details?.legalRepresentative).toBe('郑一');
  });
});

describe('enterprise with a flagged credit code', () => {
  it('can be completed, opened and found', async () => {
    const code = withWrongCheck(randomCreditCode());
    const holder = await issue(caB, code, '早期代码企业');
    const imported = await firmB.request('POST', '/api/ca/certificates', { items: [{ certificate: holder.certPem, creditCode: code }] }, { 'idempotency-key': key() });
    expect(imported.body.results[0]).toMatchObject({ status: 'imported', enterpriseCreated: true, creditCodeFlagged: true });

    const registered = await register(service.url, { creditCode: code, name: '早期代码企业', legalRepresentative: '郑一', contact: { name: '王二', phone: '13600136000' } });
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    expect(registered.body.completed).toBe(true);

    const challenge = await fetch(`${service.url}/api/challenges`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ purpose: 'bind', creditCode: code }) });
    expect(challenge.status).toBe(201);
    const before = await readFeedHead();
    const second = await issue(caB, code, '早期代码企业');
    expect((await bind(service.url, code, second)).status).toBe(201);
    const bound = (await readEvents(before, 100)).events.find((event) => event.type === EVENT_TYPES.certificateBound && event.creditCode === code);
    expect(bound?.data.creditCodeFlagged).toBe(true);

    const platform: PlatformSettings = { issuer: service.url, clientId: 'flagged-portal', clientSecret: 'flagged-portal-secret-0123456789', redirectUri: 'https://portal.example/cb' };
    await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: 'Portal', redirect_uris: [platform.redirectUri] });
    const { tokens } = await certificateLogin(await discoverPlatform(platform), platform, holder);
    const own = await fetch(`${service.url}/api/enterprises/${code}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(own.status).toBe(200);
    const certificates = await fetch(`${service.url}/api/enterprises/${code}/certificates`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(certificates.status).toBe(200);
    const listed = (await certificates.json()).certificates;
    expect(listed.map((certificate: { creditCodeFlagged?: boolean }) => certificate.creditCodeFlagged)).toEqual([true, true]);
    expect(listed.map((certificate: { caStatus: string }) => certificate.caStatus)).toEqual(['active', 'active']);

    const admin = await platformToken(service.url, 'admin');
    const lookup = await fetch(`${service.url}/api/admin/enterprises/${code}`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(lookup.status).toBe(200);
    expect((await lookup.json()).certificates.map((certificate: { caStatus: string }) => certificate.caStatus)).toEqual(['active', 'active']);
    const search = await getJson(`${service.url}/api/admin/enterprises?q=${code}`, admin.token);
    expect(search.body.enterprises.map((enterprise: { creditCode: string }) => enterprise.creditCode)).toEqual([code]);
  });

  it('rejects a failing check character of an unknown code', async () => {
    const code = withWrongCheck(randomCreditCode());
    const registered = await register(service.url, { creditCode: code, name: '无此企业', legalRepresentative: '郑一', contact: { name: '王二', phone: '13600136000' } });
    expect(registered.status).toBe(400);
    expect(registered.body.error).toBe('INVALID_CREDIT_CODE');
    const admin = await platformToken(service.url, 'admin');
    const lookup = await fetch(`${service.url}/api/admin/enterprises/${code}`, { headers: { authorization: `Bearer ${admin.token}` } });
    expect(lookup.status).toBe(400);
  });
});

describe('CA sync OpenAPI', () => {
  it('is served and parses as a schema', async () => {
    const response = await fetch(`${service.url}/api/ca/openapi.json`);
    expect(response.status).toBe(200);
    const document = await response.json();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(['/api/ca/certificates', '/api/ca/certificates/{fingerprint}', '/api/ca/revocations', '/api/admin/ca-profiles/{id}/crls']);
  });

  it('describes CRL push responses in both forms', async () => {
    const der = await generateCrl(caA);
    const asJson = await firmA.request('POST', '/api/admin/ca-profiles/ca-a/crls', { crl: Buffer.from(der).toString('base64') });
    expect(asJson.status).toBe(201);
    expectSchema('CrlPushResponse', asJson.body);
    const response = await fetch(`${service.url}/api/admin/ca-profiles/ca-a/crls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await firmA.accessToken()}`, 'content-type': 'application/pkix-crl' },
      body: Buffer.from(der),
    });
    const asDer = await response.json();
    expect(response.status).toBe(200);
    expectSchema('CrlPushResponse', asDer);
    expect(asDer.stored).toBe(false);
  });

  it('describes a CRL push of another firm\'s CA as an error', async () => {
    const response = await firmB.request('POST', '/api/admin/ca-profiles/ca-a/crls', { crl: Buffer.from(await generateCrl(caA)).toString('base64') });
    expect(response.status).toBe(403);
    expectSchema('Error', response.body);
  });

  it('describes the error bodies', async () => {
    const response = await firmA.request('GET', '/api/ca/certificates/zz');
    expect(response.status).toBe(400);
    expectSchema('Error', response.body);
  });
});
