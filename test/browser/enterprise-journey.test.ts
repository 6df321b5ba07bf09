import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as client from 'openid-client';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { discoverPlatform, register, type Holder, type PlatformSettings } from '../../infra/local/journey.js';
import { addVirtualAuthenticator, expectAccessible, expectNoConsoleErrors, launchBrowser, openPage, screenshot, startPlatformCallback } from '../helpers/browser.js';
import { randomCreditCode, withWrongCheck } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, tempDir, type TestCa, profileWithoutRevocation } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let context: BrowserContext;
let ca: TestCa;
let platform: PlatformSettings;
let configuration: client.Configuration;
let callback: Awaited<ReturnType<typeof startPlatformCallback>>;


beforeAll(async () => {
  [service, context] = await Promise.all([startTestService(), launchBrowser()]);
  ca = await createRootCa(`${await tempDir()}/ca`, 'Browser CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('browser-ca', 'Browser CA', [ca.certPem]));
  callback = await startPlatformCallback();
  platform = { issuer: service.url, clientId: 'bidding', clientSecret: 'bidding-secret-for-tests-only', redirectUri: callback.redirectUri };
  await savePlatformClient({ client_id: platform.clientId, client_secret: platform.clientSecret, client_name: '建设工程招投标平台', redirect_uris: [platform.redirectUri] });
  configuration = await discoverPlatform(platform);
}, 120_000);
afterAll(async () => {
  await context?.close();
  await callback?.close();
  await service?.stop();
});

const file = (name: string, text: string) => ({ name, mimeType: 'application/x-pem-file', buffer: Buffer.from(text) });

/** Start a platform's authorization request; returns the URL to open and the PKCE verifier. */
async function platformLoginUrl(extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: platform.redirectUri,
    scope: 'openid enterprise',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  return { url: url.href, verifier, state };
}

describe('enterprise journey in Chromium', () => {
  it('registers, binds, adds a passkey and logs in with it', async () => {
    const page = await openPage(context);
    await addVirtualAuthenticator(page);
    const creditCode = randomCreditCode();
    const holder: Holder = await enterpriseHolder(ca, 'browser', creditCode, { name: '浏览器测试建设有限公司' });

    // 1. Self-registration, with the credit code checked while it is typed.
    await page.goto(`${service.url}/static/portal/index.html`);
    await expectAccessible(page);
    await screenshot(page, 'portal-public');
    const codeInput = page.locator('#register-title ~ .field input[name=creditCode]');
    await codeInput.fill(withWrongCheck(creditCode));
    await expect.poll(() => codeInput.getAttribute('aria-invalid')).toBe('true');
    await expect.poll(() => page.locator('form[aria-labelledby=register-title] .hint[aria-live]').textContent()).toContain(`应为 ${creditCode[17]}`);
    await codeInput.fill(creditCode);
    await expect.poll(() => codeInput.getAttribute('aria-invalid')).toBe('false');
    const register = page.locator('form[aria-labelledby=register-title]');
    await register.locator('input[name=name]').fill('浏览器测试建设有限公司');
    await register.locator('input[name=legalRepresentative]').fill('张三');
    await register.locator('input[name=contactName]').fill('李四');
    await register.locator('input[name=contactPhone]').fill('0755-12345678');
    await register.locator('button[type=submit]').click();
    await expect.poll(() => register.locator('.success').textContent()).toContain(creditCode);

    // 2. Certificate binding with the software signer driver (PKCS#8 key file and certificate).
    const bind = page.locator('form[aria-labelledby=bind-title]');
    await expect.poll(() => bind.locator('input[name=creditCode]').inputValue()).toBe(creditCode);
    await bind.locator('input[name=keyFile]').setInputFiles(file('enterprise.key', holder.keyPem));
    await bind.locator('input[name=certificateFile]').setInputFiles(file('enterprise.pem', holder.certPem));
    await bind.locator('input[name=confirmDetails]').check();
    await bind.locator('button[type=submit]').click();
    await expect.poll(() => bind.locator('.success').textContent(), { timeout: 15_000 }).toBe('证书已绑定，企业状态：已认证。');

    // 3. Certificate login to the portal through the provider's login page.
    await page.locator('#bind').getByRole('button', { name: '登录企业门户' }).click();
    await page.waitForURL(/\/interaction\//);
    await expectAccessible(page);
    await screenshot(page, 'login');
    const certificateForm = page.locator('form[aria-labelledby=certificate-title]');
    await certificateForm.locator('input[name=keyFile]').setInputFiles(file('enterprise.key', holder.keyPem));
    await certificateForm.locator('input[name=certificateFile]').setInputFiles(file('enterprise.pem', holder.certPem));
    await certificateForm.locator('button[type=submit]').click();
    await page.waitForURL(/\/static\/portal\/index\.html$/);
    await expect.poll(() => page.locator('h1').textContent(), { timeout: 15_000 }).toBe('浏览器测试建设有限公司');
    expect(await page.locator('section[aria-labelledby=record-title] dd .badge').textContent()).toBe('已认证');
    await expect.poll(() => page.locator('#certificates-title ~ table tbody tr').count()).toBe(1);

    // 4. A passkey, created by the virtual authenticator, listed with its holder.
    const add = page.locator('form[aria-labelledby=add-passkey-title]');
    await add.locator('input[name=displayName]').fill('投标部电脑');
    await add.locator('input[name=holderName]').fill('王五');
    await add.locator('input[name=holderRole]').fill('投标专员');
    await add.locator('button[type=submit]').click();
    await expect.poll(() => page.locator('tr[data-passkey]').count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.locator('tr[data-passkey] td').first().textContent()).toBe('投标部电脑');
    await expectAccessible(page);
    await screenshot(page, 'portal-account');

    // 5. A platform's OIDC login completed with the passkey; openid-client is the relying party.
    const login = await platformLoginUrl();
    await page.goto(login.url);
    await page.waitForURL(/\/interaction\//);
    await expect.poll(() => page.locator('h1').textContent()).toBe('登录到 建设工程招投标平台');
    await page.getByRole('button', { name: '使用通行密钥登录' }).click();
    await page.waitForURL((url) => url.href.startsWith(platform.redirectUri), { timeout: 15_000 });
    const tokens = await client.authorizationCodeGrant(configuration, new URL(page.url()), { pkceCodeVerifier: login.verifier, expectedState: login.state });
    const claims = tokens.claims()!;
    expect(claims.credit_code).toBe(creditCode);
    expect(claims.acr).toBe('urn:trading-identity:acr:passkey');
    expect(claims.auth_method).toBe('passkey');
    expect(claims.enterprise_name).toBe('浏览器测试建设有限公司');

    // 6. A platform that requires certificate-level assurance is offered no passkey.
    const strict = await platformLoginUrl({ acr_values: 'urn:trading-identity:acr:certificate' });
    await page.goto(strict.url);
    await page.waitForURL(/\/interaction\//);
    await expect.poll(() => page.locator('.notice').textContent()).toContain('要求本次使用数字证书登录');
    expect(await page.getByRole('button', { name: '使用通行密钥登录' }).count()).toBe(0);

    // 7. The English switch, and a wrong key file explained in plain words.
    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in to 建设工程招投标平台');
    const other = await enterpriseHolder(ca, 'other-key', randomCreditCode());
    const form = page.locator('form[aria-labelledby=certificate-title]');
    await form.locator('input[name=keyFile]').setInputFiles(file('enterprise.pem', holder.certPem));
    await form.locator('input[name=certificateFile]').setInputFiles(file('enterprise.pem', holder.certPem));
    await form.locator('button[type=submit]').click();
    await expect.poll(() => page.locator('.error').getAttribute('data-code')).toBe('KEY_FILE_INVALID');
    expect(await page.locator('.error p').first().textContent()).toMatch(/^The key file could not be read as the private key of this certificate\. Choose the key that belongs to the certificate: PKCS#8 .* or PKCS#12 /);
    expect(await page.locator('.error').textContent()).not.toContain('Data is not correct');
    await form.locator('input[name=keyFile]').setInputFiles(file('other.key', other.keyPem));
    await form.locator('input[name=certificateFile]').setInputFiles(file('enterprise.pem', holder.certPem));
    await form.locator('button[type=submit]').click();
    await expect.poll(() => page.locator('.error').getAttribute('data-code')).toBe('KEY_MISMATCH');
    expect(await page.locator('.error p').first().textContent()).toBe('The key does not belong to the certificate.');
    await expectAccessible(page);
    await screenshot(page, 'login-error-en');

    // 8. Revoking the passkey in the portal ends its use at once.
    await page.goto(`${service.url}/static/portal/index.html`);
    await expect.poll(() => page.locator('section[aria-labelledby=record-title] dd .badge').textContent()).toBe('verified');
    const revoke = page.locator('tr[data-passkey] button.danger');
    await revoke.click();
    await revoke.click();
    await expect.poll(() => page.locator('tr[data-passkey] .badge.bad').count(), { timeout: 15_000 }).toBe(1);
    const afterRevocation = await platformLoginUrl();
    await page.goto(afterRevocation.url);
    await page.waitForURL(/\/interaction\//);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.locator('.error').getAttribute('data-code'), { timeout: 15_000 }).toBe('PASSKEY_REVOKED');
    expect(await page.locator('.error p').first().textContent()).toBe('This passkey has been revoked.');
    expectNoConsoleErrors(page, [/^422 .*\/passkey$/, /Failed to load resource: the server responded with a status of 422/]);

    // 9. Signing out of the portal ends the provider session too: the next sign-in asks again.
    await page.goto(`${service.url}/static/portal/index.html`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/session\/end/);
    await page.locator('button[name=logout][value=yes]').click();
    await page.waitForURL(/\/static\/portal\/index\.html/);
    await page.getByRole('button', { name: 'Sign in to the portal' }).first().click();
    await page.waitForURL(/\/interaction\//);
  }, 120_000);

  it('binds with a PKCS#12 file', async () => {
    const page = await openPage(context);
    const creditCode = randomCreditCode();
    expect((await register(service.url, { creditCode, name: '密钥文件测试公司', legalRepresentative: '甲', contact: { name: '乙', phone: '13700137000' } })).status).toBe(201);
    const holder = await enterpriseHolder(ca, 'pkcs12', creditCode, { name: '密钥文件测试公司' });
    const dir = await tempDir('tif-p12-');
    await writeFile(join(dir, 'key.pem'), holder.keyPem);
    await writeFile(join(dir, 'cert.pem'), holder.certPem);
    // openssl 3 writes PBES2 (AES-256-CBC, PBKDF2 with SHA-256) and a SHA-256 MAC by default.
    await promisify(execFile)('openssl', ['pkcs12', '-export', '-inkey', join(dir, 'key.pem'), '-in', join(dir, 'cert.pem'), '-certfile', ca.certPath, '-passout', 'pass:口令-secret', '-out', join(dir, 'holder.p12')]);
    const p12 = { name: 'holder.p12', mimeType: 'application/x-pkcs12', buffer: await readFile(join(dir, 'holder.p12')) };

    await page.goto(`${service.url}/static/portal/index.html`);
    // The language choice is kept per browser profile; this test reads the Chinese texts.
    await page.evaluate(() => localStorage.setItem('trading-identity-lang', 'zh'));
    await page.reload();
    const bind = page.locator('form[aria-labelledby=bind-title]');
    await bind.locator('input[name=creditCode]').fill(creditCode);
    await bind.locator('input[name=keyFile]').setInputFiles(file('cert-not-key.pem', holder.certPem));
    await bind.locator('button[type=submit]').click();
    await expect.poll(() => bind.locator('.error').getAttribute('data-code'), { timeout: 15_000 }).toBe('KEY_FILE_INVALID');
    expect(await bind.locator('.error p').first().textContent()).toMatch(/^无法把所选文件读取为该证书的私钥。请选择与证书配套的私钥文件：PKCS#8.*或 PKCS#12/);
    expect(await bind.locator('.error').textContent()).not.toContain('Data is not correct');

    await bind.locator('input[name=keyFile]').setInputFiles(p12);
    await bind.locator('input[name=password]').fill('wrong');
    await bind.locator('button[type=submit]').click();
    await expect.poll(() => bind.locator('.error').getAttribute('data-code'), { timeout: 15_000 }).toBe('PASSWORD_WRONG');
    expect(await bind.locator('.error p').first().textContent()).toBe('PKCS#12 文件的口令不正确。');

    await bind.locator('input[name=password]').fill('口令-secret');
    await bind.locator('button[type=submit]').click();
    await expect.poll(() => bind.locator('.success').textContent(), { timeout: 15_000 }).toBe('证书已绑定，企业状态：已认证。');
    expectNoConsoleErrors(page);
  }, 120_000);
});
