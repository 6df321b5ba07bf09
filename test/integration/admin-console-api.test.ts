import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, type StoredEvent } from '../../functions/db/events.js';
import { getCredential } from '../../functions/db/webauthn-credentials.js';
import { EVENT_TYPES, OPERATORS_ONLY } from '../../functions/lib/event-types.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { createOperatorEnrollment } from '../../functions/services/operators.js';
import { bind, certificateLogin, discoverPlatform, passkeyLogin, postJson, register, type PlatformSettings } from '../../infra/local/journey.js';
import { randomCreditCode, withWrongCheck } from '../helpers/codes.js';
import { getJson, platformToken, TestReceiver } from '../helpers/feed.js';
import { createRootCa, enterpriseHolder, profileWithoutRevocation, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let operatorToken: string;
let operatorSub: string;
let enterpriseToken: string;
let enterpriseCode: string;
let holder: Awaited<ReturnType<typeof enterpriseHolder>>;
const receiver = new TestReceiver();

const NAME = '华南建设集团有限公司';

/** Enroll an operator with a software authenticator and sign in to the admin console, as the browser does. */
async function operatorLogin(): Promise<{ token: string; sub: string }> {
  const authenticator = new SoftAuthenticator();
  const enrollment = await createOperatorEnrollment({ name: '周运维', minutes: 10 });
  const enrollToken = new URL(enrollment.link).hash.slice('#token='.length);
  const options = await postJson(`${service.url}/api/operator-enrollment/options`, { token: enrollToken });
  const credential = authenticator.register(options.body, service.url);
  const finished = await postJson(`${service.url}/api/operator-enrollment`, { token: enrollToken, userHandle: options.body.user.id, credential, displayName: '测试密钥' });
  expect(finished.status).toBe(201);
  const consoleSettings: PlatformSettings = { issuer: service.url, clientId: 'admin-console', clientSecret: '', redirectUri: `${service.url}/static/admin/index.html` };
  const configuration = await client.discovery(new URL(service.url), 'admin-console', undefined, client.None(), { execute: [client.allowInsecureRequests] });
  const login = await passkeyLogin(configuration, consoleSettings, (request) => authenticator.authenticate(request, service.url), { scope: 'openid admin' });
  return { token: login.tokens.access_token, sub: enrollment.operator.sub };
}

/** Register and bind an enterprise, then log it in at a platform; returns its enterprise-scope access token. */
async function enterpriseLogin(): Promise<string> {
  const ca = await createRootCa(`${await tempDir()}/ca`, 'Admin API Test CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('admin-api-ca', 'Admin API Test CA', [ca.certPem]));
  const platform: PlatformSettings = { issuer: service.url, clientId: 'admin-api-platform', clientSecret: 'admin-api-platform-secret-for-tests', redirectUri: 'http://localhost:9/callback' };
  await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: '测试平台', redirect_uris: [platform.redirectUri] });
  await register(service.url, { creditCode: enterpriseCode, name: NAME, legalRepresentative: '陈一', contact: { name: '林二', phone: '13800138000' } });
  holder = await enterpriseHolder(ca, 'admin-api', enterpriseCode, { name: NAME });
  const bound = await bind(service.url, enterpriseCode, holder, { confirmDetails: true });
  expect(bound.status).toBe(201);
  const login = await certificateLogin(await discoverPlatform(platform), platform, holder);
  return login.tokens.access_token;
}

const api = (path: string) => `${service.url}/api/admin${path}`;
const send = (path: string, body: unknown, token = operatorToken) => postJson(api(path), body, token ? { authorization: `Bearer ${token}` } : {});

/** Events of one type committed after `after`, read from the feed as the audit view does. */
async function eventsAfter(after: number, type: string): Promise<StoredEvent[]> {
  const page = await readEvents(after, 1000);
  return page.events.filter((event) => event.type === type);
}

const head = async () => (await readEvents(0, 0)).head;

/** Obtain a client credentials token for a platform with its secret, as the platform does. */
async function clientCredentials(clientId: string, secret: string, scope: string) {
  const configuration = await client.discovery(new URL(service.url), clientId, undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  return client.clientCredentialsGrant(configuration, { scope });
}

beforeAll(async () => {
  service = await startTestService();
  await receiver.up();
  enterpriseCode = randomCreditCode();
  ({ token: operatorToken, sub: operatorSub } = await operatorLogin());
  enterpriseToken = await enterpriseLogin();
}, 90_000);

afterAll(async () => {
  await receiver.down();
  await service?.stop();
});

const NEW_ROUTES: { method: 'GET' | 'POST'; path: string; body?: unknown }[] = [
  { method: 'GET', path: '/clients' },
  { method: 'POST', path: '/clients', body: { client_id: 'unauth', client_name: 'x', redirect_uris: ['https://x.example/cb'] } },
  { method: 'GET', path: '/clients/unauth' },
  { method: 'POST', path: '/clients/unauth/secret', body: { version: 1 } },
  { method: 'GET', path: '/enterprises?q=abc' },
  { method: 'GET', path: '/enterprises/914403001922038216' },
];

async function call(route: (typeof NEW_ROUTES)[number], token?: string) {
  const response = await fetch(api(route.path), {
    method: route.method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(route.body ? { 'content-type': 'application/json' } : {}) },
    body: route.body ? JSON.stringify(route.body) : undefined,
  });
  return { status: response.status, body: await response.json(), wwwAuthenticate: response.headers.get('www-authenticate') };
}

describe('operator enrollment key name', () => {
  it.each([
    ['empty', ''],
    ['blank', '  \u3000 '],
    ['only invisible characters', '\u200b\u2060\ufeff'],
    ['missing', undefined],
  ])('rejects a key name that is %s', async (_, displayName) => {
    const authenticator = new SoftAuthenticator();
    const enrollment = await createOperatorEnrollment({ name: '钱运维', minutes: 10 });
    const enrollToken = new URL(enrollment.link).hash.slice('#token='.length);
    const options = await postJson(`${service.url}/api/operator-enrollment/options`, { token: enrollToken });
    const credential = authenticator.register(options.body, service.url);
    const refused = await postJson(`${service.url}/api/operator-enrollment`, { token: enrollToken, userHandle: options.body.user.id, credential, displayName });
    expect(refused.status).toBe(400);
    expect(refused.body.details.field).toBe('displayName');
    expect(refused.body.message).toContain('displayName');
    expect(refused.body.message).toContain('name the key');

    // The link is not used up by the rejected request, so the operator can try again with a name.
    const retryOptions = await postJson(`${service.url}/api/operator-enrollment/options`, { token: enrollToken });
    const retry = authenticator.register(retryOptions.body, service.url);
    const finished = await postJson(`${service.url}/api/operator-enrollment`, { token: enrollToken, userHandle: retryOptions.body.user.id, credential: retry, displayName: '备用密钥', holderName: '冒名者' });
    expect(finished.status).toBe(201);
    expect(finished.body.displayName).toBe('备用密钥');
    const stored = await getCredential(finished.body.id);
    expect(stored?.holderName).toBe('钱运维');
    expect(stored?.holderRole).toBe('operator');
  });
});

describe('admin API authentication', () => {
  it.each(NEW_ROUTES)('rejects $method $path without a token', async (route) => {
    const response = await call(route);
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('UNAUTHENTICATED');
    expect(response.wwwAuthenticate).toBe('Bearer scope="admin"');
  });

  it.each(NEW_ROUTES)('rejects $method $path for an enterprise', async (route) => {
    const response = await call(route, enterpriseToken);
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('INSUFFICIENT_SCOPE');
  });

  it('rejects a platform feed token', async () => {
    const { token } = await platformToken(service.url, 'feed:read');
    const response = await call(NEW_ROUTES[0], token);
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('INSUFFICIENT_SCOPE');
  });
});

describe('platform client registration', () => {
  const valid = { client_id: 'land-trading', client_name: '土地交易平台', redirect_uris: ['https://land.example.gov.cn/oidc/callback'] };

  it.each([
    ['missing client_id', { ...valid, client_id: undefined }, 'FIELD_MISSING', 'client_id'],
    ['upper-case client_id', { ...valid, client_id: 'Land' }, 'FIELD_INVALID', 'client_id'],
    ['client_id with a colon', { ...valid, client_id: 'internal:x' }, 'FIELD_INVALID', 'client_id'],
    ['missing client_name', { ...valid, client_name: '  ' }, 'FIELD_MISSING', 'client_name'],
    ['long client_name', { ...valid, client_name: '长'.repeat(101) }, 'FIELD_INVALID', 'client_name'],
    ['no redirect URI', { ...valid, redirect_uris: [] }, 'FIELD_MISSING', 'redirect_uris'],
    ['redirect URIs not a list', { ...valid, redirect_uris: 'https://land.example/cb' }, 'FIELD_INVALID', 'redirect_uris'],
    ['http redirect URI', { ...valid, redirect_uris: ['http://land.example/cb'] }, 'FIELD_INVALID', 'redirect_uris[0]'],
    ['redirect URI with fragment', { ...valid, redirect_uris: ['https://land.example/cb#x'] }, 'FIELD_INVALID', 'redirect_uris[0]'],
    ['relative redirect URI', { ...valid, redirect_uris: ['/cb'] }, 'FIELD_INVALID', 'redirect_uris[0]'],
    ['http logout URI', { ...valid, backchannel_logout_uri: 'http://land.example/logout' }, 'FIELD_INVALID', 'backchannel_logout_uri'],
    ['ftp push endpoint', { ...valid, push_endpoint: 'ftp://land.example/events' }, 'FIELD_INVALID', 'push_endpoint'],
    ['uses_feed not boolean', { ...valid, uses_feed: 'yes' }, 'FIELD_INVALID', 'uses_feed'],
    ['wildcard redirect URI', { ...valid, redirect_uris: ['https://*.example.com/cb'] }, 'FIELD_INVALID', 'redirect_uris[0]'],
    ['push endpoint at a private address', { ...valid, client_id: 'private-push', push_endpoint: 'https://10.0.0.5/events' }, 'ENDPOINT_NOT_PUBLIC', 'push_endpoint'],
  ])('rejects %s', async (_name, body, code, field) => {
    const response = await send('/clients', body);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(code);
    expect(response.body.details.field).toBe(field);
    expect(response.body.message).toContain(field.replace(/\[\d+\]$/, ''));
  });

  it('rejects a built-in client id', async () => {
    const response = await send('/clients', { ...valid, client_id: 'admin-console' });
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('CLIENT_EXISTS');
  });

  it('rejects a body that is not JSON', async () => {
    const response = await fetch(api('/clients'), { method: 'POST', headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' }, body: '{"client_id":' });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('BODY_NOT_JSON');
  });

  it('registers a platform with an audit event', async () => {
    const before = await head();
    const response = await send('/clients', valid);
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/api/admin/clients/land-trading');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.body.client_id).toBe('land-trading');
    expect(response.body.scope).toBe('openid enterprise');
    expect(response.body.version).toBe(1);
    expect(response.body.createdBy).toBe(operatorSub);
    expect(response.body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const events = await eventsAfter(before, EVENT_TYPES.platformClientChanged);
    expect(events).toHaveLength(1);
    expect(events[0].audience).toBe(OPERATORS_ONLY);
    expect(events[0].data).toMatchObject({ clientId: 'land-trading', change: 'registered', actor: operatorSub, version: 1 });
    expect(JSON.stringify(events[0])).not.toContain(response.body.client_secret);

    const listed = await getJson(api('/clients'), operatorToken);
    expect(listed.status).toBe(200);
    const entry = listed.body.clients.find((c: any) => c.client_id === 'land-trading');
    expect(entry.client_name).toBe('土地交易平台');
    expect(entry.redirect_uris).toEqual(valid.redirect_uris);
    expect(entry).not.toHaveProperty('client_secret');
    expect(JSON.stringify(listed.body)).not.toContain(response.body.client_secret);
  });

  it('rejects the same registration twice', async () => {
    const body = { ...valid, client_id: 'twice-platform' };
    const first = await send('/clients', body);
    expect(first.status).toBe(201);
    const second = await send('/clients', body);
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('CLIENT_EXISTS');
    expect(second.body.message).toContain('twice-platform');
    expect(second.body).not.toHaveProperty('client_secret');
  });

  it('registers one of two concurrent requests', async () => {
    const body = { ...valid, client_id: 'race-platform', uses_feed: true };
    const before = await head();
    const results = await Promise.all([send('/clients', body), send('/clients', body)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const winner = results.find((r) => r.status === 201)!;
    const events = (await eventsAfter(before, EVENT_TYPES.platformClientChanged)).filter((e) => e.data.clientId === 'race-platform');
    expect(events).toHaveLength(1);
    // The secret returned to the winner is the one the provider accepts.
    const tokens = await clientCredentials('race-platform', winner.body.client_secret, 'feed:read');
    expect(tokens.scope).toBe('feed:read');
  });

  it('refuses an id registered outside the console', async () => {
    await savePlatformClient({ client_id: 'provisioned', client_secret: 'provisioned-secret-for-tests-only', client_name: 'P', redirect_uris: ['https://p.example/cb'] });
    const response = await send('/clients', { ...valid, client_id: 'provisioned' });
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('CLIENT_EXISTS');
  });

  it('lets a feed platform read the feed', async () => {
    const response = await send('/clients', { ...valid, client_id: 'feed-platform', uses_feed: true });
    expect(response.status).toBe(201);
    expect(response.body.scope).toBe('openid enterprise feed:read');
    const tokens = await clientCredentials('feed-platform', response.body.client_secret, 'feed:read');
    const feed = await getJson(`${service.url}/api/feed/events?after=0&limit=1000`, tokens.access_token);
    expect(feed.status).toBe(200);
    // Platform registrations are for operators only: the feed never shows them to a platform.
    const types = feed.body.sets.map((s: any) => Object.keys(JSON.parse(Buffer.from(s.set.split('.')[1], 'base64url').toString()).events)[0]);
    expect(types.length).toBeGreaterThan(0);
    expect(types).not.toContain(EVENT_TYPES.platformClientChanged);
  });

  it('lets enterprises log in to a new platform', async () => {
    const redirectUri = 'http://localhost:9/login-callback';
    const response = await send('/clients', { ...valid, client_id: 'login-platform', redirect_uris: [redirectUri] });
    expect(response.status).toBe(201);
    const settings: PlatformSettings = { issuer: service.url, clientId: 'login-platform', clientSecret: response.body.client_secret, redirectUri };
    const login = await certificateLogin(await discoverPlatform(settings), settings, holder);
    expect(login.claims.credit_code).toBe(enterpriseCode);
    expect(login.tokens.scope?.split(' ').sort()).toEqual(['enterprise', 'openid']);
  });

  it('keeps a login platform out of the feed', async () => {
    const response = await send('/clients', { ...valid, client_id: 'login-only' });
    expect(response.status).toBe(201);
    await expect(clientCredentials('login-only', response.body.client_secret, 'feed:read')).rejects.toMatchObject({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });
  });

  it('registers a push endpoint and shows delivery', async () => {
    const response = await send('/clients', { ...valid, client_id: 'push-platform', push_endpoint: receiver.url, backchannel_logout_uri: receiver.logoutUrl });
    expect(response.status).toBe(201);
    expect(response.body.uses_feed).toBe(true);
    expect(response.body.backchannel_logout_uri).toBe(receiver.logoutUrl);
    expect(response.body.delivery.endpoint).toBe(receiver.url);
    expect(response.body.delivery.status).toBe('active');
    expect(response.body.delivery.behind).toBe(0);
    // The provider accepts the registration, back-channel logout URI included.
    const tokens = await clientCredentials('push-platform', response.body.client_secret, 'feed:read');
    expect(tokens.scope).toBe('feed:read');

    // A change after registration reaches the endpoint; the registration event does not.
    await register(service.url, { creditCode: randomCreditCode(), name: '推送测试有限公司', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } });
    await receiver.waitFor(() => receiver.received.length > 0, 'a pushed event');
    const types = receiver.received.map((set) => Object.keys(set.payload.events)[0]);
    expect(types).toContain(EVENT_TYPES.enterpriseRegistered);
    expect(types).not.toContain(EVENT_TYPES.platformClientChanged);

    await expect
      .poll(async () => (await getJson(api('/clients/push-platform'), operatorToken)).body.delivery.delivered, { timeout: 15_000 })
      .toBeGreaterThan(0);
  });
});

describe('platform secret rotation', () => {
  let secret: string;
  let version: number;

  beforeAll(async () => {
    const created = await send('/clients', { client_id: 'rotate-platform', client_name: '政府采购平台', redirect_uris: ['https://gp.example/cb'], uses_feed: true });
    expect(created.status).toBe(201);
    secret = created.body.client_secret;
    version = created.body.version;
  });

  it('requires the version read', async () => {
    const missing = await send('/clients/rotate-platform/secret', {});
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('FIELD_MISSING');
    expect(missing.body.details.field).toBe('version');
    const stale = await send('/clients/rotate-platform/secret', { version: version + 5 });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('PLATFORM_CHANGED');
    expect(stale.body.message).toContain(`version ${version}`);
  });

  it('answers 404 for an unknown platform', async () => {
    const response = await send('/clients/no-such-platform/secret', { version: 1 });
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('PLATFORM_NOT_FOUND');
    const read = await getJson(api('/clients/no-such-platform'), operatorToken);
    expect(read.status).toBe(404);
  });

  it('replaces the secret once', async () => {
    const logged: string[] = [];
    const original = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    const capture = (chunk: unknown, ...rest: unknown[]) => {
      logged.push(String(chunk));
      return (original.out as (...args: unknown[]) => boolean)(chunk, ...rest);
    };
    const level = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'debug';
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    const before = await head();
    let rotated: Awaited<ReturnType<typeof send>>;
    let concurrent: Awaited<ReturnType<typeof send>>[];
    try {
      rotated = await send('/clients/rotate-platform/secret', { version });
      concurrent = await Promise.all([send('/clients/rotate-platform/secret', { version: version + 1 }), send('/clients/rotate-platform/secret', { version: version + 1 })]);
    } finally {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
      process.env.LOG_LEVEL = level;
    }
    expect(rotated.status).toBe(200);
    expect(rotated.body.version).toBe(version + 1);
    expect(rotated.body.client_secret).not.toBe(secret);
    expect(logged.some((line) => line.includes('platform client secret rotated'))).toBe(true);
    expect(logged.filter((line) => line.includes(rotated.body.client_secret))).toEqual([]);

    // Of two rotations from the same version, one succeeds and the other gets 409.
    expect(concurrent.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = concurrent.find((r) => r.status === 200)!;
    expect(logged.filter((line) => line.includes(winner.body.client_secret))).toEqual([]);

    const events = (await eventsAfter(before, EVENT_TYPES.platformClientChanged)).filter((e) => e.data.clientId === 'rotate-platform');
    expect(events.map((e) => e.data.change)).toEqual(['secret-rotated', 'secret-rotated']);
    expect(events.every((e) => e.data.actor === operatorSub)).toBe(true);

    await expect(clientCredentials('rotate-platform', secret, 'feed:read')).rejects.toMatchObject({ status: 401, cause: [{ parameters: { error: 'invalid_client' } }] });
    await expect(clientCredentials('rotate-platform', rotated.body.client_secret, 'feed:read')).rejects.toMatchObject({ status: 401, cause: [{ parameters: { error: 'invalid_client' } }] });
    const tokens = await clientCredentials('rotate-platform', winner.body.client_secret, 'feed:read');
    expect(tokens.access_token).toBeTruthy();
  });

  it('ends the tokens issued before the rotation', async () => {
    const current = await getJson(api('/clients/rotate-platform'), operatorToken);
    const oldSecret = (await send('/clients/rotate-platform/secret', { version: current.body.version })).body;
    const tokens = await clientCredentials('rotate-platform', oldSecret.client_secret, 'feed:read');
    expect((await getJson(`${service.url}/api/feed/events?after=0&limit=1`, tokens.access_token)).status).toBe(200);
    const rotated = await send('/clients/rotate-platform/secret', { version: oldSecret.version });
    expect(rotated.status).toBe(200);
    const after = await getJson(`${service.url}/api/feed/events?after=0&limit=1`, tokens.access_token);
    expect(after.status).toBe(401);
  });
});

describe('enterprise search', () => {
  it('finds an enterprise by name prefix', async () => {
    const response = await getJson(api(`/enterprises?q=${encodeURIComponent('华南建设')}`), operatorToken);
    expect(response.status).toBe(200);
    expect(response.body.by).toBe('name');
    expect(response.body.enterprises.map((e: any) => e.creditCode)).toContain(enterpriseCode);
    const found = response.body.enterprises.find((e: any) => e.creditCode === enterpriseCode);
    expect(found.name).toBe(NAME);
    expect(found.status).toBe('verified');
  });

  it('finds an enterprise by credit code', async () => {
    const response = await getJson(api(`/enterprises?q=${enterpriseCode.toLowerCase()}`), operatorToken);
    expect(response.status).toBe(200);
    expect(response.body.by).toBe('creditCode');
    expect(response.body.enterprises).toHaveLength(1);
    expect(response.body.enterprises[0].creditCode).toBe(enterpriseCode);
  });

  it('returns nothing for an unknown name', async () => {
    const response = await getJson(api(`/enterprises?q=${encodeURIComponent('不存在的名称')}`), operatorToken);
    expect(response.status).toBe(200);
    expect(response.body.enterprises).toEqual([]);
  });

  it('hints at the whole code for a partial one', async () => {
    const response = await getJson(api(`/enterprises?q=${enterpriseCode.slice(0, 8)}`), operatorToken);
    expect(response.status).toBe(200);
    expect(response.body.enterprises).toEqual([]);
    expect(response.body.hint).toContain('18 characters');
  });

  it('rejects a wrong check character', async () => {
    const response = await getJson(api(`/enterprises?q=${withWrongCheck(enterpriseCode)}`), operatorToken);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('INVALID_CREDIT_CODE');
    expect(response.body.details.expectedCheckCharacter).toBe(enterpriseCode[17]);
  });

  it('rejects a missing query', async () => {
    const response = await getJson(api('/enterprises?q=%20'), operatorToken);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('FIELD_MISSING');
    expect(response.body.details.field).toBe('q');
  });

  it('shows certificates and passkeys', async () => {
    const response = await getJson(api(`/enterprises/${enterpriseCode}`), operatorToken);
    expect(response.status).toBe(200);
    expect(response.body.name).toBe(NAME);
    expect(response.body.certificates).toHaveLength(1);
    expect(response.body.certificates[0].caId).toBe('admin-api-ca');
    expect(response.body.certificates[0].status).toBe('active');
    expect(response.body.certificates[0]).not.toHaveProperty('pem');
    expect(response.body.passkeys).toEqual([]);
  });

  it('answers 404 for an unregistered code', async () => {
    const response = await getJson(api(`/enterprises/${randomCreditCode()}`), operatorToken);
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('NOT_REGISTERED');
  });
});

describe('CA profile changes by an operator', () => {
  it('names the operator as actor', async () => {
    const ca = await createRootCa(`${await tempDir()}/ca`, 'Actor Test CA', 'ec');
    const before = await head();
    const created = await send('/ca-profiles', { id: 'actor-ca', name: 'Actor Test CA', anchors: [ca.certPem] });
    expect(created.status).toBe(201);
    const suspended = await send('/ca-profiles/actor-ca/status', { status: 'suspended', reason: '测试', version: created.body.version });
    expect(suspended.status).toBe(200);
    const events = (await readEvents(before, 100)).events.filter((e) => e.caId === 'actor-ca');
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.data.actor === operatorSub)).toBe(true);
  });
});
