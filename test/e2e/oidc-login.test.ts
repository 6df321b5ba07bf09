import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventFromItem } from '../../functions/db/events.js';
import { readLoginStats } from '../../functions/db/login-stats.js';
import { queryIndex } from '../../functions/db/query.js';
import { publishLoginEvents } from '../../functions/feed/login-outbox.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { issueLoginChallenge } from '../../functions/services/login-challenge.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import {
  bind,
  certificateLogin,
  CookieJar,
  discoverPlatform,
  followUntil,
  postJson,
  register,
  signChallenge,
  type Holder,
  type PlatformSettings,
} from '../../infra/local/journey.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, tempDir, profileWithoutRevocation } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let settings: PlatformSettings;
let configuration: client.Configuration;
let holder: Holder;
let creditCode: string;

beforeAll(async () => {
  service = await startTestService();
  const ca = await createRootCa(`${await tempDir()}/ca`, 'E2E CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('e2e', 'E2E CA', [ca.certPem]));
  settings = { issuer: service.url, clientId: 'platform-a', clientSecret: 'platform-a-secret-for-tests-only', redirectUri: 'https://platform-a.example/callback' };
  await savePlatformClient({ client_id: settings.clientId, client_secret: settings.clientSecret, client_name: '建设工程交易平台', redirect_uris: [settings.redirectUri] });
  creditCode = randomCreditCode();
  expect((await register(service.url, { creditCode, name: '端到端测试公司', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } })).status).toBe(201);
  holder = await enterpriseHolder(ca, 'e2e', creditCode, { name: '端到端测试公司' });
  expect((await bind(service.url, creditCode, holder, { confirmDetails: true })).status).toBe(201);
  configuration = await discoverPlatform(settings);
});
afterAll(async () => {
  await service?.stop();
});

/** Start an authorization request and return the interaction URL, the cookie jar and the PKCE verifier. */
async function startLogin(params: Record<string, string> = {}, platform = { configuration, settings }) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(platform.configuration, {
    redirect_uri: platform.settings.redirectUri,
    scope: 'openid enterprise',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const jar = new CookieJar();
  const interaction = await followUntil(url.href, jar, (u) => u.pathname.startsWith('/interaction/'));
  return { interaction, jar, verifier, state };
}

async function answer(interaction: string, jar: CookieJar, who: Holder, challengeText?: string) {
  const challengeResponse = await fetch(`${interaction}/challenge`, { headers: { cookie: jar.header() } });
  const challenge = challengeText ?? (await challengeResponse.json()).challenge;
  return submit(interaction, jar, { certificate: who.certPem, challenge, signature: signChallenge(who.keyPem, challenge) });
}

/** Post a certificate submission to the login interaction. */
async function submit(interaction: string, jar: CookieJar, body: Record<string, unknown>) {
  const response = await fetch(`${interaction}/certificate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: jar.header() },
    body: JSON.stringify(body),
  });
  jar.store(response.headers);
  return { status: response.status, body: await response.json() };
}

/** Fetch a login challenge of the interaction and sign it with the holder's key. */
async function signedSubmission(interaction: string, jar: CookieJar, who: Holder) {
  const { challenge } = await (await fetch(`${interaction}/challenge`, { headers: { cookie: jar.header() } })).json();
  return { certificate: who.certPem, challenge, signature: signChallenge(who.keyPem, challenge) };
}

const uidOf = (interaction: string) => new URL(interaction).pathname.split('/')[2];

describe('certificate login over OIDC', () => {
  it('publishes discovery with PKCE S256 only', () => {
    const metadata = configuration.serverMetadata();
    expect(metadata.issuer).toBe(service.url);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.acr_values_supported).toContain('urn:trading-identity:acr:certificate');
  });

  it('logs in and returns verified claims', async () => {
    const { claims, userinfo, tokens } = await certificateLogin(configuration, settings, holder);
    expect(claims.credit_code).toBe(creditCode);
    expect(claims.enterprise_name).toBe('端到端测试公司');
    expect(claims.verification_status).toBe('verified');
    expect(claims.acr).toBe('urn:trading-identity:acr:certificate');
    expect(claims.amr).toEqual(['pop', 'x509']);
    expect(claims['x5t#S256']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(claims.sub).toMatch(/^ent_/);
    expect(userinfo.credit_code).toBe(creditCode);
    expect(userinfo['x5t#S256']).toBe(claims['x5t#S256']);
    expect(userinfo.amr).toEqual(['pop', 'x509']);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
  });

  it('allows no cross-origin calls to /me and /token', async () => {
    const { tokens } = await certificateLogin(configuration, settings, holder);
    // The platform's own origin is the one the default oidc-provider policy would allow at userinfo.
    for (const origin of ['https://attacker.example', new URL(settings.redirectUri).origin]) {
      const me = await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, origin } });
      expect(me.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(me.status, origin).toBe(400);
      const token = await fetch(`${service.url}/token`, {
        method: 'POST',
        headers: { origin, authorization: `Basic ${Buffer.from(`${settings.clientId}:${settings.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'unused' }),
      });
      expect(token.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect((await token.json()).error_description, origin).toContain(`origin ${origin} not allowed`);
    }
    // The portal calls /me from the issuer's own origin.
    const sameOrigin = await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, origin: new URL(service.url).origin } });
    expect(sameOrigin.status).toBe(200);
  });

  it('keeps the subject stable across logins', async () => {
    const first = await certificateLogin(configuration, settings, holder);
    const second = await certificateLogin(configuration, settings, holder);
    expect(second.claims.sub).toBe(first.claims.sub);
  });

  it('lets the enterprise token read its own record only', async () => {
    const { tokens } = await certificateLogin(configuration, settings, holder);
    const own = await fetch(`${service.url}/api/enterprises/${creditCode}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(own.status).toBe(200);
    expect((await own.json()).details.legalRepresentative).toBe('甲');
    const certificates = await fetch(`${service.url}/api/enterprises/${creditCode}/certificates`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect((await certificates.json()).certificates).toHaveLength(1);
    const other = await fetch(`${service.url}/api/enterprises/${randomCreditCode()}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(other.status).toBe(403);
  });

  it('refuses machine scopes to a platform login', async () => {
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: settings.redirectUri,
      scope: 'openid enterprise admin feed:read ca:sync',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!, service.url);
    expect(location.href.startsWith(settings.redirectUri)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_scope');
  });

  it('rejects an unregistered redirect_uri', async () => {
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: 'https://attacker.example/callback',
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('redirect_uri');
  });

  it('rejects an authorization request without PKCE', async () => {
    const url = new URL(`${service.url}/auth`);
    url.search = new URLSearchParams({ client_id: settings.clientId, redirect_uri: settings.redirectUri, response_type: 'code', scope: 'openid' }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toContain('PKCE');
  });

  it('rejects a token request without the PKCE verifier', async () => {
    const { interaction, jar } = await startLogin();
    const answered = await answer(interaction, jar, holder);
    expect(answered.status).toBe(200);
    const callback = new URL(await followUntil(new URL(answered.body.redirectTo, service.url).href, jar, (u) => u.href.startsWith(settings.redirectUri)));
    const response = await fetch(`${service.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${settings.clientId}:${settings.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: settings.redirectUri }),
    });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error).toBe('invalid_grant');
    expect(body.error_description).toBe('grant request is invalid');
  });

  it('redeems an authorization code once, even concurrently', async () => {
    const { interaction, jar, verifier, state } = await startLogin();
    const answered = await answer(interaction, jar, holder);
    const callback = new URL(await followUntil(new URL(answered.body.redirectTo, service.url).href, jar, (u) => u.href.startsWith(settings.redirectUri)));
    const attempts = await Promise.allSettled(
      Array.from({ length: 4 }, () => client.authorizationCodeGrant(configuration, callback, { pkceCodeVerifier: verifier, expectedState: state })),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    for (const failed of attempts.filter((a) => a.status === 'rejected')) {
      expect(String((failed as PromiseRejectedResult).reason.error ?? (failed as PromiseRejectedResult).reason)).toContain('invalid_grant');
    }
  });

  it('refuses a certificate that is not bound', async () => {
    const ca = await createRootCa(`${await tempDir()}/ca2`, 'E2E CA', 'ec');
    await saveCaProfile(profileWithoutRevocation('e2e-second', 'Second E2E CA', [ca.certPem]));
    const stranger = await enterpriseHolder(ca, 'unbound', randomCreditCode());
    const { interaction, jar } = await startLogin();
    const answered = await answer(interaction, jar, stranger);
    expect(answered.status).toBe(422);
    expect(answered.body.error).toBe('NOT_BOUND');
    expect(answered.body.details.explanation.en).toContain('bind it');
  });

  it('refuses a challenge issued for another login', async () => {
    const first = await startLogin();
    const challenge = (await (await fetch(`${first.interaction}/challenge`, { headers: { cookie: first.jar.header() } })).json()).challenge;
    const second = await startLogin();
    const answered = await answer(second.interaction, second.jar, holder, challenge);
    expect(answered.body.error).toBe('CHALLENGE_INVALID');
  });

  it('refuses a binding challenge used to log in', async () => {
    const bindChallenge = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode });
    const { interaction, jar } = await startLogin();
    const answered = await answer(interaction, jar, holder, bindChallenge.body.challenge);
    expect(answered.body.error).toBe('CHALLENGE_INVALID');
    expect(answered.body.message).toContain('bind');
  });

  it('refuses a login challenge used to bind', async () => {
    const { interaction, jar } = await startLogin();
    const { challenge } = await (await fetch(`${interaction}/challenge`, { headers: { cookie: jar.header() } })).json();
    const response = await postJson(`${service.url}/api/enterprises/${creditCode}/certificates`, {
      certificate: holder.certPem,
      challenge,
      signature: signChallenge(holder.keyPem, challenge),
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('CHALLENGE_INVALID');
    expect(response.body.message).toContain('issued for login, not bind');
    expect(response.body.message).toContain('POST /api/challenges');
  });

  it('rejects an interaction without its cookie', async () => {
    const { interaction } = await startLogin();
    const response = await fetch(`${interaction}/challenge`);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('INTERACTION_EXPIRED');
  });

  it('shows an expired interaction as a page', async () => {
    const response = await fetch(`${service.url}/interaction/unknown-interaction`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('text/html');
    const page = await response.text();
    expect(page).toContain('INTERACTION_EXPIRED');
    expect(page).toContain('请返回交易平台重新发起登录');
  });
});

describe('login recording', () => {
  it('refuses a replayed signature on the same interaction', async () => {
    const { interaction, jar } = await startLogin();
    const submission = await signedSubmission(interaction, jar, holder);
    const first = await submit(interaction, jar, submission);
    expect(first.status).toBe(200);
    expect(first.body.redirectTo).toBe(`${service.url}/interaction/${uidOf(interaction)}/finish`);
    const replay = await submit(interaction, jar, submission);
    expect(replay.status).toBe(409);
    expect(replay.body.error).toBe('LOGIN_ALREADY_RECORDED');
    expect(replay.body.message).toContain(uidOf(interaction));
  });

  it('refuses a challenge issued for another interaction', async () => {
    const first = await startLogin();
    const submission = await signedSubmission(first.interaction, first.jar, holder);
    const second = await startLogin();
    const answered = await submit(second.interaction, second.jar, submission);
    expect(answered.status).toBe(400);
    expect(answered.body.error).toBe('CHALLENGE_INVALID');
    expect(answered.body.message).toContain(uidOf(first.interaction));
    // The challenge still works on its own interaction.
    expect((await submit(first.interaction, first.jar, submission)).status).toBe(200);
  });

  it('refuses a tampered challenge', async () => {
    const { interaction, jar } = await startLogin();
    const { challenge } = await (await fetch(`${interaction}/challenge`, { headers: { cookie: jar.header() } })).json();
    const tampered = challenge.replace(/^nonce=.*$/m, `nonce=${'A'.repeat(43)}`);
    expect(tampered).not.toBe(challenge);
    const answered = await submit(interaction, jar, { certificate: holder.certPem, challenge: tampered, signature: signChallenge(holder.keyPem, tampered) });
    expect(answered.status).toBe(400);
    expect(answered.body.error).toBe('CHALLENGE_INVALID');
    expect(answered.body.message).toContain('altered');
  });

  it('refuses an expired challenge', async () => {
    const { interaction, jar } = await startLogin();
    // Issued with the service's own keys (this process loads the same keys file), an hour ago.
    const expired = await issueLoginChallenge({ uid: uidOf(interaction), clientId: settings.clientId, scope: 'openid enterprise' }, { now: new Date(Date.now() - 3_600_000) });
    const answered = await submit(interaction, jar, { certificate: holder.certPem, challenge: expired.text, signature: signChallenge(holder.keyPem, expired.text) });
    expect(answered.status).toBe(400);
    expect(answered.body.error).toBe('CHALLENGE_INVALID');
    expect(answered.body.message).toContain('expired');
  });

  it('records one login from concurrent submissions', async () => {
    const race: PlatformSettings = { issuer: service.url, clientId: 'platform-race', clientSecret: 'platform-race-secret-for-tests-only', redirectUri: 'https://platform-race.example/callback' };
    await savePlatformClient({ client_id: race.clientId, client_secret: race.clientSecret, client_name: '并发测试平台', redirect_uris: [race.redirectUri] });
    const platform = { configuration: await discoverPlatform(race), settings: race };
    const { interaction, jar } = await startLogin({}, platform);
    const submission = await signedSubmission(interaction, jar, holder);
    const results = await Promise.all(Array.from({ length: 4 }, () => submit(interaction, jar, submission)));
    expect(results.filter((result) => result.status === 200)).toHaveLength(1);
    for (const result of results.filter((r) => r.status !== 200)) {
      expect(result.status).toBe(409);
      expect(result.body.error).toBe('LOGIN_ALREADY_RECORDED');
    }
    // The login event waits in the outbox until a publisher moves it to the feed and counts it.
    await publishLoginEvents();
    const [today] = await readLoginStats(1);
    expect(today.byClient[race.clientId]).toBe(1);
    const events = (await queryIndex('gsi1', `EVT#ENT#${creditCode}`)).map(eventFromItem).filter((event) => event.type === EVENT_TYPES.login && (event.data as { clientId?: string }).clientId === race.clientId);
    expect(events).toHaveLength(1);
    // The one recorded login finishes the interaction.
    const winner = results.find((result) => result.status === 200)!;
    const callback = await followUntil(winner.body.redirectTo, jar, (u) => u.href.startsWith(race.redirectUri));
    expect(new URL(callback).searchParams.get('code')).toBeTruthy();
  });

  it('refuses to finish without a recorded login', async () => {
    const { interaction, jar } = await startLogin();
    const response = await fetch(`${interaction}/finish`, { headers: { cookie: jar.header() }, redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('LOGIN_NOT_RECORDED');
    // Nothing was spent: the same interaction can still log in.
    const answered = await answer(interaction, jar, holder);
    expect(answered.status).toBe(200);
  });

  it('refuses to finish in another browser', async () => {
    const { interaction, jar } = await startLogin();
    const answered = await answer(interaction, jar, holder);
    expect(answered.status).toBe(200);
    const response = await fetch(answered.body.redirectTo, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('INTERACTION_EXPIRED');
  });

  it('refuses a forged interaction cookie', async () => {
    const { interaction } = await startLogin();
    const forged = `_interaction=${uidOf(interaction)}; _interaction.sig=${'A'.repeat(27)}`;
    const response = await fetch(`${interaction}/challenge`, { headers: { cookie: forged } });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('INTERACTION_EXPIRED');
  });
});

