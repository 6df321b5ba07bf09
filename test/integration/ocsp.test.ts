import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBinding } from '../../functions/db/certificates.js';
import { dynamo, tableName } from '../../functions/db/client.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { fingerprint } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { clearOcspCache } from '../../functions/services/ocsp-client.js';
import { certificateLogin, discoverPlatform, postJson, type PlatformSettings } from '../../infra/local/journey.js';
import { createRootCa, issueCertificate, revokeCertificate, type KeyAlgorithm, type TestCa } from '../../infra/local/openssl-ca.js';
import { randomSecret } from '../../infra/local/service.js';
import { randomCreditCode } from '../helpers/codes.js';
import { startOcspResponder } from '../helpers/ocsp-responder.js';
import { tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { signRaw } from '../helpers/signing.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let adminToken: string;
let platform: PlatformSettings;
let platformConfig: client.Configuration;
const responders: { stop: () => Promise<void> }[] = [];

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  const secret = randomSecret();
  await savePlatformClient({ client_id: 'ocsp-ops', client_secret: secret, client_name: 'ocsp-ops', redirect_uris: [], response_types: [], grant_types: ['client_credentials'], scope: 'admin' });
  const config = await client.discovery(new URL(service.url), 'ocsp-ops', undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  adminToken = (await client.clientCredentialsGrant(config, { scope: 'admin' })).access_token;
  platform = { issuer: service.url, clientId: 'ocsp-platform', clientSecret: randomSecret(), redirectUri: 'http://localhost:9/callback' };
  await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: 'OCSP Platform', redirect_uris: [platform.redirectUri] });
  platformConfig = await discoverPlatform(platform);
}, 60_000);

afterAll(async () => {
  for (const responder of responders) await responder.stop();
  await service?.stop();
});

const admin = (path: string, body: unknown) => postJson(`${service.url}/api/admin${path}`, body, { authorization: `Bearer ${adminToken}` });

interface Holder {
  certPem: string;
  keyPem: string;
  certPath: string;
  algorithm: KeyAlgorithm;
}

async function issueHolder(ca: TestCa, id: string, creditCode: string): Promise<Holder> {
  const issued = await issueCertificate(ca, { id, subject: `/C=CN/O=企业${id}/serialNumber=${creditCode}/CN=企业${id}`, algorithm: ca.algorithm });
  return { ...issued, algorithm: ca.algorithm };
}

async function bindHolder(creditCode: string, holder: Holder) {
  await postJson(`${service.url}/api/enterprises`, { creditCode, name: 'OCSP 测试有限公司', legalRepresentative: '张三', contact: { name: '李四', phone: '+86 755 1234 5678' } });
  const challenge = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode });
  const text = challenge.body.challenge as string;
  const signature = await signRaw(holder.keyPem, text, holder.algorithm);
  return postJson(`${service.url}/api/enterprises/${creditCode}/certificates`, { certificate: holder.certPem, challenge: text, signature });
}

async function loginError(holder: Holder): Promise<{ error: string; message: string } | undefined> {
  return certificateLogin(platformConfig, platform, { certPem: holder.certPem, keyPem: holder.keyPem, chainPems: [], sign: (text) => signRaw(holder.keyPem, text, holder.algorithm) }).then(
    () => undefined,
    (error: { response?: { error: string; message: string } }) => error.response,
  );
}

async function createProfile(id: string, ca: TestCa, revocation: Record<string, unknown>) {
  const response = await admin('/ca-profiles', { id, name: `${id} CA`, anchors: [ca.certPem], revocation: { useCrlDistributionPoints: false, ...revocation } });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
}

async function responderFor(...args: Parameters<typeof startOcspResponder>) {
  const responder = await startOcspResponder(...args);
  responders.push(responder);
  return responder;
}

async function caEvents(caId: string): Promise<Record<string, any>[]> {
  const result = await dynamo().send(
    new QueryCommand({ TableName: tableName(), IndexName: 'gsi2', KeyConditionExpression: 'gsi2pk = :pk', ExpressionAttributeValues: marshall({ ':pk': `EVT#CA#${caId}` }) }),
  );
  return (result.Items ?? []).map((item) => unmarshall(item));
}

describe('OCSP with the issuing CA as responder (RSA)', () => {
  let ca: TestCa;
  let responder: Awaited<ReturnType<typeof startOcspResponder>>;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'OCSP RSA CA', 'rsa');
    responder = await responderFor({ ca, nextUpdateMinutes: 60 });
    await createProfile('ocsp-rsa', ca, { ocspUrl: responder.url });
  }, 60_000);

  it('binds a certificate the responder reports good', async () => {
    const code = randomCreditCode();
    const holder = await issueHolder(ca, 'good', code);
    const before = responder.requests();
    const response = await bindHolder(code, holder);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(responder.requests()).toBeGreaterThan(before);
  });

  it('stops a binding the responder reports revoked', async () => {
    const code = randomCreditCode();
    const holder = await issueHolder(ca, 'revoked', code);
    expect((await bindHolder(code, holder)).status).toBe(201);
    await revokeCertificate(ca, holder.certPath, 'keyCompromise');
    // Another instance would not have the good response cached, so this one must forget it.
    clearOcspCache();
    const error = await loginError(holder);
    expect(error?.error).toBe('REVOKED');
    expect(error?.message).toContain('keyCompromise');
    expect(error?.message).toContain('OCSP responder');
    const fp = fingerprint(parseCertificate(holder.certPem));
    const binding = await getBinding(fp);
    expect(binding?.status).toBe('revoked');
    const revokedEvents = (await caEvents('ocsp-rsa')).filter((event) => event.type === EVENT_TYPES.certificateRevoked && event.data.fingerprint === fp);
    expect(revokedEvents).toHaveLength(1);
    expect(revokedEvents[0].data.source).toBe('ocsp');
  });

  it('caches a good response until its nextUpdate', async () => {
    const code = randomCreditCode();
    const holder = await issueHolder(ca, 'cached', code);
    expect((await bindHolder(code, holder)).status).toBe(201);
    const before = responder.requests();
    expect(await loginError(holder)).toBeUndefined();
    expect(responder.requests()).toBe(before);
  });
});

describe('OCSP responses that are rejected', () => {
  it('treats status unknown as revocation unknown', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Unknown CA', 'ec');
    const emptyIndex = join(ca.dir, 'empty-index.txt');
    await writeFile(emptyIndex, '');
    const responder = await responderFor({ ca, index: emptyIndex, nextUpdateMinutes: 60 });
    await createProfile('ocsp-unknown', ca, { ocspUrl: responder.url });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'unknown', code));
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOCATION_UNKNOWN');
    expect(response.body.message).toContain('status unknown');
  });

  it('rejects a response signed by an unrelated key', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Honest CA', 'ec');
    // Same name, different key: the response names the right CA but is not the CA's.
    const forger = await createRootCa(await tempDir(), 'OCSP Honest CA', 'ec');
    const responder = await responderFor({ ca, signer: { certPath: forger.certPath, keyPath: forger.keyPath, algorithm: 'ec' }, nextUpdateMinutes: 60 });
    await createProfile('ocsp-forged', ca, { ocspUrl: responder.url });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'forged', code));
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOCATION_UNKNOWN');
    expect(response.body.message).toContain('does not verify');
  });

  it('rejects a response for another serial', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Serial CA', 'ec');
    const other = await issueHolder(ca, 'other', randomCreditCode());
    const responder = await responderFor({ ca, answerFor: other.certPath, nextUpdateMinutes: 60 });
    await createProfile('ocsp-serial', ca, { ocspUrl: responder.url });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'asked', code));
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOCATION_UNKNOWN');
    expect(response.body.message).toMatch(/is for serial [0-9A-F]+, not for serial/);
  });
});

describe('delegated OCSP responders (ECDSA)', () => {
  it('accepts a responder certificate with id-kp-OCSPSigning', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Delegating CA', 'ec');
    const signer = await issueCertificate(ca, { id: 'ocsp-signer', subject: '/C=CN/O=OCSP Delegating CA/CN=OCSP Responder', algorithm: 'ec', extensions: 'ocsp_signing_ext' });
    const responder = await responderFor({ ca, signer: { ...signer, algorithm: 'ec' }, nextUpdateMinutes: 60 });
    await createProfile('ocsp-delegated', ca, { ocspUrl: responder.url });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'delegated', code));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
  });

  it('rejects a responder certificate without id-kp-OCSPSigning', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Careless CA', 'ec');
    const signer = await issueCertificate(ca, { id: 'not-ocsp-signer', subject: '/C=CN/O=OCSP Careless CA/CN=Not A Responder', algorithm: 'ec' });
    const responder = await responderFor({ ca, signer: { ...signer, algorithm: 'ec' }, nextUpdateMinutes: 60 });
    await createProfile('ocsp-no-eku', ca, { ocspUrl: responder.url });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'no-eku', code));
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOCATION_UNKNOWN');
    expect(response.body.message).toContain('id-kp-OCSPSigning');
  });
});

describe('OCSP responder down', () => {
  let downUrl: string;

  beforeAll(async () => {
    const ca = await createRootCa(await tempDir(), 'Unused CA', 'ec');
    const responder = await startOcspResponder({ ca });
    downUrl = responder.url;
    await responder.stop();
  });

  it('rejects under the closed fail policy', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Down Closed CA', 'ec');
    await createProfile('ocsp-down-closed', ca, { ocspUrl: downUrl, failPolicy: 'closed' });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'down-closed', code));
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOCATION_UNKNOWN');
    expect(response.body.message).toContain(downUrl);
  });

  it('accepts under the open fail policy', async () => {
    const ca = await createRootCa(await tempDir(), 'OCSP Down Open CA', 'ec');
    await createProfile('ocsp-down-open', ca, { ocspUrl: downUrl, failPolicy: 'open' });
    const code = randomCreditCode();
    const response = await bindHolder(code, await issueHolder(ca, 'down-open', code));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
  });
});

describe('OCSP settings in the admin API', () => {
  let anchor: string;

  beforeAll(async () => {
    anchor = (await createRootCa(await tempDir(), 'OCSP Settings CA', 'ec')).certPem;
  });

  const create = (id: string, revocation: Record<string, unknown>) => admin('/ca-profiles', { id, name: id, anchors: [anchor], revocation });

  it('rejects a responder URL that is not http or https', async () => {
    const response = await create('ocsp-ftp', { ocspUrl: 'ftp://ocsp.example.cn/' });
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe('revocation.ocspUrl');
    expect(response.body.message).toContain('ftp:');
  });

  it('rejects a responder URL with credentials', async () => {
    const response = await create('ocsp-credentials', { ocspUrl: 'http://user:secret@ocsp.example.cn/' });
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe('revocation.ocspUrl');
  });

  it('rejects an unknown CertID hash', async () => {
    const response = await create('ocsp-md5', { ocspUrl: 'http://ocsp.example.cn/', ocspHashAlgorithm: 'md5' });
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe('revocation.ocspHashAlgorithm');
    expect(response.body.message).toContain('"md5"');
  });

  it('rejects a maximum age out of range', async () => {
    const response = await create('ocsp-age', { ocspUrl: 'http://ocsp.example.cn/', ocspMaxAgeSeconds: 5 });
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe('revocation.ocspMaxAgeSeconds');
  });

  it('rejects OCSP settings without a responder', async () => {
    const response = await create('ocsp-no-url', { ocspNonce: false });
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe('revocation.ocspNonce');
    expect(response.body.message).toContain('ocspUrl is missing');
  });

  it('stores the defaults with a responder', async () => {
    const response = await create('ocsp-defaults', { ocspUrl: 'http://ocsp.example.cn/ocsp' });
    expect(response.status).toBe(201);
    const stored = await fetch(`${service.url}/api/admin/ca-profiles/ocsp-defaults`, { headers: { authorization: `Bearer ${adminToken}` } }).then((r) => r.json());
    expect(stored.revocation).toMatchObject({ ocspUrl: 'http://ocsp.example.cn/ocsp', ocspHashAlgorithm: 'sha256', ocspNonce: true, ocspMaxAgeSeconds: 3600 });
  });
});
