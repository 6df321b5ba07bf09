import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitWithEvents } from '../../functions/db/events.js';
import { getEnterprise } from '../../functions/db/enterprises.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { changeCaStatus, saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { bind, certificateLogin, discoverPlatform, register } from '../../infra/local/journey.js';
import { findSessionsByAccount } from '../../oidc/adapter.js';
import { randomCreditCode } from '../helpers/codes.js';
import { eventually, getJson, platformToken, setVerifier, TestReceiver } from '../helpers/feed.js';
import { createRootCa, enterpriseHolder, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let ca: Awaited<ReturnType<typeof createRootCa>>;

beforeAll(async () => {
  service = await startTestService();
  ca = await createRootCa(await tempDir(), 'Session Test CA', 'ec');
  const profile = defaultProfile('session-ca', 'Session Test CA', [ca.certPem]);
  profile.revocation = { ...profile.revocation, failPolicy: 'open' };
  await saveCaProfile(profile);
});
afterAll(async () => {
  await service?.stop();
});

describe('session revocation', () => {
  it('logs out platforms when a certificate is revoked', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const clientId = `trading-${randomBytes(4).toString('hex')}`;
    const settings = { issuer: service.url, clientId, clientSecret: randomBytes(24).toString('base64url'), redirectUri: 'http://127.0.0.1:9/callback' };
    await savePlatformClient({
      client_id: clientId,
      client_secret: settings.clientSecret,
      client_name: '交易平台',
      redirect_uris: [settings.redirectUri],
      backchannel_logout_uri: receiver.logoutUrl,
      backchannel_logout_session_required: true,
    });

    const code = randomCreditCode();
    await register(service.url, { creditCode: code, name: '会话测试有限公司', legalRepresentative: '王五', contact: { name: '赵六', phone: '0755-12345678' } });
    const holder = await enterpriseHolder(ca, 'session', code);
    const bound = await bind(service.url, code, holder, { confirmDetails: true });
    expect(bound.status).toBe(201);
    const login = await certificateLogin(await discoverPlatform(settings), settings, holder);
    const enterprise = (await getEnterprise(code))!;
    expect(await findSessionsByAccount(enterprise.sub)).toHaveLength(1);
    expect((await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${login.tokens.access_token}` } })).status).toBe(200);

    const fingerprint = bound.body.certificate.fingerprint as string;
    await commitWithEvents([], [
      { type: EVENT_TYPES.certificateRevoked, creditCode: code, enterpriseSeq: enterprise.version + 1, data: { creditCode: code, fingerprint, reason: 'keyCompromise' } },
    ]);

    await receiver.waitFor(() => receiver.logoutTokens.length > 0, 'the back-channel logout');
    const jwks = createRemoteJWKSet(new URL(`${service.url}/jwks`));
    const { payload } = await jwtVerify(receiver.logoutTokens[0], jwks, { issuer: service.url, audience: clientId });
    expect(payload.sub).toBe(enterprise.sub);
    expect(payload.sid).toBe(login.claims.sid);
    expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });

    await eventually(async () => ((await findSessionsByAccount(enterprise.sub)).length === 0 ? true : undefined), 'the session to end');
    expect((await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${login.tokens.access_token}` } })).status).toBe(401);

    // The same client id also gets a feed token: it reads the session-revoked event, other platforms do not.
    await savePlatformClient({
      client_id: clientId,
      client_secret: settings.clientSecret,
      client_name: '交易平台',
      redirect_uris: [settings.redirectUri],
      grant_types: ['authorization_code', 'client_credentials'],
      scope: 'openid enterprise feed:read',
      backchannel_logout_uri: receiver.logoutUrl,
      backchannel_logout_session_required: true,
    });
    const feed = await import('openid-client');
    const configuration = await discoverPlatform(settings);
    const token = (await feed.clientCredentialsGrant(configuration, { scope: 'feed:read' })).access_token;
    const revoked = await eventually(async () => {
      const page = await getJson(`${service.url}/api/feed/events?after=0&limit=1000`, token);
      return page.body.sets.find((item: any) => JSON.parse(Buffer.from(item.set.split('.')[1], 'base64url').toString()).events[EVENT_TYPES.sessionRevoked]);
    }, 'the session-revoked event');
    const set = await setVerifier(service.url, clientId)(revoked.set);
    const data = (set.events as Record<string, any>)[EVENT_TYPES.sessionRevoked];
    expect(data).toMatchObject({ clientId, creditCode: code, initiating_entity: 'policy', backchannelLogout: 'sent', sid: login.claims.sid });

    const other = await platformToken(service.url);
    const otherPage = await getJson(`${service.url}/api/feed/events?after=0&limit=1000`, other.token);
    expect(otherPage.body.sets.map((item: any) => item.jti)).not.toContain(revoked.jti);
    await receiver.down();
  });
});

describe('CA distrust', () => {
  it('ends sessions opened with the CA\'s certificates', async () => {
    const distrusted = await createRootCa(await tempDir(), 'Distrusted Session CA', 'ec');
    const profile = defaultProfile('distrust-session-ca', 'Distrusted Session CA', [distrusted.certPem]);
    profile.revocation = { ...profile.revocation, failPolicy: 'open' };
    const saved = await saveCaProfile(profile);
    const clientId = `trading-${randomBytes(4).toString('hex')}`;
    const settings = { issuer: service.url, clientId, clientSecret: randomBytes(24).toString('base64url'), redirectUri: 'http://127.0.0.1:9/callback' };
    await savePlatformClient({ client_id: clientId, client_secret: settings.clientSecret, client_name: '交易平台', redirect_uris: [settings.redirectUri] });

    // One enterprise logs in with the distrusted CA's certificate, another with a certificate of a CA that stays trusted.
    const code = randomCreditCode();
    await register(service.url, { creditCode: code, name: '被撤信任机构企业', legalRepresentative: '王五', contact: { name: '赵六', phone: '0755-12345678' } });
    const holder = await enterpriseHolder(distrusted, 'distrust-session', code);
    expect((await bind(service.url, code, holder, { confirmDetails: true })).status).toBe(201);
    const login = await certificateLogin(await discoverPlatform(settings), settings, holder);
    const otherCode = randomCreditCode();
    await register(service.url, { creditCode: otherCode, name: '其他机构企业', legalRepresentative: '王五', contact: { name: '赵六', phone: '0755-12345678' } });
    const otherHolder = await enterpriseHolder(ca, 'distrust-session-other', otherCode);
    expect((await bind(service.url, otherCode, otherHolder, { confirmDetails: true })).status).toBe(201);
    const otherLogin = await certificateLogin(await discoverPlatform(settings), settings, otherHolder);
    const enterprise = (await getEnterprise(code))!;
    expect(await findSessionsByAccount(enterprise.sub)).toHaveLength(1);

    await changeCaStatus('distrust-session-ca', 'distrusted', 'key compromise', saved.version, 'test');

    await eventually(async () => ((await findSessionsByAccount(enterprise.sub)).length === 0 ? true : undefined), 'the session to end');
    expect((await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${login.tokens.access_token}` } })).status).toBe(401);
    expect((await fetch(`${service.url}/me`, { headers: { authorization: `Bearer ${otherLogin.tokens.access_token}` } })).status).toBe(200);
    const otherEnterprise = (await getEnterprise(otherCode))!;
    expect(await findSessionsByAccount(otherEnterprise.sub)).toHaveLength(1);
  });
});
