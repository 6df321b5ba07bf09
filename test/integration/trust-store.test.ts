import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFeedHead } from '../../functions/db/events.js';
import { getBinding } from '../../functions/db/certificates.js';
import { fingerprint } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { certificateLogin, discoverPlatform, postJson, type PlatformSettings } from '../../infra/local/journey.js';
import { createRootCa, generateCrl, issueCertificate, issueIntermediateCa, revokeCertificate, type KeyAlgorithm, type TestCa } from '../../infra/local/openssl-ca.js';
import { randomSecret } from '../../infra/local/service.js';
import { randomCreditCode } from '../helpers/codes.js';
import { tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { signCmsSm2, signRaw, startCrlServer } from '../helpers/signing.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let crls: Awaited<ReturnType<typeof startCrlServer>>;
let adminToken: string;
let platform: PlatformSettings;
let platformConfig: client.Configuration;

async function tokenFor(clientId: string, scope: string, extra: Record<string, unknown> = {}): Promise<string> {
  const secret = randomSecret();
  await savePlatformClient({ client_id: clientId, client_secret: secret, client_name: clientId, redirect_uris: [], response_types: [], grant_types: ['client_credentials'], scope, ...extra });
  const config = await client.discovery(new URL(service.url), clientId, undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  const tokens = await client.clientCredentialsGrant(config, { scope });
  return tokens.access_token;
}

beforeAll(async () => {
  service = await startTestService();
  crls = await startCrlServer();
  adminToken = await tokenFor('ops-automation', 'admin');
  platform = { issuer: service.url, clientId: 'trust-platform', clientSecret: randomSecret(), redirectUri: 'http://localhost:9/callback' };
  await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: 'Trust Platform', redirect_uris: [platform.redirectUri] });
  platformConfig = await discoverPlatform(platform);
}, 60_000);

afterAll(async () => {
  await crls?.stop();
  await service?.stop();
});

const admin = (path: string, body: unknown, token = adminToken) => postJson(`${service.url}/api/admin${path}`, body, { authorization: `Bearer ${token}` });
const adminGet = async (path: string, token = adminToken) => {
  const response = await fetch(`${service.url}/api/admin${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
};

const details = (creditCode: string) => ({ creditCode, name: '信任测试有限公司', legalRepresentative: '张三', contact: { name: '李四', phone: '+86 755 1234 5678' } });

interface Holder {
  certPem: string;
  keyPem: string;
  certPath: string;
  algorithm: KeyAlgorithm;
  chain: string[];
}

async function issueHolder(ca: TestCa, id: string, creditCode: string, chain: TestCa[] = []): Promise<Holder> {
  const issued = await issueCertificate(ca, { id, subject: `/C=CN/O=企业${id}/serialNumber=${creditCode}/CN=企业${id}`, algorithm: ca.algorithm });
  return { ...issued, algorithm: ca.algorithm, chain: chain.map((c) => c.certPem) };
}

/** Register the enterprise (if new), then bind the holder's certificate with a fresh challenge. */
async function bindHolder(creditCode: string, holder: Holder, format: 'raw' | 'cms' = 'raw') {
  await postJson(`${service.url}/api/enterprises`, details(creditCode));
  const challenge = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode });
  const text = challenge.body.challenge as string;
  const signature = format === 'cms' ? await signCmsSm2(holder.certPem, holder.keyPem, text) : await signRaw(holder.keyPem, text, holder.algorithm);
  return postJson(`${service.url}/api/enterprises/${creditCode}/certificates`, { certificate: holder.certPem, chain: holder.chain, challenge: text, signature, signatureFormat: format });
}

async function login(holder: Holder) {
  return certificateLogin(platformConfig, platform, {
    certPem: holder.certPem,
    keyPem: holder.keyPem,
    chainPems: holder.chain,
    sign: (text) => signRaw(holder.keyPem, text, holder.algorithm),
  });
}

async function createProfile(id: string, ca: TestCa, extra: Record<string, unknown> = {}) {
  const response = await admin('/ca-profiles', { id, name: `${id} CA`, anchors: [ca.certPem], ...extra });
  expect(response.status).toBe(201);
  return response.body;
}

describe('admin API authentication', () => {
  it('rejects a call without a token', async () => {
    const response = await fetch(`${service.url}/api/admin/ca-profiles`);
    expect(response.status).toBe(401);
    expect((await response.json()).error).toBe('UNAUTHENTICATED');
  });

  it('rejects a token without the admin scope', async () => {
    const token = await tokenFor('feed-reader', 'feed:read');
    const response = await adminGet('/ca-profiles', token);
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('INSUFFICIENT_SCOPE');
  });

  it('rejects a profile with an unknown algorithm', async () => {
    const ca = await createRootCa(await tempDir(), 'Weak CA', 'ec');
    const response = await admin('/ca-profiles', { id: 'weak-ca', name: 'Weak', anchors: [ca.certPem], allowedSignatureAlgorithms: ['1.2.840.113549.1.1.4'] });
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe('allowedSignatureAlgorithms');
    expect(response.body.message).toContain('1.2.840.113549.1.1.4');
  });
});

describe('CA profiles as data', () => {
  it('trusts a CA added through the admin API without restart', async () => {
    const ca = await createRootCa(await tempDir(), 'Fresh CA', 'ec');
    const code = randomCreditCode();
    const holder = await issueHolder(ca, 'fresh', code);
    const before = await bindHolder(code, holder);
    expect(before.status).toBe(422);
    expect(before.body.error).toBe('UNTRUSTED');
    const created = await createProfile('fresh-ca', ca, { revocation: { failPolicy: 'open' } });
    expect(created.anchorKeys).toHaveLength(1);
    const after = await bindHolder(code, holder);
    expect(after.status).toBe(201);
    expect(after.body.certificate.caId).toBe('fresh-ca');
  });

  it('records the actor of a profile change in the feed', async () => {
    const ca = await createRootCa(await tempDir(), 'Audited CA', 'rsa');
    const head = await readFeedHead();
    await createProfile('audited-ca', ca);
    const { QueryCommand } = await import('@aws-sdk/client-dynamodb');
    const { dynamo, tableName } = await import('../../functions/db/client.js');
    const { unmarshall, marshall } = await import('@aws-sdk/util-dynamodb');
    const events = await dynamo().send(new QueryCommand({ TableName: tableName(), IndexName: 'gsi2', KeyConditionExpression: 'gsi2pk = :pk', ExpressionAttributeValues: marshall({ ':pk': 'EVT#CA#audited-ca' }) }));
    const changed = (events.Items ?? []).map((item) => unmarshall(item)).filter((event) => event.seq > head);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((event) => event.data.actor === 'ops-automation')).toBe(true);
  });

  it('refuses a second profile with the same anchor key', async () => {
    const ca = await createRootCa(await tempDir(), 'Twin CA', 'ec');
    await createProfile('twin-a', ca);
    const response = await admin('/ca-profiles', { id: 'twin-b', name: 'Twin B', anchors: [ca.certPem] });
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('ANCHOR_IN_USE');
  });

  it('rejects a status change at a stale version', async () => {
    const ca = await createRootCa(await tempDir(), 'Versioned CA', 'ec');
    await createProfile('versioned-ca', ca);
    const withoutReason = await admin('/ca-profiles/versioned-ca/status', { status: 'suspended', version: 1 });
    expect(withoutReason.status).toBe(400);
    expect(withoutReason.body.details.field).toBe('reason');
    const first = await admin('/ca-profiles/versioned-ca/status', { status: 'suspended', reason: 'audit', version: 1 });
    expect(first.status).toBe(200);
    const second = await admin('/ca-profiles/versioned-ca/status', { status: 'active', version: 1 });
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('CA_PROFILE_CHANGED');
  });
});

describe('CA status', () => {
  let ca: TestCa;
  let bound: Holder;
  let fresh: Holder;
  let freshCode: string;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Status CA', 'rsa');
    await createProfile('status-ca', ca, { revocation: { failPolicy: 'open' } });
    const code = randomCreditCode();
    bound = await issueHolder(ca, 'bound', code);
    expect((await bindHolder(code, bound)).status).toBe(201);
    freshCode = randomCreditCode();
    fresh = await issueHolder(ca, 'fresh', freshCode);
  }, 60_000);

  it('refuses new bindings of a suspended CA but keeps logins', async () => {
    const profile = await adminGet('/ca-profiles/status-ca');
    const suspended = await admin('/ca-profiles/status-ca/status', { status: 'suspended', reason: 'annual audit', version: profile.body.version });
    expect(suspended.status).toBe(200);
    const refused = await bindHolder(freshCode, fresh);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('CA_SUSPENDED');
    expect(refused.body.message).toContain('annual audit');
    expect(refused.body.details.explanation.zh).toContain('暂停');
    const outcome = await login(bound);
    expect(outcome.claims.sub).toBeTruthy();
  });

  it('stops every login under a distrusted CA', async () => {
    const profile = await adminGet('/ca-profiles/status-ca');
    const distrusted = await admin('/ca-profiles/status-ca/status', { status: 'distrusted', reason: 'key compromise', version: profile.body.version });
    expect(distrusted.status).toBe(200);
    const error = await login(bound).then(() => undefined, (e: { response?: { error: string; message: string } }) => e);
    expect(error?.response?.error).toBe('CA_DISTRUSTED');
    expect(error?.response?.message).toContain('key compromise');
  });
});

describe('SM2 chain with CRLs', () => {
  let root: TestCa;
  let intermediate: TestCa;
  let good: Holder;
  let goodCode: string;
  let revoked: Holder;

  beforeAll(async () => {
    root = await createRootCa(await tempDir(), 'SM2 Root', 'sm2', { crlUrl: crls.url('/sm2-root.crl') });
    intermediate = await issueIntermediateCa(root, await tempDir(), 'SM2 Issuing CA', 'sm2', { crlUrl: crls.url('/sm2-issuing.crl') });
    goodCode = randomCreditCode();
    // Leaf only: the service completes the chain from the profile's intermediates.
    good = await issueHolder(intermediate, 'sm2good', goodCode);
    revoked = await issueHolder(intermediate, 'sm2revoked', randomCreditCode(), [intermediate]);
    await revokeCertificate(intermediate, revoked.certPath);
    crls.set('/sm2-root.crl', await generateCrl(root));
    crls.set('/sm2-issuing.crl', await generateCrl(intermediate));
    await createProfile('sm2-ca', root, { intermediates: [intermediate.certPem] });
  }, 60_000);

  it('binds a leaf-only submission whose chain and CRLs validate', async () => {
    const response = await bindHolder(goodCode, good);
    expect(response.status).toBe(201);
    expect(crls.hits('/sm2-issuing.crl')).toBeGreaterThan(0);
    expect(crls.hits('/sm2-root.crl')).toBeGreaterThan(0);
  });

  it('accepts a CMS signature made with SM2', async () => {
    const code = randomCreditCode();
    const holder = await issueHolder(intermediate, 'sm2cms', code, [intermediate]);
    crls.set('/sm2-issuing.crl', await generateCrl(intermediate));
    const response = await bindHolder(code, holder, 'cms');
    expect(response.status).toBe(201);
  });

  it('refuses a certificate listed in the CRL', async () => {
    const response = await bindHolder(randomCreditCode(), revoked);
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOKED');
    expect(response.body.message).toContain('keyCompromise');
  });

  it('revokes a binding at once when a pushed CRL lists it', async () => {
    await revokeCertificate(intermediate, good.certPath);
    const crl = Buffer.from(await generateCrl(intermediate)).toString('base64');
    const head = await readFeedHead();
    const pushed = await admin('/ca-profiles/sm2-ca/crls', { crl });
    expect(pushed.status).toBe(201);
    const fp = fingerprint(parseCertificate(good.certPem));
    expect(pushed.body.revokedBindings).toEqual([fp]);
    const binding = await getBinding(fp);
    expect(binding?.status).toBe('revoked');
    expect(binding?.revocationReason).toContain('keyCompromise');
    expect(await readFeedHead()).toBeGreaterThan(head);
    const again = await admin('/ca-profiles/sm2-ca/crls', { crl });
    expect(again.status).toBe(200);
    expect(again.body.revokedBindings).toEqual([]);
    const error = await login(good).then(() => 'accepted', (e: { response?: { error: string } }) => e);
    expect((error as { response?: { error: string } }).response?.error).toBe('REVOKED');
  });
});

describe('forged CRL', () => {
  let ca: TestCa;
  let forger: TestCa;

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Honest CA', 'ec', { crlUrl: crls.url('/honest.crl') });
    // Same name, different key: the CRL it signs looks right but is not the CA's.
    forger = await createRootCa(await tempDir(), 'Honest CA', 'ec');
    crls.set('/honest.crl', await generateCrl(forger));
    await createProfile('honest-ca', ca);
  }, 60_000);

  it('does not count a CRL signed by another key', async () => {
    const code = randomCreditCode();
    const holder = await issueHolder(ca, 'honest', code);
    const response = await bindHolder(code, holder);
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('REVOCATION_UNKNOWN');
    expect(response.body.message).toContain('does not verify');
  });

  it('refuses to store a forged CRL', async () => {
    const forged = Buffer.from(await generateCrl(forger)).toString('base64');
    const response = await admin('/ca-profiles/honest-ca/crls', { crl: forged });
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('CRL_INVALID');
  });

  it('names the PEM label of a non-CRL push', async () => {
    const response = await admin('/ca-profiles/honest-ca/crls', { crl: ca.certPem });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('CRL_INVALID');
    expect(response.body.message).toContain('PEM label is CERTIFICATE, expected X509 CRL');
  });

  it('suggests adding an issuing CA missing from the profile', async () => {
    const issuing = await issueIntermediateCa(ca, await tempDir(), 'Honest Issuing CA');
    const response = await admin('/ca-profiles/honest-ca/crls', { crl: Buffer.from(await generateCrl(issuing)).toString('base64') });
    expect(response.status).toBe(422);
    expect(response.body.message).toContain("add its certificate to the profile's intermediates");
  });

  it('validates once the honest CRL is pushed', async () => {
    const pushed = await admin('/ca-profiles/honest-ca/crls', { crl: Buffer.from(await generateCrl(ca)).toString('base64') });
    expect(pushed.status).toBe(201);
    const code = randomCreditCode();
    const holder = await issueHolder(ca, 'honest2', code);
    expect((await bindHolder(code, holder)).status).toBe(201);
  });
});

describe('certificate on hold', () => {
  let ca: TestCa;
  let holder: Holder;
  let code: string;
  const openssl = promisify(execFile);
  const caArgs = () => ['ca', '-batch', '-config', join(ca.dir, 'openssl.cnf'), '-cert', ca.certPath, '-keyfile', ca.keyPath];
  // thisUpdate has a resolution of one second, and each pushed CRL must be newer than the last.
  const pushNewCrl = async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    return admin('/ca-profiles/hold-ca/crls', { crl: Buffer.from(await generateCrl(ca)).toString('base64') });
  };

  beforeAll(async () => {
    ca = await createRootCa(await tempDir(), 'Hold CA', 'ec');
    const created = await admin('/ca-profiles', { id: 'hold-ca', name: 'Hold CA', anchors: [ca.certPem], revocation: { useCrlDistributionPoints: false, failPolicy: 'closed' } });
    expect(created.status).toBe(201);
    expect((await admin('/ca-profiles/hold-ca/crls', { crl: Buffer.from(await generateCrl(ca)).toString('base64') })).status).toBe(201);
    code = randomCreditCode();
    holder = await issueHolder(ca, 'held', code);
    expect((await bindHolder(code, holder)).status).toBe(201);
  }, 60_000);

  it('refuses a held certificate and keeps its binding', async () => {
    await openssl('openssl', [...caArgs(), '-revoke', holder.certPath, '-crl_hold', '1.2.840.10040.2.2']);
    const pushed = await pushNewCrl();
    expect(pushed.status).toBe(201);
    expect(pushed.body.revokedBindings).toEqual([]);
    const error = await login(holder).then(() => 'accepted', (e: { response?: { error: string } }) => e);
    expect((error as { response?: { error: string } }).response?.error).toBe('CERTIFICATE_ON_HOLD');
    expect((await getBinding(fingerprint(parseCertificate(holder.certPem))))?.status).toBe('active');
  });

  it('accepts the certificate again after release', async () => {
    // openssl has no command to release a hold, so its database line goes back to valid.
    const index = join(ca.dir, 'index.txt');
    const lines = (await readFile(index, 'utf8')).split('\n').map((line) => (line.startsWith('R\t') && line.includes(',holdInstruction,') ? line.replace(/^R\t([^\t]*)\t[^\t]*\t/, 'V\t$1\t\t') : line));
    await writeFile(index, lines.join('\n'));
    expect((await pushNewCrl()).status).toBe(201);
    const { claims } = await login(holder);
    expect(claims.credit_code).toBe(code);
  });

  it('revokes the binding when a hold becomes a revocation', async () => {
    await openssl('openssl', [...caArgs(), '-revoke', holder.certPath, '-crl_hold', '1.2.840.10040.2.2']);
    expect((await pushNewCrl()).body.revokedBindings).toEqual([]);
    const index = join(ca.dir, 'index.txt');
    await writeFile(index, (await readFile(index, 'utf8')).replace(/,holdInstruction,[^\t]*/, ',keyCompromise'));
    const pushed = await pushNewCrl();
    expect(pushed.body.revokedBindings).toEqual([fingerprint(parseCertificate(holder.certPem))]);
  });
});

describe('CRL push by a CA firm', () => {
  it('refuses a CA firm pushing for another CA', async () => {
    const ca = await createRootCa(await tempDir(), 'Firm CA', 'ec');
    await createProfile('firm-ca', ca);
    const token = await tokenFor('other-firm', 'ca:sync', { ca_profiles: ['someone-else'] });
    const response = await admin('/ca-profiles/firm-ca/crls', { crl: Buffer.from(await generateCrl(ca)).toString('base64') }, token);
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('CA_NOT_YOURS');
  });

  it('accepts its own CA firm', async () => {
    const ca = await createRootCa(await tempDir(), 'Own Firm CA', 'ec');
    await createProfile('own-firm-ca', ca);
    const token = await tokenFor('own-firm', 'ca:sync', { ca_profiles: ['own-firm-ca'] });
    const response = await admin('/ca-profiles/own-firm-ca/crls', { crl: Buffer.from(await generateCrl(ca)).toString('base64') }, token);
    expect(response.status).toBe(201);
  });
});

