import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { startLocalService, type LocalService, type LocalServiceOptions } from '../../infra/local/service.js';

/**
 * Start the service for one test file: the shared DynamoDB Local, a fresh
 * table of its own, fresh provider keys and the local host on a free port,
 * serving the pages built for the run at /static/. `dispatcher: false` leaves
 * out the in-process push dispatcher, for tests that drive delivery themselves.
 */
export async function startTestService(options: { dispatcher?: boolean; handlers?: LocalServiceOptions['handlers'] } = {}): Promise<LocalService & { tmp: string }> {
  const tmp = await mkdtemp(join(tmpdir(), 'tif-test-'));
  process.env.TABLE_NAME = `t_${randomBytes(6).toString('hex')}`;
  process.env.LOG_LEVEL ??= 'warn';
  const service = await startLocalService({ dynamoEndpoint: inject('dynamoEndpoint'), keysFile: join(tmp, 'oidc-keys.json'), port: 0, staticDir: inject('webDir'), dispatcher: options.dispatcher, handlers: options.handlers });
  return { ...service, tmp };
}
