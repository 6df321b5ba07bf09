import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT_ID, DEMO_CREDIT_CODE, ensureDemo } from '../../infra/local/demo-setup.js';
import { bind, certificateLogin, discoverPlatform, register, type Holder } from '../../infra/local/journey.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let material: Awaited<ReturnType<typeof ensureDemo>>;

beforeAll(async () => {
  service = await startTestService();
  material = await ensureDemo(service.tmp);
}, 60_000);

afterAll(async () => {
  await service?.stop();
});

describe('demo material', () => {
  it('lets the demo platform log the demo enterprise in and read the feed', async () => {
    const { client_secret: secret, redirect_uri: redirectUri } = JSON.parse(await readFile(material.clientFile, 'utf8'));
    const settings = { issuer: service.url, clientId: DEMO_CLIENT_ID, clientSecret: secret, redirectUri };
    const holder: Holder = { certPem: await readFile(material.certPath, 'utf8'), keyPem: await readFile(material.keyPath, 'utf8') };
    const creditCode = DEMO_CREDIT_CODE;
    expect((await register(service.url, { creditCode, name: '演示企业', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } })).status).toBe(201);
    expect((await bind(service.url, creditCode, holder, { confirmDetails: true })).status).toBe(201);
    const { claims } = await certificateLogin(await discoverPlatform(settings), settings, holder);
    expect(claims.credit_code).toBe(creditCode);

    const configuration = await client.discovery(new URL(service.url), DEMO_CLIENT_ID, undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
    const tokens = await client.clientCredentialsGrant(configuration, { scope: 'feed:read' });
    const feed = await fetch(`${service.url}/api/feed/events?after=0`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(feed.status).toBe(200);
    const body = (await feed.json()) as { sets: string[] };
    expect(body.sets.length).toBeGreaterThan(0);
  }, 60_000);

  it('npm run demo finds the service that npm start recorded', async () => {
    await writeFile(join(service.tmp, 'service.json'), JSON.stringify({ origin: service.url }));
    const { PORT, SERVICE_URL, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'infra/local/demo.ts'], { env: { ...env, DATA_DIR: service.tmp } });
    expect(stdout).toContain(`"credit_code": "${DEMO_CREDIT_CODE}"`);
  }, 60_000);
});
