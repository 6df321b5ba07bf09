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
import { defaultProfile } from '../functions/pki/trust-store.js';
import { saveCaProfile } from '../functions/services/ca-profiles.js';
import { savePlatformClient } from '../functions/services/clients.js';
import { bind, certificateLogin, discoverPlatform, register, type PlatformSettings } from '../infra/local/journey.js';
import { createRootCa, issueCertificate } from '../infra/local/openssl-ca.js';
import { startLocalService } from '../infra/local/service.js';
import { bareLogin, startBareProvider } from './bare-flow.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const iterations = Number(process.argv[2] ?? 200);
process.env.LOG_LEVEL = 'error';

const tmp = await mkdtemp(join(tmpdir(), 'tif-bench-'));
// In AWS the feed dispatcher is a separate function, so it does not run in this process here.
const service = await startLocalService({ keysFile: join(tmp, 'keys.json'), port: 0, dispatcher: false });
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
