import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorEnrollment } from '../../functions/services/operators.js';
import { addVirtualAuthenticator, expectAccessible, expectNoConsoleErrors, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let context: BrowserContext;

beforeAll(async () => {
  [service, context] = await Promise.all([startTestService(), launchBrowser()]);
}, 120_000);
afterAll(async () => {
  await context?.close();
  await service?.stop();
});

describe('operator console in Chromium', () => {
  it('enrolls a key and signs in with it', async () => {
    const page = await openPage(context);
    await addVirtualAuthenticator(page);
    const enrollment = await createOperatorEnrollment({ name: '赵运维', minutes: 10 });

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
});
