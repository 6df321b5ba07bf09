import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as client from 'openid-client';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCaProfile } from '../../functions/db/ca-profiles.js';
import { readEvents } from '../../functions/db/events.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { createOperatorEnrollment } from '../../functions/services/operators.js';
import { addVirtualAuthenticator, expectAccessible, expectNoConsoleErrors, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { register } from '../../infra/local/journey.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let context: BrowserContext;
/** The console page, signed in by the first test and used by the next ones. */
let page: Awaited<ReturnType<typeof openPage>>;
let operatorSub: string;

beforeAll(async () => {
  [service, context] = await Promise.all([startTestService(), launchBrowser()]);
}, 120_000);
afterAll(async () => {
  await context?.close();
  await service?.stop();
});

describe('operator console in Chromium', () => {
  it('enrolls a key and signs in with it', async () => {
    page = await openPage(context);
    await addVirtualAuthenticator(page);
    const enrollment = await createOperatorEnrollment({ name: '赵运维', minutes: 10 });
    operatorSub = enrollment.operator.sub;

    // 1. The one-time link: the page names the operator and registers the key.
    await page.goto(enrollment.link);
    await expect.poll(() => page.locator('main p').first().textContent()).toContain('赵运维');
    expect(new URL(page.url()).hash).toBe('');
    await expectAccessible(page);
    await screenshot(page, 'admin-enroll');
    await page.getByRole('button', { name: '登记安全密钥' }).click();
    await expect.poll(() => page.locator('.success').count(), { timeout: 15_000 }).toBe(1);

    // 2. Sign-in to the console: the login page offers the operator key only.
    await page.getByRole('link', { name: '前往管理控制台' }).click();
    await page.getByRole('button', { name: '使用安全密钥登录' }).click();
    await page.waitForURL(/\/interaction\//);
    expect(await page.locator('form[aria-labelledby=certificate-title]').count()).toBe(0);
    await expectAccessible(page);
    await screenshot(page, 'admin-login');
    await page.getByRole('button', { name: '使用通行密钥登录' }).click();
    await page.waitForURL(/\/static\/admin\/index\.html/);

    // 3. The console with its login charts, which count this very login.
    await expect.poll(() => page.locator('main > p').first().textContent(), { timeout: 15_000 }).toBe('管理员：赵运维');
    await expect.poll(() => page.locator('svg.chart').count()).toBe(3);
    expect(await page.locator('svg.chart title').allTextContents()).toEqual(['每日登录次数', '各平台登录次数', '各登录方式次数']);
    expect(await page.locator('svg.chart').nth(1).textContent()).toContain('管理控制台');
    await expectAccessible(page);
    await screenshot(page, 'admin-console');
    expectNoConsoleErrors(page);
  }, 120_000);

  it('adds a CA from an anchor file and suspends it', async () => {
    expect(page, 'the sign-in test must pass first').toBeDefined();
    // The anchor is made by the openssl CLI and uploaded in DER, as a CA firm usually sends it.
    const ca = await createRootCa(`${await tempDir()}/ca`, 'Console Test CA', 'ec');
    const derPath = `${ca.dir}/ca.der`;
    await promisify(execFile)('openssl', ['x509', '-in', `${ca.dir}/ca.pem`, '-outform', 'DER', '-out', derPath]);

    await page.getByRole('button', { name: 'CA 机构' }).click();
    await page.getByRole('heading', { name: '添加 CA 机构' }).waitFor();
    await page.getByLabel('标识').fill('console-ca');
    await page.getByLabel('名称', { exact: true }).fill('控制台测试 CA');
    await page.getByLabel('根证书文件').setInputFiles(derPath);
    await page.getByLabel('信用代码位置').selectOption('subject');
    await page.getByLabel('属性或扩展的 OID').fill('2.5.4.5');
    await page.getByRole('checkbox', { name: /RSASSA-PSS/ }).uncheck();
    await page.getByLabel('SM2 签名者 ID').fill('');
    await page.getByRole('combobox', { name: '无法获得吊销信息时' }).selectOption('open');
    await page.getByLabel('OCSP 响应服务地址（可选）').fill('http://127.0.0.1:9/ocsp');
    await page.getByRole('combobox', { name: 'OCSP CertID 摘要算法' }).selectOption('sha1');
    await page.getByRole('checkbox', { name: /要求 OCSP 应答回显随机数/ }).uncheck();
    await expectAccessible(page);
    await page.getByRole('button', { name: '添加', exact: true }).click();

    const row = page.locator('tr', { has: page.locator('code', { hasText: /^console-ca$/ }) });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    expect(await row.locator('.badge').textContent()).toBe('正常');
    const saved = (await getCaProfile('console-ca'))!;
    expect(saved.name).toBe('控制台测试 CA');
    expect(saved.anchors).toHaveLength(1);
    expect(saved.creditCodeLocation).toEqual({ source: 'subject', attribute: '2.5.4.5' });
    expect(saved.allowedSignatureAlgorithms).not.toContain('1.2.840.113549.1.1.10');
    expect(saved.allowedSignatureAlgorithms).toContain('1.2.156.10197.1.501');
    expect(saved.sm2SignerId).toBe('');
    expect(saved.revocation.failPolicy).toBe('open');
    expect(saved.revocation.ocspUrl).toBe('http://127.0.0.1:9/ocsp');
    expect(saved.revocation.ocspHashAlgorithm).toBe('sha1');
    expect(saved.revocation.ocspNonce).toBe(false);
    expect(saved.version).toBe(1);
    await screenshot(page, 'admin-ca-profiles');

    // Adding the same identifier again is explained in plain words, with the API's message.
    await page.getByLabel('标识').fill('console-ca');
    await page.getByLabel('名称', { exact: true }).fill('重复');
    await page.getByLabel('根证书文件').setInputFiles(derPath);
    await page.getByRole('button', { name: '添加', exact: true }).click();
    const alert = page.locator('form[aria-labelledby=add-ca-title] .error');
    await expect.poll(() => alert.getAttribute('data-code')).toBe('CA_PROFILE_EXISTS');
    expect(await alert.locator('p').first().textContent()).toContain('已有相同标识的 CA 机构');
    expect(await alert.locator('.technical').textContent()).toContain('CA profile console-ca already exists');
    await expectAccessible(page);

    // Suspend, with a reason, through the status route and the version read.
    await row.getByRole('button', { name: '暂停 控制台测试 CA (console-ca)' }).click();
    const reason = page.getByLabel('原因');
    await expect.poll(() => reason.evaluate((input) => input === document.activeElement)).toBe(true);
    await page.getByRole('button', { name: '确认' }).click();
    expect(await page.locator('form.inline-form .error').textContent()).toContain('请填写原因');
    await reason.fill('CA 私钥保管审计未通过');
    await expectAccessible(page);
    await page.getByRole('button', { name: '确认' }).click();
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 15_000 }).toBe('已暂停');
    expect(await row.textContent()).toContain('CA 私钥保管审计未通过');
    const suspended = (await getCaProfile('console-ca'))!;
    expect(suspended.status).toBe('suspended');
    expect(suspended.statusReason).toBe('CA 私钥保管审计未通过');
    expect(suspended.version).toBe(2);
    const events = (await readEvents(0, 1000)).events.filter((event) => event.type === EVENT_TYPES.caStatusChanged && event.caId === 'console-ca');
    // Creation records the first status, then the suspension follows.
    expect(events.map((event) => event.data.status)).toEqual(['active', 'suspended']);
    expect(events[1].data.reason).toBe('CA 私钥保管审计未通过');
    expect(events.map((event) => event.data.actor)).toEqual([operatorSub, operatorSub]);
    await expectAccessible(page);
    await screenshot(page, 'admin-ca-suspended');

    // The English switch relabels the same table.
    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => row.locator('.badge').textContent()).toBe('suspended');
    await page.getByRole('button', { name: '中文' }).click();
    // The duplicate is the only failed request: its 409 response and the browser's console line for it.
    expectNoConsoleErrors(page, [/^409 .*\/api\/admin\/ca-profiles$/, /status of 409 \(Conflict\)$/]);
  }, 120_000);

  it('registers a platform and rotates its secret', async () => {
    expect(page, 'the sign-in test must pass first').toBeDefined();
    const tokenWith = async (secret: string) => {
      const configuration = await client.discovery(new URL(service.url), 'bid-platform', undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
      return client.clientCredentialsGrant(configuration, { scope: 'feed:read' });
    };

    await page.getByRole('button', { name: '交易平台' }).click();
    await page.getByRole('heading', { name: '登记交易平台' }).waitFor();
    await page.getByLabel('客户端 ID').fill('bid-platform');
    await page.getByLabel('平台名称').fill('建设工程招投标平台');
    await page.getByLabel('回调地址（每行一个）').fill('https://bid.example.gov.cn/oidc/callback\nhttps://bid.example.gov.cn/oidc/callback2');
    await page.getByRole('checkbox', { name: /feed:read/ }).check();
    await page.getByRole('button', { name: '登记', exact: true }).click();

    const secretBox = page.getByTestId('client-secret');
    await secretBox.waitFor({ timeout: 15_000 });
    const secret = (await secretBox.textContent())!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await tokenWith(secret)).scope).toBe('feed:read');
    const row = page.locator('tr', { has: page.locator('code', { hasText: /^bid-platform$/ }) });
    expect(await row.textContent()).toContain('openid enterprise feed:read');
    expect(await row.textContent()).toContain('https://bid.example.gov.cn/oidc/callback2');
    await expectAccessible(page);
    await screenshot(page, 'admin-platforms');

    // Hiding the notice removes the secret from the page.
    await page.getByRole('button', { name: '已保存，隐藏密钥' }).click();
    expect(await page.content()).not.toContain(secret);

    await row.getByRole('button', { name: '更换密钥 建设工程招投标平台' }).click();
    await page.getByRole('button', { name: '确认更换' }).click();
    await expect.poll(async () => (await secretBox.count()) === 1 && (await secretBox.textContent()) !== secret, { timeout: 15_000 }).toBe(true);
    const rotated = (await secretBox.textContent())!;
    expect((await tokenWith(rotated)).access_token).toBeTruthy();
    await expect(tokenWith(secret)).rejects.toMatchObject({ status: 401 });
    await expectAccessible(page);
    expectNoConsoleErrors(page, [/^409 .*\/api\/admin\/ca-profiles$/, /status of 409 \(Conflict\)$/]);
  }, 120_000);

  it('finds an enterprise and reads the audit log', async () => {
    expect(page, 'the sign-in test must pass first').toBeDefined();
    const creditCode = randomCreditCode();
    const registered = await register(service.url, { creditCode, name: '岭南路桥工程有限公司', legalRepresentative: '冯一', contact: { name: '卫二', phone: '02012345678' } });
    expect(registered.status).toBe(201);

    await page.getByRole('button', { name: '企业查询' }).click();
    await page.getByRole('search').waitFor();
    // Part of a credit code finds nothing by name, so the page asks for the whole code.
    await page.getByLabel('统一社会信用代码或企业名称开头').fill(creditCode.slice(0, 8));
    await page.getByRole('button', { name: '查询', exact: true }).click();
    await page.getByText('请输入完整的 18 位代码').waitFor({ timeout: 15_000 });
    await page.getByLabel('统一社会信用代码或企业名称开头').fill('岭南路桥');
    await page.getByRole('button', { name: '查询', exact: true }).click();
    const show = page.getByRole('button', { name: '查看 岭南路桥工程有限公司' });
    await show.waitFor({ timeout: 15_000 });
    expect(await page.locator('table', { hasText: creditCode }).locator('.badge').textContent()).toBe('未验证');
    await show.click();
    await page.getByRole('heading', { name: `岭南路桥工程有限公司 · ${creditCode}` }).waitFor();
    expect(await page.locator('#section').textContent()).toContain('没有绑定证书。');
    await expectAccessible(page);
    await screenshot(page, 'admin-enterprise');

    // Switch sections by keyboard: focus stays on the chosen tab after the page redraws.
    await page.getByRole('button', { name: '审计日志' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('form', { name: '审计日志查询' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-current'))).toBe('page');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('审计日志');
    await page.getByLabel('统一社会信用代码', { exact: true }).fill(creditCode);
    await page.getByRole('button', { name: '查询', exact: true }).click();
    // The section opens on the whole feed; the query narrows it to this enterprise's one event.
    const events = page.locator('table', { hasText: '审计事件' });
    await expect.poll(() => events.locator('tbody tr').count(), { timeout: 15_000 }).toBe(1);
    expect(await events.locator('tbody tr').textContent()).toContain('企业登记');
    expect(await events.locator('tbody tr').textContent()).toContain(creditCode);
    await page.getByLabel('统一社会信用代码', { exact: true }).fill('');
    await page.getByLabel('事件类型').selectOption({ label: '平台登记或换密钥' });
    await page.getByRole('button', { name: '查询', exact: true }).click();
    await expect.poll(() => events.locator('tbody tr').count(), { timeout: 15_000 }).toBe(2);
    for (const row of await events.locator('tbody tr').all()) {
      expect(await row.textContent()).toContain('bid-platform');
      expect(await row.textContent()).toContain(operatorSub);
    }
    await expectAccessible(page);
    await screenshot(page, 'admin-audit');
    expectNoConsoleErrors(page, [/^409 .*\/api\/admin\/ca-profiles$/, /status of 409 \(Conflict\)$/]);
  }, 120_000);
});
