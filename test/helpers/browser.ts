import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Folder for screenshots of the main pages, ignored by git (see .gitignore). */
export const SCREENSHOT_DIR = resolve('test-results/screenshots');

/**
 * Launch Debian's Chromium headless through playwright-core, with a fresh
 * profile folder (playwright passes it as --user-data-dir) and no background
 * traffic (no sync, updates or QUIC probes). Host names other than localhost
 * resolve to nothing, so a page can reach only the servers a test starts on
 * this machine. Closing the context ends Chromium.
 */
export async function launchBrowser(): Promise<BrowserContext> {
  const profile = await mkdtemp(join(tmpdir(), 'tif-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    locale: 'zh-CN',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost',
    ],
  });
}

/** Open a page that records every console error, uncaught exception and HTTP error response; see expectNoConsoleErrors. */
export async function openPage(context: BrowserContext): Promise<Page & { consoleErrors: string[] }> {
  const page = (await context.newPage()) as Page & { consoleErrors: string[] };
  page.consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => page.consoleErrors.push(`${page.url()}: uncaught ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) page.consoleErrors.push(`${response.status()} ${response.url()}`);
  });
  return page;
}

/** Fail on any recorded error, except those matching `expected` (errors that the test provokes on purpose). */
export function expectNoConsoleErrors(page: { consoleErrors: string[] }, expected: RegExp[] = []): void {
  expect(page.consoleErrors.filter((line) => !expected.some((pattern) => pattern.test(line)))).toEqual([]);
}

/**
 * Give the page a CDP virtual authenticator: an internal (platform) CTAP2
 * authenticator with discoverable credentials and user verification that
 * always succeeds. Returns the authenticator id and the CDP session.
 */
export async function addVirtualAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

let axeSource: string | undefined;

/** Run axe-core on the page and fail on any serious or critical violation, listing them. */
export async function expectAccessible(page: Page): Promise<void> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const violations = (await page.evaluate(`(async () => {
    ${axeSource}
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  })()`)) as { id: string; impact: string; help: string; targets: string[] }[];
  expect(violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')).toEqual([]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/**
 * Start a stand-in for a platform's redirect URI on 127.0.0.1. It returns a
 * small page for every request, so the browser can land on the callback while
 * the test reads the code from the address.
 */
export async function startPlatformCallback(): Promise<{ redirectUri: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><html lang="en"><title>platform</title><main><h1>platform</h1></main></html>');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { redirectUri: `http://localhost:${port}/callback`, close: () => new Promise((done) => server.close(() => done())) };
}
