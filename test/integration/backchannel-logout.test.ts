import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLogoutClient, selectSigningKey, sendBackchannelLogout } from '../../functions/feed/backchannel-logout.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { getProvider } from '../../oidc/instance.js';
import { TestReceiver } from '../helpers/feed.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let receiver: TestReceiver;

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  receiver = new TestReceiver();
  await receiver.up();
});
afterAll(async () => {
  await receiver?.down();
  await service?.stop();
});

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Register a platform that receives logout tokens at the test receiver. */
async function registerPlatform(extra: Record<string, unknown>): Promise<string> {
  const clientId = `logout-${randomBytes(4).toString('hex')}`;
  await savePlatformClient({
    client_id: clientId,
    client_secret: randomBytes(24).toString('base64url'),
    client_name: '土地交易平台',
    redirect_uris: ['http://127.0.0.1:9/callback'],
    backchannel_logout_uri: receiver.logoutUrl,
    ...extra,
  });
  return clientId;
}

/** Return the next logout token the receiver gets while `send` runs. */
async function receive(send: () => Promise<void>): Promise<string> {
  const before = receiver.logoutTokens.length;
  await send();
  await receiver.waitFor(() => receiver.logoutTokens.length > before, 'a logout token');
  return receiver.logoutTokens[before];
}

/** Send a logout token the way oidc-provider does for its own logouts, as the reference. */
async function providerToken(clientId: string, sub: string, sid: string): Promise<string> {
  const client = await (await getProvider()).Client.find(clientId);
  if (!client) throw new Error(`the provider does not find client ${clientId}`);
  // Client#backchannelLogout exists in oidc-provider 9 but is missing from its type definitions.
  const logout = (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout;
  return receive(() => logout.call(client, sub, sid));
}

async function ownToken(clientId: string, sub: string, sid: string): Promise<string> {
  const client = await findLogoutClient(clientId);
  if (!client) throw new Error(`client ${clientId} not found`);
  return receive(() => sendBackchannelLogout(client, sub, sid));
}

describe('back-channel logout token', () => {
  const cases = [
    { name: 'with sid, default alg', registration: { backchannel_logout_session_required: true }, alg: 'ES256', hasSid: true },
    { name: 'without sid, RS256', registration: { id_token_signed_response_alg: 'RS256' }, alg: 'RS256', hasSid: false },
  ];

  for (const { name, registration, alg, hasSid } of cases) {
    it(`verifies against the JWKS (${name})`, async () => {
      const clientId = await registerPlatform(registration);
      const sub = `sub-${randomBytes(6).toString('hex')}`;
      const sid = randomBytes(12).toString('base64url');
      const token = await ownToken(clientId, sub, sid);

      const jwks = createRemoteJWKSet(new URL(`${service.url}/jwks`));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: service.url,
        audience: clientId,
        typ: 'logout+jwt',
        algorithms: [alg],
        requiredClaims: ['iat', 'exp', 'jti', 'sub', 'events'],
      });
      expect(protectedHeader.alg).toBe(alg);
      expect(protectedHeader.kid).toEqual(expect.any(String));
      expect(payload.sub).toBe(sub);
      expect(payload.events).toEqual({ [LOGOUT_EVENT]: {} });
      expect(payload.exp! - payload.iat!).toBe(120);
      // Back-Channel Logout 1.0 section 2.4: a logout token must not carry a nonce.
      expect(payload).not.toHaveProperty('nonce');
      if (hasSid) expect(payload.sid).toBe(sid);
      else expect(payload).not.toHaveProperty('sid');
    });

    it(`matches oidc-provider's token (${name})`, async () => {
      const clientId = await registerPlatform(registration);
      const sub = `sub-${randomBytes(6).toString('hex')}`;
      const sid = randomBytes(12).toString('base64url');
      const reference = await providerToken(clientId, sub, sid);
      const own = await ownToken(clientId, sub, sid);

      expect(decodeProtectedHeader(own)).toEqual(decodeProtectedHeader(reference));
      const { jti: ownJti, iat: ownIat, exp: ownExp, ...ownClaims } = decodeJwt(own);
      const { jti: referenceJti, iat: referenceIat, exp: referenceExp, ...referenceClaims } = decodeJwt(reference);
      expect(ownClaims).toEqual(referenceClaims);
      expect(Object.keys(decodeJwt(own)).sort()).toEqual(Object.keys(decodeJwt(reference)).sort());
      expect(ownJti).not.toBe(referenceJti);
      expect(ownExp! - ownIat!).toBe(referenceExp! - referenceIat!);
    });
  }

  it('fails when the platform answers with an error', async () => {
    const clientId = await registerPlatform({});
    const client = (await findLogoutClient(clientId))!;
    await expect(sendBackchannelLogout({ ...client, backchannelLogoutUri: `http://127.0.0.1:${receiver.port}/events` }, 'sub-1', 'sid-1')).rejects.toThrow(/got HTTP 4\d\d/);
  });

  it('names a missing signing key', () => {
    expect(() => selectSigningKey([{ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: 'a' }], 'PS256')).toThrow('the provider has no PS256 signing key (RSA)');
    expect(() => selectSigningKey([], 'HS256')).toThrow(/cannot be signed with HS256/);
  });
});
