import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultProfile } from '../functions/pki/trust-store.js';
import { saveCaProfile } from '../functions/services/ca-profiles.js';
import { savePlatformClient } from '../functions/services/clients.js';
import { bind, discoverPlatform, register, type Holder, type PlatformSettings } from '../infra/local/journey.js';
import { createRootCa, issueCertificate } from '../infra/local/openssl-ca.js';
import { startLocalService } from '../infra/local/service.js';

export const BENCH_CREDIT_CODE = '914403001922038216';

/**
 * Start the service for a login benchmark: a CA without revocation data, one
 * registered enterprise with a bound certificate, and one platform client.
 * In AWS the feed dispatcher is a separate function, so it does not run in
 * this process.
 */
export async function startLoginBench() {
  process.env.LOG_LEVEL = 'error';
  const tmp = await mkdtemp(join(tmpdir(), 'tif-bench-'));
  const service = await startLocalService({ keysFile: join(tmp, 'keys.json'), port: 0, dispatcher: false });
  const ca = await createRootCa(join(tmp, 'ca'), 'Bench CA', 'ec');
  await saveCaProfile({ ...defaultProfile('bench', 'Bench CA', [ca.certPem]), revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'open' } });
  const issued = await issueCertificate(ca, { id: 'holder', subject: `/C=CN/O=Bench Co/serialNumber=${BENCH_CREDIT_CODE}/CN=Bench Co` });
  const holder: Holder = { certPem: issued.certPem, keyPem: issued.keyPem };
  await register(service.url, { creditCode: BENCH_CREDIT_CODE, name: 'Bench Co', legalRepresentative: 'A', contact: { name: 'B', phone: '13800138000' } });
  await bind(service.url, BENCH_CREDIT_CODE, holder, { confirmDetails: true });
  const settings: PlatformSettings = { issuer: service.url, clientId: 'bench', clientSecret: 'bench-secret-0123456789', redirectUri: 'https://bench.example/cb' };
  await savePlatformClient({ client_id: settings.clientId, client_secret: settings.clientSecret, client_name: 'Bench', redirect_uris: [settings.redirectUri] });
  return { service, holder, settings, configuration: await discoverPlatform(settings) };
}

/** Median and 95th percentile of a list of durations. */
export function stats(values: number[]): { median: number; p95: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], p95: sorted[Math.floor(sorted.length * 0.95)] };
}
