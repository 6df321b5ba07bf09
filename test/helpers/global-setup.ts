import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildWeb } from '../../infra/build.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../infra/local/dynamodb-local.js';

let db: DynamoDbLocal | undefined;

/**
 * One in-memory DynamoDB Local for the whole run (each test file uses its own
 * table in it), and one build of the browser pages.
 */
export async function setup(project: TestProject): Promise<void> {
  const [started, webDir] = await Promise.all([startDynamoDbLocal(), mkdtemp(join(tmpdir(), 'tif-web-')).then((dir) => buildWeb(dir))]);
  db = started;
  project.provide('dynamoEndpoint', db.endpoint);
  project.provide('webDir', webDir);
}

export async function teardown(): Promise<void> {
  await db?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    webDir: string;
  }
}
