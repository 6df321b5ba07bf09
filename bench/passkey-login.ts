/**
 * Median time of a full passkey login (authorization code + PKCE through the
 * login interaction, token, userinfo) next to a certificate login and a bare
 * oidc-provider code flow on the same storage, measured in one run with the
 * three interleaved.
 *
 *   npx tsx bench/passkey-login.ts [iterations]
 *
 * The authenticator is the software one the tests use (P-256 keys in Node),
 * so the figures are the service's side of a login plus the HTTP round trips.
 * A person confirming on a phone or security key adds seconds that no server
 * change affects. The bare flow is described in bench/bare-flow.ts.
 */
import * as client from 'openid-client';
import { certificateLogin, discoverPlatform, passkeyLogin, postJson, type PlatformSettings } from '../infra/local/journey.js';
import { SoftAuthenticator } from '../test/helpers/soft-authenticator.js';
import { bareLogin, startBareProvider } from './bare-flow.js';
import { BENCH_CREDIT_CODE, startLoginBench, stats } from './login-setup.js';

const iterations = Number(process.argv[2] ?? 100);
if (!Number.isInteger(iterations) || iterations < 1) {
  console.error(`iterations must be a positive whole number; got ${process.argv[2]}`);
  process.exit(2);
}

const { service, holder, settings, configuration: ours } = await startLoginBench();
const creditCode = BENCH_CREDIT_CODE;

// Register one passkey from a fresh certificate session of the portal, as a clerk does.
const authenticator = new SoftAuthenticator();
const portal: PlatformSettings = { issuer: service.url, clientId: 'enterprise-portal', clientSecret: '', redirectUri: `${service.url}/static/portal/index.html` };
const portalConfiguration = await client.discovery(new URL(service.url), portal.clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
const { tokens } = await certificateLogin(portalConfiguration, portal, holder);
const labels = { displayName: 'bench key', holderName: 'Bench', holderRole: 'clerk' };
const auth = { authorization: `Bearer ${tokens.access_token}` };
const options = await postJson(`${service.url}/api/enterprises/${creditCode}/passkeys/registration-options`, labels, auth);
const created = await postJson(`${service.url}/api/enterprises/${creditCode}/passkeys`, { ...labels, userHandle: options.body.user.id, credential: authenticator.register(options.body, service.url) }, auth);
if (created.status !== 201) throw new Error(`passkey registration failed: ${JSON.stringify(created.body)}`);

const bare = await startBareProvider(settings);
const bareSettings = { ...settings, issuer: bare.url };
const bareConfig = await discoverPlatform(bareSettings);

const answer = (requestOptions: any) => authenticator.authenticate(requestOptions, service.url);
const runs = {
  passkey: () => passkeyLogin(ours, settings, answer),
  certificate: () => certificateLogin(ours, settings, holder),
  bare: () => bareLogin(bareConfig, bareSettings),
};
const times: Record<keyof typeof runs, number[]> = { passkey: [], certificate: [], bare: [] };
for (let i = 0; i < 10; i += 1) for (const run of Object.values(runs)) await run();
for (let i = 0; i < iterations; i += 1) {
  for (const [name, run] of Object.entries(runs) as [keyof typeof runs, () => Promise<unknown>][]) {
    const start = performance.now();
    await run();
    times[name].push(performance.now() - start);
  }
}

const passkey = stats(times.passkey);
const certificate = stats(times.certificate);
const baseline = stats(times.bare);
console.log(`iterations: ${iterations} each, interleaved`);
console.log(`passkey login      median ${passkey.median.toFixed(1)} ms  p95 ${passkey.p95.toFixed(1)} ms  ratio ${(passkey.median / baseline.median).toFixed(2)}x`);
console.log(`certificate login  median ${certificate.median.toFixed(1)} ms  p95 ${certificate.p95.toFixed(1)} ms  ratio ${(certificate.median / baseline.median).toFixed(2)}x`);
console.log(`bare code flow     median ${baseline.median.toFixed(1)} ms  p95 ${baseline.p95.toFixed(1)} ms`);
bare.server.close();
await service.stop();
process.exit(0);
