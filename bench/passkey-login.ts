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
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { defaultProfile } from '../functions/pki/trust-store.js';
import { saveCaProfile } from '../functions/services/ca-profiles.js';
import { savePlatformClient } from '../functions/services/clients.js';
import { bind, certificateLogin, discoverPlatform, passkeyLogin, postJson, register, type PlatformSettings } from '../infra/local/journey.js';
import { createRootCa, issueCertificate } from '../infra/local/openssl-ca.js';
import { startLocalService } from '../infra/local/service.js';
import { SoftAuthenticator } from '../test/helpers/soft-authenticator.js';
import { bareLogin, startBareProvider } from './bare-flow.js';

const iterations = Number(process.argv[2] ?? 100);
if (!Number.isInteger(iterations) || iterations < 1) {
  console.error(`iterations must be a positive whole number; got ${process.argv[2]}`);
  process.exit(2);
}
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

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.floor(sorted.length * 0.95)] };
};
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
