import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { createOperatorEnrollment } from '../../functions/services/operators.js';
import { DynamoDbAdapter } from '../../oidc/adapter.js';
import { bind, certificateLogin, CookieJar, discoverPlatform, followUntil, passkeyLogin, postJson, register, type PlatformSettings } from '../../infra/local/journey.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, tempDir, profileWithoutRevocation } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let console_: PlatformSettings;
let consoleConfiguration: client.Configuration;

beforeAll(async () => {
  service = await startTestService();
  console_ = { issuer: service.url, clientId: 'admin-console', clientSecret: '', redirectUri: `${service.url}/static/admin/index.html` };
  consoleConfiguration = await client.discovery(new URL(service.url), 'admin-console', undefined, client.None(), { execute: [client.allowInsecureRequests] });
});
afterAll(async () => {
  await service?.stop();
});

/** Enroll a new operator with `authenticator` through the enrollment API. */
async function enroll(authenticator: SoftAuthenticator, name = '省交易中心 管理员') {
  const enrollment = await createOperatorEnrollment({ name, minutes: 10 });
  const token = new URL(enrollment.link).hash.slice('#token='.length);
  const options = await postJson(`${service.url}/api/operator-enrollment/options`, { token });
  expect(options.status).toBe(200);
  const credential = authenticator.register(options.body, service.url);
  const finished = await postJson(`${service.url}/api/operator-enrollment`, { token, userHandle: options.body.user.id, credential, displayName: '办公室安全密钥' });
  return { enrollment, token, options, finished };
}

describe('operator enrollment and admin console login', () => {
  it('enrolls with a one-time link', async () => {
    const { enrollment, token, finished } = await enroll(new SoftAuthenticator());
    expect(enrollment.link).toMatch(new RegExp(`^${service.url}/static/admin/enroll\\.html#token=`));
    expect(enrollment.operator.sub).toMatch(/^op_/);
    expect(finished.status).toBe(201);
    const reuse = await postJson(`${service.url}/api/operator-enrollment/options`, { token });
    expect(reuse.status).toBe(410);
    expect(reuse.body.error).toBe('ENROLLMENT_INVALID');
  });

  it('rejects an unknown enrollment token', async () => {
    const response = await postJson(`${service.url}/api/operator-enrollment/options`, { token: 'A'.repeat(43) });
    expect(response.status).toBe(410);
    const malformed = await postJson(`${service.url}/api/operator-enrollment/options`, { token: 'short' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.details.field).toBe('token');
  });

  it('logs an operator in to the admin console', async () => {
    const authenticator = new SoftAuthenticator();
    const { enrollment } = await enroll(authenticator, '李运维');
    const { claims, tokens } = await passkeyLogin(consoleConfiguration, console_, (options) => authenticator.authenticate(options, service.url), { scope: 'openid admin' });
    expect(claims.sub).toBe(enrollment.operator.sub);
    expect(claims.name).toBe('李运维');
    expect(claims.role).toBe('admin');
    expect(claims.acr).toBe('urn:trading-identity:acr:passkey');
    const stored = await new DynamoDbAdapter('AccessToken').find(tokens.access_token);
    expect(String(stored?.scope).split(' ')).toContain('admin');
  });

  it('rejects a certificate at the admin console', async () => {
    const jar = new CookieJar();
    const url = client.buildAuthorizationUrl(consoleConfiguration, {
      redirect_uri: console_.redirectUri,
      scope: 'openid admin',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const interaction = await followUntil(url.href, jar, (u) => u.pathname.startsWith('/interaction/'));
    // No certificate challenge is issued for the admin console, so no submission can carry a valid one.
    const challenge = await fetch(`${interaction}/challenge`, { headers: { cookie: jar.header() } });
    expect(challenge.status).toBe(403);
    expect((await challenge.json()).error).toBe('METHOD_NOT_ALLOWED_HERE');
    const response = await postJson(`${interaction}/certificate`, { certificate: 'x', challenge: 'x', signature: 'x' }, { cookie: jar.header() });
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('MALFORMED');
  });

  it('keeps operators and enterprises apart', async () => {
    const operatorKey = new SoftAuthenticator();
    await enroll(operatorKey);
    const ca = await createRootCa(`${await tempDir()}/ca`, 'Operator Test CA', 'ec');
    await saveCaProfile(profileWithoutRevocation('operator-test-ca', 'Operator Test CA', [ca.certPem]));
    const platform: PlatformSettings = { issuer: service.url, clientId: 'land', clientSecret: 'land-secret-for-tests-only', redirectUri: 'https://land.example/cb' };
    await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: '土地交易平台', redirect_uris: [platform.redirectUri] });
    const platformConfiguration = await discoverPlatform(platform);

    const operatorAtPlatform = passkeyLogin(platformConfiguration, platform, (options) => operatorKey.authenticate(options, service.url));
    await expect(operatorAtPlatform).rejects.toMatchObject({ status: 403, response: { error: 'PASSKEY_WRONG_ACCOUNT_KIND' } });

    const creditCode = randomCreditCode();
    await register(service.url, { creditCode, name: '普通企业', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } });
    const holder = await enterpriseHolder(ca, 'plain', creditCode, { name: '普通企业' });
    await bind(service.url, creditCode, holder, { confirmDetails: true });
    // A platform that requests the admin scope on an enterprise login gets an error, not a token.
    const attempt = certificateLogin(platformConfiguration, platform, holder, { scope: 'openid enterprise admin' });
    await expect(attempt).rejects.toMatchObject({ error: 'invalid_scope' });
  });
});
