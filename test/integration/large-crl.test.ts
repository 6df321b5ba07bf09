import { DeleteItemCommand, QueryCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBinding } from '../../functions/db/certificates.js';
import { dynamo, tableName } from '../../functions/db/client.js';
import { INLINE_CRL_DER_BYTES, storeCrlDer } from '../../functions/db/crl-der.js';
import { getPushedCrl, listCrlSources, putPushedCrl } from '../../functions/db/crls.js';
import { fingerprint, spkiHash } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { parseCrl } from '../../functions/pki/revocation.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { postJson } from '../../infra/local/journey.js';
import { createRootCa, generateCrl, issueCertificate, revokeCertificate, type TestCa } from '../../infra/local/openssl-ca.js';
import { randomSecret } from '../../infra/local/service.js';
import { randomCreditCode } from '../helpers/codes.js';
import { tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { signRaw, startCrlServer } from '../helpers/signing.js';

// A CA of about 130,000 certificates with a few percent revoked publishes a
// CRL of several hundred kilobytes, more than one DynamoDB item holds. 8,000
// entries of about 50 bytes make two chunks, and asn1js's default limit of
// 10,000 nodes is passed at about 1,500 entries.
const FILLER_ENTRIES = 8_000;
/** A CRL seen for the first time is checked entry by entry against the bindings, which takes a while on DynamoDB Local. */
const FIRST_APPLY_TIMEOUT_MS = 120_000;

let service: Awaited<ReturnType<typeof startTestService>>;
let crls: Awaited<ReturnType<typeof startCrlServer>>;
let adminToken: string;

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  crls = await startCrlServer();
  const secret = randomSecret();
  await savePlatformClient({ client_id: 'large-crl-ops', client_secret: secret, client_name: 'large-crl-ops', redirect_uris: [], response_types: [], grant_types: ['client_credentials'], scope: 'admin' });
  const config = await client.discovery(new URL(service.url), 'large-crl-ops', undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  adminToken = (await client.clientCredentialsGrant(config, { scope: 'admin' })).access_token;
}, 60_000);

afterAll(async () => {
  await crls?.stop();
  await service?.stop();
});

/** Add revoked entries with 16-byte serials, as issued by real CAs, to the CA's openssl database. */
async function addRevokedFillers(ca: TestCa, count: number, prefix: string): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const serial = `${prefix}${i.toString(16).toUpperCase().padStart(32 - prefix.length, '0')}`;
    lines.push(['R', '301231000000Z', '250101000000Z,keyCompromise', serial, 'unknown', `/CN=filler ${serial}`].join('\t'));
  }
  await appendFile(join(ca.dir, 'index.txt'), `${lines.join('\n')}\n`);
}

async function bind(ca: TestCa, id: string) {
  const creditCode = randomCreditCode();
  const issued = await issueCertificate(ca, { id, subject: `/C=CN/O=企业${id}/serialNumber=${creditCode}/CN=企业${id}`, algorithm: 'ec' });
  await postJson(`${service.url}/api/enterprises`, { creditCode, name: '大吊销列表测试有限公司', legalRepresentative: '张三', contact: { name: '李四', phone: '+86 755 1234 5678' } });
  const challenge = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode });
  const text = challenge.body.challenge as string;
  const response = await postJson(`${service.url}/api/enterprises/${creditCode}/certificates`, { certificate: issued.certPem, challenge: text, signature: await signRaw(issued.keyPem, text, 'ec') });
  return { ...issued, creditCode, response };
}

async function chunkItems(sha256: string): Promise<Record<string, any>[]> {
  const result = await dynamo().send(
    new QueryCommand({ TableName: tableName(), KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: marshall({ ':pk': `CRLDER#${sha256}` }), ConsistentRead: true }),
  );
  return (result.Items ?? []).map((item) => unmarshall(item));
}

const pushDer = (caId: string, der: Uint8Array, contentType = 'application/pkix-crl') =>
  fetch(`${service.url}/api/admin/ca-profiles/${caId}/crls`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': contentType }, body: Buffer.from(der) });

describe('CRL larger than one item, fetched', () => {
  let ca: TestCa;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Large Fetched CRL CA', 'ec', { crlUrl: crls.url('/large.crl') });
    await addRevokedFillers(ca, FILLER_ENTRIES, 'A1');
    crls.set('/large.crl', await generateCrl(ca, { hours: 1 }));
    await saveCaProfile(defaultProfile('large-fetched-ca', 'Large Fetched CRL CA', [ca.certPem]));
  }, 60_000);

  it('stores the CRL in chunks and reads it back whole', async () => {
    const bound = await bind(ca, 'large-fetched-first');
    expect(bound.response.status, JSON.stringify(bound.response.body)).toBe(201);
    const report = await service.crlRefresh.runOnce();
    expect(report.failures).toEqual([]);
    expect(report.stored).toBe(1);
    const stored = await getPushedCrl(spkiHash(parseCertificate(ca.certPem)));
    expect(stored?.der.byteLength).toBeGreaterThan(INLINE_CRL_DER_BYTES);
    const served = await generateCrlBytes('/large.crl');
    expect(Buffer.from(stored!.der).equals(Buffer.from(served))).toBe(true);
    const [source] = await listCrlSources('large-fetched-ca');
    expect(source.derChunks).toBeGreaterThan(1);
    expect(source.der).toBeUndefined();
    expect(await chunkItems(stored!.sha256)).toHaveLength(source.derChunks!);
  }, FIRST_APPLY_TIMEOUT_MS);

  it('revokes a binding newly listed in the next large CRL', async () => {
    const bound = await bind(ca, 'large-fetched-second');
    expect(bound.response.status).toBe(201);
    await revokeCertificate(ca, bound.certPath, 'keyCompromise');
    crls.set('/large.crl', await generateCrl(ca, { hours: 1 }));
    const report = await service.crlRefresh.runOnce();
    const fp = fingerprint(parseCertificate(bound.certPem));
    expect(report.revokedBindings).toEqual([fp]);
    expect((await getBinding(fp))?.status).toBe('revoked');
  });
});

/** Return the bytes the CRL server currently serves at `path`. */
async function generateCrlBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(crls.url(path))).arrayBuffer());
}

describe('CRL larger than one item, pushed as application/pkix-crl', () => {
  let ca: TestCa;
  let crl: Uint8Array;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Large Pushed CRL CA', 'ec');
    // No distribution point and a closed fail policy: validation has only the pushed CRL.
    await saveCaProfile({ ...defaultProfile('large-pushed-ca', 'Large Pushed CRL CA', [ca.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'closed' } });
  }, 60_000);

  it('stores the pushed CRL and refuses a certificate it lists', async () => {
    const revoked = await issueCertificate(ca, { id: 'large-pushed-revoked', subject: `/C=CN/O=企业revoked/serialNumber=${randomCreditCode()}/CN=企业revoked`, algorithm: 'ec' });
    await revokeCertificate(ca, revoked.certPath, 'keyCompromise');
    await addRevokedFillers(ca, FILLER_ENTRIES, 'B2');
    crl = await generateCrl(ca);
    expect(crl.byteLength).toBeGreaterThan(INLINE_CRL_DER_BYTES);

    const response = await pushDer('large-pushed-ca', crl);
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(201);
    expect(body.entries).toBe(FILLER_ENTRIES + 1);
    const stored = await getPushedCrl(spkiHash(parseCertificate(ca.certPem)));
    expect(stored).toBeDefined();
    expect(Buffer.from(stored!.der).equals(Buffer.from(crl))).toBe(true);

    const good = await bind(ca, 'large-pushed-good');
    expect(good.response.status, JSON.stringify(good.response.body)).toBe(201);

    const creditCode = randomCreditCode();
    await postJson(`${service.url}/api/enterprises`, { creditCode, name: '吊销测试有限公司', legalRepresentative: '张三', contact: { name: '李四', phone: '+86 755 1234 5678' } });
    const challenge = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode });
    const text = challenge.body.challenge as string;
    const refused = await postJson(`${service.url}/api/enterprises/${creditCode}/certificates`, { certificate: revoked.certPem, challenge: text, signature: await signRaw(revoked.keyPem, text, 'ec') });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('REVOKED');
  }, FIRST_APPLY_TIMEOUT_MS);

  it('answers 200 and stores nothing new when the same CRL is pushed again', async () => {
    const response = await pushDer('large-pushed-ca', crl);
    expect(response.status).toBe(200);
    expect((await response.json()).stored).toBe(false);
  });

  it('rejects PEM sent as application/pkix-crl with the fix', async () => {
    const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(crl).toString('base64')}\n-----END X509 CRL-----\n`;
    const response = await pushDer('large-pushed-ca', new Uint8Array(Buffer.from(pem)));
    const body = await response.json();
    expect(response.status).toBe(400);
    expect(body.error).toBe('CRL_INVALID');
    expect(body.message).toContain('openssl crl -outform DER');
  });

  it('rejects a body over the size limit with 413', async () => {
    const response = await pushDer('large-pushed-ca', new Uint8Array(4_000_001));
    expect(response.status).toBe(413);
    expect((await response.json()).error).toBe('BODY_TOO_LARGE');
  });

  it('treats a CRL whose chunks are gone as not stored', async () => {
    const stored = await getPushedCrl(spkiHash(parseCertificate(ca.certPem)));
    const chunks = await chunkItems(stored!.sha256);
    expect(chunks.length).toBeGreaterThan(1);
    await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: marshall({ pk: chunks[0].pk, sk: chunks[0].sk }) }));
    expect(await getPushedCrl(spkiHash(parseCertificate(ca.certPem)))).toBeUndefined();
  });
});

describe('CRL push after an interrupted one', () => {
  it('applies the entries the interrupted push left unapplied', async () => {
    const ca = await createRootCa(await tempDir(), 'Interrupted Push CA', 'ec');
    await saveCaProfile({ ...defaultProfile('interrupted-ca', 'Interrupted Push CA', [ca.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'open' } });
    const first = await bind(ca, 'interrupted-first');
    const second = await bind(ca, 'interrupted-second');
    expect(first.response.status).toBe(201);
    expect(second.response.status).toBe(201);

    // A push that stored its CRL and stopped before marking any binding revoked.
    await revokeCertificate(ca, first.certPath, 'keyCompromise');
    const parsed = parseCrl(await generateCrl(ca));
    const derFields = await storeCrlDer(parsed.der, parsed.sha256, parsed.crl.nextUpdate!.value);
    const put = putPushedCrl({
      signerSpkiHash: spkiHash(parseCertificate(ca.certPem)),
      caId: 'interrupted-ca',
      issuer: 'Interrupted Push CA',
      ...derFields,
      sha256: parsed.sha256,
      thisUpdate: parsed.crl.thisUpdate.value.toISOString(),
      nextUpdate: parsed.crl.nextUpdate!.value.toISOString(),
      pushedAt: new Date().toISOString(),
      pushedBy: 'test',
    });
    await dynamo().send(new TransactWriteItemsCommand({ TransactItems: [put] }));
    const firstFingerprint = fingerprint(parseCertificate(first.certPem));
    expect((await getBinding(firstFingerprint))?.status).toBe('active');

    // thisUpdate has a resolution of one second, and the next CRL must be newer.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await revokeCertificate(ca, second.certPath, 'superseded');
    const response = await pushDer('interrupted-ca', await generateCrl(ca));
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(201);
    const secondFingerprint = fingerprint(parseCertificate(second.certPem));
    expect(body.revokedBindings).toEqual([firstFingerprint, secondFingerprint]);
    expect((await getBinding(firstFingerprint))?.status).toBe('revoked');
  });
});

describe('CRL push out of time', () => {
  it('leaves the rest to the scheduled refresh', async () => {
    const ca = await createRootCa(await tempDir(), 'Slow Apply CA', 'ec');
    await saveCaProfile({ ...defaultProfile('slow-apply-ca', 'Slow Apply CA', [ca.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'open' } });
    const bound = await bind(ca, 'slow-apply');
    expect(bound.response.status).toBe(201);
    await revokeCertificate(ca, bound.certPath, 'keyCompromise');

    process.env.CRL_PUSH_APPLY_SECONDS = '0';
    let body: Record<string, any>;
    try {
      const response = await pushDer('slow-apply-ca', await generateCrl(ca));
      body = await response.json();
      expect(response.status, JSON.stringify(body)).toBe(201);
    } finally {
      delete process.env.CRL_PUSH_APPLY_SECONDS;
    }
    expect(body.entriesApplied).toBe(false);
    expect(body.revokedBindings).toEqual([]);
    const fp = fingerprint(parseCertificate(bound.certPem));
    expect((await getBinding(fp))?.status).toBe('active');

    const report = await service.crlRefresh.runOnce();
    expect(report.revokedBindings).toContain(fp);
    expect((await getBinding(fp))?.status).toBe('revoked');
    const again = await service.crlRefresh.runOnce();
    expect(again.revokedBindings).not.toContain(fp);
  });
});

describe('CRL push input', () => {
  let ca: TestCa;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Push Input CA', 'ec');
    await saveCaProfile(defaultProfile('push-input-ca', 'Push Input CA', [ca.certPem]));
  }, 60_000);

  it('stores the same CRL pushed twice at once once', async () => {
    const der = await generateCrl(ca);
    const responses = await Promise.all([pushDer('push-input-ca', der), pushDer('push-input-ca', der)]);
    expect(responses.map((response) => response.status).sort()).toEqual([200, 201]);
  });

  it('names application/pkix-crl for another media type', async () => {
    const response = await pushDer('push-input-ca', new Uint8Array([1, 2, 3]), 'application/octet-stream');
    expect(response.status).toBe(415);
    expect((await response.json()).message).toContain('application/pkix-crl');
  });

  it('rejects a crl field that is not a string', async () => {
    const response = await fetch(`${service.url}/api/admin/ca-profiles/push-input-ca/crls`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ crl: 42 }) });
    const body = await response.json();
    expect(response.status).toBe(400);
    expect(body.error).toBe('FIELD_INVALID');
    expect(body.message).toContain('crl must be a string');
  });

  it('reads a PEM CRL served at a distribution point', async () => {
    // A CA with no stored CRL and a closed fail policy: binding needs the CRL from the distribution point.
    const pemCa = await createRootCa(await tempDir(), 'PEM CRL CA', 'ec', { crlUrl: crls.url('/pem.crl') });
    await saveCaProfile(defaultProfile('pem-crl-ca', 'PEM CRL CA', [pemCa.certPem]));
    const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(await generateCrl(pemCa, { hours: 1 })).toString('base64')}\n-----END X509 CRL-----\n`;
    crls.set('/pem.crl', new Uint8Array(Buffer.from(pem)));
    const bound = await bind(pemCa, 'pem-crl');
    expect(bound.response.status, JSON.stringify(bound.response.body)).toBe(201);
    expect(crls.hits('/pem.crl')).toBeGreaterThan(0);
  });
});
