import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import * as client from 'openid-client';
import { DynamoDbAdapter } from '../oidc/adapter.js';
import { generateProviderKeys } from '../oidc/keys.js';
import { CookieJar, followUntil, type PlatformSettings } from '../infra/local/journey.js';
import { createHost } from '../infra/local/host.js';
import { providerLambdaHandler, type LambdaHandler } from '../oidc/lambda.js';

/**
 * Run the baseline of the login benchmarks: oidc-provider behind the same local
 * host and on the same DynamoDB adapter as the service, whose interaction logs
 * a fixed account in without any certificate or passkey work.
 */
export async function startBareProvider(platform: PlatformSettings): Promise<{ url: string; server: Server }> {
  let handler: LambdaHandler | undefined;
  const server = createHost(() => (event, context) => handler!(event, context));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  const keys = await generateProviderKeys();
  const provider = new Provider(url, {
    adapter: DynamoDbAdapter,
    jwks: keys.jwks as never,
    cookies: { keys: keys.cookieKeys },
    ttl: { Interaction: 900, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    clients: [{ client_id: platform.clientId, client_secret: platform.clientSecret, redirect_uris: [platform.redirectUri], id_token_signed_response_alg: 'ES256' }],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });
  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([^/]+)(?:\/(challenge|finish))?$/.exec(ctx.path);
    if (!match) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (match[2] === 'challenge') {
      ctx.body = { challenge: 'none' };
      return;
    }
    const grant = new provider.Grant({ accountId: 'bare-account', clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    ctx.body = { redirectTo: await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: 'bare-account' }, consent: { grantId } }) };
  });
  handler = providerLambdaHandler(provider);
  return { url, server };
}

export async function bareLogin(configuration: client.Configuration, platform: PlatformSettings): Promise<void> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(configuration, {
    redirect_uri: platform.redirectUri,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const jar = new CookieJar();
  const interaction = await followUntil(authUrl.href, jar, (u) => u.pathname.startsWith('/interaction/'));
  const challenge = await fetch(`${interaction}/challenge`, { headers: { cookie: jar.header() } });
  await challenge.json();
  const finished = await fetch(`${interaction}/finish`, { method: 'POST', headers: { cookie: jar.header(), 'content-type': 'application/json' }, body: '{}' });
  jar.store(finished.headers);
  const { redirectTo } = await finished.json();
  const callback = await followUntil(new URL(redirectTo, platform.issuer).href, jar, (u) => u.href.startsWith(platform.redirectUri));
  const tokens = await client.authorizationCodeGrant(configuration, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  await client.fetchUserInfo(configuration, tokens.access_token, tokens.claims()!.sub);
}
