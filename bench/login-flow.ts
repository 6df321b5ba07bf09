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
import { certificateLogin, discoverPlatform } from '../infra/local/journey.js';
import { bareLogin, startBareProvider } from './bare-flow.js';
import { startLoginBench, stats } from './login-setup.js';

const iterations = Number(process.argv[2] ?? 200);
const { service, holder, settings, configuration: ours } = await startLoginBench();

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

const a = stats(timesOurs);
const b = stats(timesBare);
console.log(`iterations: ${iterations} each, interleaved`);
console.log(`certificate login  median ${a.median.toFixed(1)} ms  p95 ${a.p95.toFixed(1)} ms`);
console.log(`bare code flow     median ${b.median.toFixed(1)} ms  p95 ${b.p95.toFixed(1)} ms`);
console.log(`ratio (median)     ${(a.median / b.median).toFixed(2)}x`);
bare.server.close();
await service.stop();
process.exit(0);
