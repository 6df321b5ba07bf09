import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { FUNCTIONS, REPO_ROOT } from '../../infra/aws/functions.js';
import { LAMBDA_BUNDLE_OPTIONS } from '../../infra/bundling.js';
import bundleMimeDb from '../../infra/bundle-mime-db.json' with { type: 'json' };
import { bind, certificateLogin, discoverPlatform, register, type PlatformSettings } from '../../infra/local/journey.js';
import type { LambdaHandler } from '../../infra/local/host.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, profileWithoutRevocation, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

// The table koa reads through mime-types, which the bundles replace with a copy of a few entries.
const mimeDb = createRequire(import.meta.url)('mime-db') as Record<string, unknown>;

/** Build a function with the production bundle options and load its handler, as Lambda would. */
async function bundledHandler(name: string, dir: string): Promise<LambdaHandler> {
  const entry = FUNCTIONS.find((candidate) => candidate.name === name)!;
  const result = await build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [resolve(REPO_ROOT, entry.entry)], write: false, absWorkingDir: REPO_ROOT });
  const file = join(dir, `${name}.mjs`);
  await writeFile(file, result.outputFiles[0].contents);
  return ((await import(pathToFileURL(file).href)) as { handler: LambdaHandler }).handler;
}

describe('media types in the bundles', () => {
  it('copies the entries of mime-db unchanged', () => {
    for (const [type, entry] of Object.entries(bundleMimeDb)) {
      expect(entry, type).toEqual(mimeDb[type]);
    }
  });
});

/**
 * Bundles differ from the source the other tests run: some packages are
 * replaced (BUNDLE_ALIASES) and the code is minified. oidc-provider keys its
 * storage by model class name, which the api function reads back by name, so a
 * minifier that renamed classes broke certificate login across functions. The
 * OIDC and API functions are therefore served here from their built bundles,
 * and a platform logs an enterprise in through them.
 */
describe('login through the bundled functions', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let settings: PlatformSettings;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tif-bundles-'));
    const handlers = { oidc: await bundledHandler('oidc', dir), api: await bundledHandler('api', dir) };
    service = await startTestService({ handlers });
    const ca = await createRootCa(`${await tempDir()}/ca`, 'Bundle Test CA', 'ec');
    await saveCaProfile(profileWithoutRevocation('bundle-ca', 'Bundle Test CA', [ca.certPem]));
    settings = { issuer: service.url, clientId: 'bundle-platform', clientSecret: 'bundle-platform-secret-for-tests-only', redirectUri: 'https://bundle-platform.example/cb' };
    await savePlatformClient({ client_id: settings.clientId, client_secret: settings.clientSecret, client_name: '打包测试平台', redirect_uris: [settings.redirectUri] });
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
  });

  it('serves discovery, keys and pages with their media types', async () => {
    const discovery = await fetch(`${service.url}/.well-known/openid-configuration`);
    expect(discovery.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const jwks = await fetch(`${service.url}/jwks`);
    expect(jwks.headers.get('content-type')).toBe('application/jwk-set+json; charset=utf-8');
    // An unknown interaction is shown to the person as an HTML error page.
    const page = await fetch(`${service.url}/interaction/unknown-interaction`);
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('logs an enterprise in with a certificate', async () => {
    const creditCode = randomCreditCode();
    expect((await register(service.url, { creditCode, name: '打包测试公司', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } })).status).toBe(201);
    const ca = await createRootCa(`${await tempDir()}/ca`, 'Bundle Login CA', 'ec');
    await saveCaProfile(profileWithoutRevocation('bundle-login-ca', 'Bundle Login CA', [ca.certPem]));
    const holder = await enterpriseHolder(ca, 'bundle', creditCode, { name: '打包测试公司' });
    expect((await bind(service.url, creditCode, holder, { confirmDetails: true })).status).toBe(201);
    const { claims, userinfo } = await certificateLogin(await discoverPlatform(settings), settings, holder);
    expect(claims.credit_code).toBe(creditCode);
    expect(userinfo.enterprise_name).toBe('打包测试公司');
  }, 60_000);
});
