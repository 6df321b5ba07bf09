import { QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateKey } from '../../functions/db/certificates.js';
import { dynamo, tableName } from '../../functions/db/client.js';
import { publishLoginEvents } from '../../functions/feed/login-outbox.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { changeCaStatus, saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { fingerprint } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { clearLoginContextCache } from '../../functions/db/login-context.js';
import { DynamoDbAdapter } from '../../oidc/adapter.js';
import {
  bind,
  certificateLogin,
  CookieJar,
  discoverPlatform,
  followUntil,
  passkeyLogin,
  register,
  type Holder,
  type PlatformSettings,
} from '../../infra/local/journey.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, tempDir, type TestCa, profileWithoutRevocation } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let settings: PlatformSettings;
let configuration: client.Configuration;
let portal: PlatformSettings;
let portalConfiguration: client.Configuration;
let ca: TestCa;

beforeAll(async () => {
  service = await startTestService();
  ca = await createRootCa(`${await tempDir()}/ca`, 'Passkey CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('passkey-ca', 'Passkey CA', [ca.certPem]));
  settings = { issuer: service.url, clientId: 'bidding', clientSecret: 'bidding-secret-for-tests-only', redirectUri: 'https://bidding.example/callback' };
  await savePlatformClient({ client_id: settings.clientId, client_secret: settings.clientSecret, client_name: '政府采购平台', redirect_uris: [settings.redirectUri] });
  configuration = await discoverPlatform(settings);
  portal = { issuer: service.url, clientId: 'enterprise-portal', clientSecret: '', redirectUri: `${service.url}/static/portal/index.html` };
  portalConfiguration = await client.discovery(new URL(service.url), portal.clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
});

/** Sign in to the enterprise portal with the certificate; passkeys are managed with this token. */
async function portalToken(holder: Holder): Promise<string> {
  return (await certificateLogin(portalConfiguration, portal, holder)).tokens.access_token;
}
afterAll(async () => {
  await service?.stop();
});

/** Register an enterprise and bind a certificate to it, which verifies it. */
async function newEnterprise(name = '通行密钥测试公司'): Promise<{ creditCode: string; holder: Holder }> {
  const creditCode = randomCreditCode();
  expect((await register(service.url, { creditCode, name, legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } })).status).toBe(201);
  const holder = await enterpriseHolder(ca, `pk-${creditCode}`, creditCode, { name });
  expect((await bind(service.url, creditCode, holder, { confirmDetails: true })).status).toBe(201);
  return { creditCode, holder };
}

async function api(method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const labels = { displayName: '财务部手机', holderName: '王会计', holderRole: '投标专员' };

/** Register a passkey with `authenticator` through the API, from a portal session opened with the certificate. */
async function addPasskey(creditCode: string, holder: Holder, authenticator: SoftAuthenticator, origin = service.url) {
  const token = await portalToken(holder);
  const options = await api('POST', `/api/enterprises/${creditCode}/passkeys/registration-options`, token, labels);
  expect(options.status).toBe(200);
  const credential = authenticator.register(options.body, origin);
  const created = await api('POST', `/api/enterprises/${creditCode}/passkeys`, token, { ...labels, userHandle: options.body.user.id, credential });
  return { created, token, options: options.body, credential };
}

async function startInteraction(params: Record<string, string> = {}, jar = new CookieJar()) {
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: settings.redirectUri,
    scope: 'openid enterprise',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    ...params,
  });
  const interaction = await followUntil(url.href, jar, (u) => u.pathname.startsWith('/interaction/'));
  return { interaction, jar };
}

async function passkeyAttempt(interaction: string, jar: CookieJar, credential: unknown) {
  const response = await fetch(`${interaction}/passkey`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: jar.header() },
    body: JSON.stringify({ credential }),
  });
  return { status: response.status, body: await response.json() };
}

async function passkeyOptions(interaction: string, jar: CookieJar) {
  const response = await fetch(`${interaction}/passkey-options`, { headers: { cookie: jar.header() } });
  return { status: response.status, body: await response.json() };
}

async function eventsOf(creditCode: string) {
  const page = await dynamo().send(
    new QueryCommand({ TableName: tableName(), IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: marshall({ ':pk': `EVT#ENT#${creditCode}` }) }),
  );
  return (page.Items ?? []).map((item) => unmarshall(item));
}

describe('passkey registration', () => {
  it('adds a passkey after a certificate login', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { created, token } = await addPasskey(creditCode, holder, new SoftAuthenticator());
    expect(created.status).toBe(201);
    expect(created.body.displayName).toBe(labels.displayName);
    expect(created.body.holderName).toBe(labels.holderName);
    expect(created.body.holderRole).toBe(labels.holderRole);
    expect(created.body.status).toBe('active');
    expect(created.body).not.toHaveProperty('publicKey');
    const list = await api('GET', `/api/enterprises/${creditCode}/passkeys`, token);
    expect(list.body.passkeys.map((p: { id: string }) => p.id)).toEqual([created.body.id]);
    const change = (await eventsOf(creditCode)).find((event) => event.type === EVENT_TYPES.credentialChange);
    expect(change?.data.change_type).toBe('create');
    expect(change?.data.credentialId).toBe(created.body.id);
  });

  it('offers discoverable credentials with user verification', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { options } = await addPasskey(creditCode, holder, new SoftAuthenticator());
    expect(options.rp.id).toBe('localhost');
    expect(options.authenticatorSelection.residentKey).toBe('preferred');
    expect(options.authenticatorSelection.userVerification).toBe('required');
    expect(options.attestation).toBe('none');
  });

  it('rejects a session opened with a passkey', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const { tokens } = await passkeyLogin(portalConfiguration, portal, (options) => authenticator.authenticate(options, service.url));
    const options = await api('POST', `/api/enterprises/${creditCode}/passkeys/registration-options`, tokens.access_token, labels);
    expect(options.status).toBe(403);
    expect(options.body.error).toBe('CERTIFICATE_LOGIN_REQUIRED');
    expect(options.body.message).toContain('passkey');
  });

  it('rejects a platform token', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { tokens } = await certificateLogin(configuration, settings, holder);
    const options = await api('POST', `/api/enterprises/${creditCode}/passkeys/registration-options`, tokens.access_token, labels);
    expect(options.status).toBe(403);
    expect(options.body.error).toBe('PORTAL_ONLY');
    const list = await api('GET', `/api/enterprises/${creditCode}/passkeys`, tokens.access_token);
    expect(list.status).toBe(403);
  });

  it('rejects a certificate login older than the window', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { tokens } = await certificateLogin(portalConfiguration, portal, holder);
    const accessToken = await new DynamoDbAdapter('AccessToken').find(tokens.access_token);
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall({ pk: `LOGIN#${accessToken!.grantId}`, sk: 'LOGIN' }),
        UpdateExpression: 'SET authenticatedAt = :old',
        ExpressionAttributeValues: marshall({ ':old': Math.floor(Date.now() / 1000) - 301 }),
      }),
    );
    clearLoginContextCache();
    const options = await api('POST', `/api/enterprises/${creditCode}/passkeys/registration-options`, tokens.access_token, labels);
    expect(options.status).toBe(403);
    expect(options.body.error).toBe('CERTIFICATE_LOGIN_REQUIRED');
    expect(options.body.message).toContain('300 s');
  });

  it('rejects another enterprise token', async () => {
    const { creditCode } = await newEnterprise();
    const other = await newEnterprise('另一家公司');
    const token = await portalToken(other.holder);
    const options = await api('POST', `/api/enterprises/${creditCode}/passkeys/registration-options`, token, labels);
    expect(options.status).toBe(403);
    expect(options.body.error).toBe('NOT_YOUR_ENTERPRISE');
    const list = await api('GET', `/api/enterprises/${creditCode}/passkeys`, token);
    expect(list.status).toBe(403);
  });

  it('rejects a registration made on another origin', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { created } = await addPasskey(creditCode, holder, new SoftAuthenticator(), 'https://evil.example');
    expect(created.status).toBe(422);
    expect(created.body.error).toBe('PASSKEY_ORIGIN_INVALID');
    expect(created.body.message).toContain('https://evil.example');
    expect(created.body.message).toContain(service.url);
    expect(created.body.details.explanation.zh).toBeTruthy();
  });

  it('stores one credential from concurrent submissions', async () => {
    const { creditCode, holder } = await newEnterprise();
    const token = await portalToken(holder);
    const options = await api('POST', `/api/enterprises/${creditCode}/passkeys/registration-options`, token, labels);
    const credential = new SoftAuthenticator().register(options.body, service.url);
    const body = { ...labels, userHandle: options.body.user.id, credential };
    const attempts = await Promise.all([1, 2, 3].map(() => api('POST', `/api/enterprises/${creditCode}/passkeys`, token, body)));
    expect(attempts.filter((a) => a.status === 201)).toHaveLength(1);
    for (const failed of attempts.filter((a) => a.status !== 201)) expect(failed.body.error).toBe('PASSKEY_CHALLENGE_INVALID');
    const list = await api('GET', `/api/enterprises/${creditCode}/passkeys`, token);
    expect(list.body.passkeys).toHaveLength(1);
  });
});

describe('passkey login over OIDC', () => {
  it('logs in with passkey claims', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const { claims, userinfo } = await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    expect(claims.credit_code).toBe(creditCode);
    expect(claims.acr).toBe('urn:trading-identity:acr:passkey');
    expect(claims.amr).toEqual(['pop', 'hwk', 'user', 'mfa']);
    expect(claims.auth_method).toBe('passkey');
    expect(claims['x5t#S256']).toBeUndefined();
    expect(userinfo.acr).toBe('urn:trading-identity:acr:passkey');
    await publishLoginEvents();
    const login = (await eventsOf(creditCode)).filter((event) => event.type === EVENT_TYPES.login).at(-1);
    expect(login?.data.method).toBe('passkey');
  });

  it('rejects an assertion made on another origin', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const { interaction, jar } = await startInteraction();
    const options = await passkeyOptions(interaction, jar);
    const result = await passkeyAttempt(interaction, jar, authenticator.authenticate(options.body, 'https://phishing.example'));
    expect(result.status).toBe(422);
    expect(result.body.error).toBe('PASSKEY_ORIGIN_INVALID');
    expect(result.body.message).toContain('https://phishing.example');
  });

  it('rejects a replayed assertion', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const { interaction, jar } = await startInteraction();
    const options = await passkeyOptions(interaction, jar);
    const assertion = authenticator.authenticate(options.body, service.url);
    const first = await passkeyAttempt(interaction, jar, assertion);
    expect(first.status).toBe(200);
    const second = await startInteraction();
    const replay = await passkeyAttempt(second.interaction, second.jar, assertion);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('PASSKEY_CHALLENGE_INVALID');
  });

  it('rejects a challenge of another interaction', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const first = await startInteraction();
    const options = await passkeyOptions(first.interaction, first.jar);
    const second = await startInteraction();
    const result = await passkeyAttempt(second.interaction, second.jar, authenticator.authenticate(options.body, service.url));
    expect(result.body.error).toBe('PASSKEY_CHALLENGE_INVALID');
  });

  it('rejects a counter that goes back', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator({ counterStep: 5 });
    await addPasskey(creditCode, holder, authenticator);
    await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    const { interaction, jar } = await startInteraction();
    const options = await passkeyOptions(interaction, jar);
    const result = await passkeyAttempt(interaction, jar, authenticator.authenticate(options.body, service.url, { counter: 3 }));
    expect(result.status).toBe(422);
    expect(result.body.error).toBe('PASSKEY_COUNTER_REGRESSION');
    expect(result.body.message).toContain('counter 3');
  });

  it('accepts an authenticator that always reports 0', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator({ counterStep: 0 });
    await addPasskey(creditCode, holder, authenticator);
    const first = await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    const second = await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    expect(first.claims.credit_code).toBe(creditCode);
    expect(second.claims.credit_code).toBe(creditCode);
  });

  it('rejects a passkey without user verification', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const careless = new SoftAuthenticator({ userVerification: false });
    careless.credentials.set(...([...authenticator.credentials.entries()][0]));
    const { interaction, jar } = await startInteraction();
    const options = await passkeyOptions(interaction, jar);
    const result = await passkeyAttempt(interaction, jar, careless.authenticate(options.body, service.url));
    expect(result.body.error).toBe('PASSKEY_USER_NOT_VERIFIED');
  });

  it('rejects an unknown credential', async () => {
    const stranger = new SoftAuthenticator();
    stranger.register({ rp: { id: 'localhost', name: 'x' }, user: { id: 'AAAAAAAAAAAAAAAAAAAAAA', name: 'x', displayName: 'x' }, challenge: 'x', pubKeyCredParams: [] }, service.url);
    const { interaction, jar } = await startInteraction();
    const options = await passkeyOptions(interaction, jar);
    const result = await passkeyAttempt(interaction, jar, stranger.authenticate(options.body, service.url));
    expect(result.body.error).toBe('PASSKEY_UNKNOWN');
  });

  it('rejects passkeys when the platform requires a certificate', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const { interaction, jar } = await startInteraction({ acr_values: 'urn:trading-identity:acr:certificate' });
    const options = await passkeyOptions(interaction, jar);
    expect(options.status).toBe(403);
    expect(options.body.error).toBe('PASSKEY_NOT_ALLOWED_HERE');
    // An assertion obtained elsewhere is refused too, before any verification.
    const other = await startInteraction();
    const otherOptions = await passkeyOptions(other.interaction, other.jar);
    const result = await passkeyAttempt(interaction, jar, authenticator.authenticate(otherOptions.body, service.url));
    expect(result.status).toBe(403);
    expect(result.body.error).toBe('PASSKEY_NOT_ALLOWED_HERE');
    const page = await (await fetch(interaction, { headers: { cookie: jar.header() } })).text();
    expect(page.replaceAll('&#34;', '"')).toContain('"passkey":false');
  });

  it('allows passkeys when acr_values lists them', async () => {
    const { interaction, jar } = await startInteraction({ acr_values: 'urn:trading-identity:acr:certificate urn:trading-identity:acr:passkey' });
    const options = await passkeyOptions(interaction, jar);
    expect(options.status).toBe(200);
    expect(options.body.userVerification).toBe('required');
  });

  it('asks a passkey session to log in again for certificate acr', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const jar = new CookieJar();
    await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url), {}, jar);
    // The same browser session requests certificate-level assurance now, so it must land on the login page.
    const { interaction } = await startInteraction({ acr_values: 'urn:trading-identity:acr:certificate' }, jar);
    expect(new URL(interaction).pathname).toMatch(/^\/interaction\//);
    const certificate = await certificateLogin(configuration, settings, holder, { acr_values: 'urn:trading-identity:acr:certificate' });
    expect(certificate.claims.acr).toBe('urn:trading-identity:acr:certificate');
  });

  it('pauses passkeys when no certificate is usable', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    const certificateFingerprint = fingerprint(parseCertificate(holder.certPem, 'certificate'));
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(certificateKey(certificateFingerprint)),
        UpdateExpression: 'SET #status = :revoked',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: marshall({ ':revoked': 'revoked' }),
      }),
    );
    const attempt = passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    await expect(attempt).rejects.toMatchObject({ status: 403, response: { error: 'PASSKEY_NO_ACTIVE_CERTIFICATE' } });
  });

  it('pauses passkeys when the certificate\'s CA is distrusted', async () => {
    const distrusted = await createRootCa(`${await tempDir()}/distrusted`, 'Distrusted Passkey CA', 'ec');
    const saved = await saveCaProfile(profileWithoutRevocation('distrusted-passkey-ca', 'Distrusted Passkey CA', [distrusted.certPem]));
    const creditCode = randomCreditCode();
    await register(service.url, { creditCode, name: '撤信任通行密钥公司', legalRepresentative: '王五', contact: { name: '赵六', phone: '0755-12345678' } });
    const holder = await enterpriseHolder(distrusted, `pk-distrusted-${creditCode}`, creditCode, { name: '撤信任通行密钥公司' });
    expect((await bind(service.url, creditCode, holder, { confirmDetails: true })).status).toBe(201);
    const authenticator = new SoftAuthenticator();
    await addPasskey(creditCode, holder, authenticator);
    await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));

    await changeCaStatus('distrusted-passkey-ca', 'distrusted', 'key compromise', saved.version, 'test');
    const attempt = passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    await expect(attempt).rejects.toMatchObject({ status: 403, response: { error: 'PASSKEY_NO_ACTIVE_CERTIFICATE' } });
  });
});

describe('passkey management', () => {
  it('renames a passkey and records the update', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { created, token } = await addPasskey(creditCode, holder, new SoftAuthenticator());
    const renamed = await api('PATCH', `/api/enterprises/${creditCode}/passkeys/${created.body.id}`, token, { displayName: '前台 YubiKey' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.displayName).toBe('前台 YubiKey');
    expect(renamed.body.holderName).toBe(labels.holderName);
    const update = (await eventsOf(creditCode)).find((event) => event.type === EVENT_TYPES.credentialChange && event.data.change_type === 'update');
    expect(update?.data.friendly_name).toBe('前台 YubiKey');
  });

  it('rejects an empty name', async () => {
    const { creditCode, holder } = await newEnterprise();
    const { created, token } = await addPasskey(creditCode, holder, new SoftAuthenticator());
    const renamed = await api('PATCH', `/api/enterprises/${creditCode}/passkeys/${created.body.id}`, token, { displayName: '  ' });
    expect(renamed.status).toBe(400);
    expect(renamed.body.details.field).toBe('displayName');
  });

  it('revokes a passkey and ends its sessions', async () => {
    const { creditCode, holder } = await newEnterprise();
    const authenticator = new SoftAuthenticator();
    const { created, token } = await addPasskey(creditCode, holder, authenticator);
    const login = await passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    const revoked = await api('DELETE', `/api/enterprises/${creditCode}/passkeys/${created.body.id}?reason=lost`, token);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expect(revoked.body.revocationReason).toBe('lost');
    expect(revoked.body.grantsEnded).toBe(1);
    await expect(client.fetchUserInfo(configuration, login.tokens.access_token, login.claims.sub)).rejects.toThrow();
    const attempt = passkeyLogin(configuration, settings, (options) => authenticator.authenticate(options, service.url));
    await expect(attempt).rejects.toMatchObject({ response: { error: 'PASSKEY_REVOKED' } });
    const again = await api('DELETE', `/api/enterprises/${creditCode}/passkeys/${created.body.id}`, token);
    expect(again.status).toBe(200);
    expect(again.body.revocationReason).toBe('lost');
    const revokes = (await eventsOf(creditCode)).filter((event) => event.type === EVENT_TYPES.credentialChange && event.data.change_type === 'revoke');
    expect(revokes).toHaveLength(1);
  });

  it('answers 404 for a passkey of another enterprise', async () => {
    const first = await newEnterprise();
    const { created } = await addPasskey(first.creditCode, first.holder, new SoftAuthenticator());
    const second = await newEnterprise('第二家公司');
    const token = await portalToken(second.holder);
    const revoked = await api('DELETE', `/api/enterprises/${second.creditCode}/passkeys/${created.body.id}`, token);
    expect(revoked.status).toBe(404);
    expect(revoked.body.error).toBe('CREDENTIAL_NOT_FOUND');
  });

  it('lists the platforms logged in to', async () => {
    const { creditCode, holder } = await newEnterprise();
    await certificateLogin(configuration, settings, holder);
    const logins = await api('GET', `/api/enterprises/${creditCode}/logins`, await portalToken(holder));
    expect(logins.status).toBe(200);
    const names = logins.body.platforms.map((platform: { clientName: string }) => platform.clientName);
    expect(names).toContain('政府采购平台');
    expect(names).toContain('企业门户 Enterprise portal');
    const bidding = logins.body.platforms.find((platform: { clientId: string }) => platform.clientId === 'bidding');
    expect(bidding.lastMethod).toBe('certificate');
    expect(bidding.logins).toBe(1);
  });
});
