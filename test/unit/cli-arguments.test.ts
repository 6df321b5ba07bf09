import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as certCli } from '../../functions/cli/cert.js';
import { main as provision } from '../../infra/aws/provision.js';
import { main as enrollOperator } from '../../infra/local/enroll-operator.js';
import { tempDir } from '../helpers/pki.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** Collect what console.error prints while `run` executes. */
async function consoleErrors(run: () => Promise<number>): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  const code = await run();
  return { code, text: lines.join('\n') };
}

/** Collect what process.stderr receives while `run` executes. */
async function standardError(run: () => Promise<number>): Promise<{ code: number; text: string }> {
  const chunks: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  const code = await run();
  return { code, text: chunks.join('') };
}

describe('cert verify errors', () => {
  it('suggests --cert for a positional file', async () => {
    const { code, text } = await standardError(() => certCli(['verify', 'leaf.pem']));
    expect(code).toBe(2);
    expect(text).toContain('error: unexpected argument "leaf.pem"; to check this certificate, use --cert leaf.pem');
    expect(text).toContain('Usage: npm run cert -- verify --cert FILE');
  });

  it('prints usage on --help', async () => {
    for (const argv of [['--help'], ['verify', '--help'], ['help']]) {
      const chunks: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        chunks.push(String(chunk));
        return true;
      });
      expect(await certCli(argv), argv.join(' ')).toBe(0);
      expect(chunks.join('')).toContain('Usage: npm run cert -- verify --cert FILE');
      vi.restoreAllMocks();
    }
  });

  it('says what the live trust store needs', async () => {
    vi.stubEnv('DYNAMODB_ENDPOINT', '');
    vi.stubEnv('AWS_REGION', '');
    const { code, text } = await standardError(() => certCli(['verify', '--cert', 'leaf.pem', '--trust-store', 'live']));
    expect(code).toBe(2);
    expect(text).toContain('set DYNAMODB_ENDPOINT and TABLE_NAME');
  });

  it('prints usage for a missing option', async () => {
    const { code, text } = await standardError(() => certCli(['verify', '--anchor', 'ca.pem']));
    expect(code).toBe(2);
    expect(text).toContain('error: --cert is required');
    expect(text).toContain('Usage:');
  });

  it('prints one line for a missing file', async () => {
    const missing = join(await tempDir(), 'missing.pem');
    const { code, text } = await standardError(() => certCli(['verify', '--cert', missing, '--anchor', missing]));
    expect(code).toBe(2);
    expect(text.startsWith(`error: cannot read ${missing}: ENOENT`)).toBe(true);
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(text).not.toContain('Usage:');
  });

  it('prints one line for a malformed anchor', async () => {
    const dir = await tempDir();
    const malformed = join(dir, 'broken.pem');
    await writeFile(malformed, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const { code, text } = await standardError(() => certCli(['verify', '--cert', malformed, '--anchor', malformed]));
    expect(code).toBe(2);
    expect(text.startsWith(`error: ${malformed}`)).toBe(true);
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    expect(text).not.toContain('Usage:');
  });
});

describe('operator:enroll arguments', () => {
  for (const minutes of ['abc', '0', '61', '1.5', '']) {
    it(`rejects --minutes ${JSON.stringify(minutes)}`, async () => {
      const { code, text } = await consoleErrors(() => enrollOperator(['--name', 'x', '--minutes', minutes]));
      expect(code).toBe(2);
      expect(text).toContain(`--minutes ${JSON.stringify(minutes)} is not a whole number of minutes from 1 to 60`);
      expect(text).not.toContain('NaN');
    });
  }
});

describe('provision without TABLE_NAME', () => {
  it('names the local service file', async () => {
    const dir = await tempDir();
    vi.stubEnv('TABLE_NAME', undefined);
    vi.stubEnv('DATA_DIR', dir);
    const run = provision(['ca', 'x', 'X', 'anchor.pem']);
    await expect(run).rejects.toThrow('set it to the TableName output of the service stack');
    await expect(run).rejects.toThrow(`set DYNAMODB_ENDPOINT and TABLE_NAME to the dynamoEndpoint and tableName in ${join(dir, 'service.json')}`);
  });

  it('prints the running local values', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'service.json'), JSON.stringify({ dynamoEndpoint: 'http://127.0.0.1:8123', origin: 'http://localhost:3000', tableName: 'tif-local' }));
    vi.stubEnv('TABLE_NAME', undefined);
    vi.stubEnv('DATA_DIR', dir);
    await expect(provision(['ca', 'x', 'X', 'anchor.pem'])).rejects.toThrow('run with DYNAMODB_ENDPOINT=http://127.0.0.1:8123 TABLE_NAME=tif-local');
  });
});
