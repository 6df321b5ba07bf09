import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FUNCTIONS, REPO_ROOT } from '../../infra/aws/functions.js';
import { LAMBDA_BUNDLE_OPTIONS } from '../../infra/bundling.js';
import { startTestService } from '../helpers/service.js';

const run = promisify(execFile);

/**
 * The deployed bundles read AWS credentials from the environment only. This
 * runs the real expiry bundle in a fresh Node process, as Lambda would, with
 * the endpoint of DynamoDB Local given the way the SDK reads it from the
 * environment, so the client's own credential lookup is what is tested.
 */
describe('bundled AWS credentials', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let bundlePath: string;

  beforeAll(async () => {
    service = await startTestService({ dispatcher: false });
    const entry = FUNCTIONS.find((candidate) => candidate.name === 'expiry')!;
    const dir = await mkdtemp(join(tmpdir(), 'tif-bundle-'));
    bundlePath = join(dir, 'index.mjs');
    const result = await build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [resolve(REPO_ROOT, entry.entry)], write: false, absWorkingDir: REPO_ROOT });
    await writeFile(bundlePath, result.outputFiles[0].contents);
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
  });

  /** Run the bundle's handler once with only the given variables (plus PATH) in its environment. */
  const invoke = (env: Record<string, string>) =>
    run(process.execPath, ['--no-warnings', '--input-type=module', '-e', `const { handler } = await import(${JSON.stringify(bundlePath)}); console.log(JSON.stringify(await handler({})));`], {
      env: { PATH: process.env.PATH ?? '', TABLE_NAME: process.env.TABLE_NAME!, AWS_REGION: 'local', AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'), LOG_LEVEL: 'error', ...env },
    });

  it('signs requests with credentials from the environment', async () => {
    const { stdout } = await invoke({ AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_SESSION_TOKEN: 'local' });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result.complete).toBe(true);
    expect(result.failed).toBe(0);
  }, 60_000);

  it('fails without credentials in the environment', async () => {
    const failure = await invoke({}).then(
      () => undefined,
      (error: { stderr?: string }) => error,
    );
    expect(failure?.stderr).toContain('Unable to find environment variable credentials');
  }, 60_000);
});
