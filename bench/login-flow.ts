/**
 * Median time of a full certificate login (authorization code + PKCE through
 * the login interaction, token, userinfo) next to a bare oidc-provider code
 * flow on the same storage, measured in one run with the runs interleaved.
 *
 *   npx tsx bench/login-flow.ts [iterations]
 *
 * The bare flow runs behind the same local host (API Gateway events through
 * serverless-http), on the same DynamoDB adapter, with the same HTTP round
 * trips, but its interaction logs a fixed account in without any certificate
 * work, so the ratio is the cost of what this service adds to a login.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import * as client from 'openid-client';
import { defaultProfile } from '../functions/pki/trust-store.js';
import { saveCaProfile } from '../functions/services/ca-profiles.js';
import { savePlatformClient } from '../functions/services/clients.js';
import { DynamoDbAdapter } from '../oidc/adapter.js';
import { generateProviderKeys } from '../oidc/keys.js';
import { bind, certificateLogin, CookieJar, discoverPlatform, followUntil, register, type PlatformSettings } from '../infra/local/journey.js';
import { createRootCa, issueCertificate } from '../infra/local/openssl-ca.js';
import { startLocalService } from '../infra/local/service.js';
import { createHost } from '../infra/local/host.js';
import { providerLambdaHandler, type LambdaHandler } from '../oidc/lambda.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const iterations = Number(process.argv[2] ?? 200);
process.env.LOG_LEVEL = 'error';

const tmp = await mkdtemp(join(tmpdir(), 'tif-bench-'));
const service = await startLocalService({ keysFile: join(tmp, 'keys.json'), port: 0 });
const ca = await createRootCa(join(tmp, 'ca'), 'Bench CA', 'ec');
await saveCaProfile({ ...defaultProfile('bench', 'Bench CA', [ca.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'open' } });
const creditCode = '914403001922038216';
const issued = await issueCertificate(ca, { id: 'holder', subject: `/C=CN/O=Bench Co/serialNumber=${creditCode}/CN=Bench Co` });
const holder = { certPem: issued.certPem, keyPem: issued.keyPem };
await register(service.url, { creditCode, name: 'Bench Co', legalRepresentative: 'A', contact: { name: 'B', phone: '13800138000' } });
await bind(service.url, creditCode, holder, { confirmDetails: true });
const settings: PlatformSettings = { issuer: service.url, clientId: 'bench', clientSecret: 'bench-secret-0123456789', redirectUri: 'https://bench.example/cb' };
await savePlatformClient({ client_id: settings.clientId, client_secret: settings.clientSecret, client_name: 'Bench', redirect_uris: [settings.redirectUri] });
const ours = await discoverPlatform(settings);

const bare = await startBareProvider(settings);
const bareConfig = await discoverPlatform({ ...settings, issuer: bare.url });

const timesOurs: number[] = [];
const timesBare: number[] = [];
for (let i = 0; i < 10; i += 1) {
  await certificateLogin(ours, settings, holder);
  await bareLogin(bareConfig, { ...settings, issuer: bare.url });
}
for (let i = 0; i < iterations; i += 1) {
  let start = performance.now();
  await certificateLogin(ours, settings, holder);
  timesOurs.push(performance.now() - start);
  start = performance.now();
  await bareLogin(bareConfig, { ...settings, issuer: bare.url });
  timesBare.push(performance.now() - start);
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.floor(sorted.length * 0.95)] };
};
const a = stats(timesOurs);
const b = stats(timesBare);
console.log(`iterations: ${iterations} each, interleaved`);
console.log(`certificate login  median ${a.median.toFixed(1)} ms  p95 ${a.p95.toFixed(1)} ms`);
console.log(`bare code flow     median ${b.median.toFixed(1)} ms  p95 ${b.p95.toFixed(1)} ms`);
console.log(`ratio (median)     ${(a.median / b.median).toFixed(2)}x`);
bare.server.close();
await service.stop();
process.exit(0);

async function startBareProvider(platform: PlatformSettings): Promise<{ url: string; server: Server }> {
  let handler: LambdaHandler | undefined;
  const server = createHost([{ prefix: '/', handler: (event, context) => handler!(event, context) }]);
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

async function bareLogin(configuration: client.Configuration, platform: PlatformSettings): Promise<void> {
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
