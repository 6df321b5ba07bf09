import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { LAMBDA_BUNDLE_OPTIONS } from '../../infra/bundling.js';
import type { TableAction } from '../../infra/aws/functions.js';

/** DynamoDB actions and indexes that the code bundled into one handler can use. */
export interface TableUsage {
  actions: Set<TableAction>;
  queryIndexes: Set<string>;
  /** Project source files (not node_modules) in the bundle, relative to the root. */
  files: string[];
}

const COMMAND_ACTIONS: Record<string, TableAction> = {
  GetItemCommand: 'GetItem',
  BatchGetItemCommand: 'BatchGetItem',
  TransactGetItemsCommand: 'GetItem',
  PutItemCommand: 'PutItem',
  UpdateItemCommand: 'UpdateItem',
  DeleteItemCommand: 'DeleteItem',
  BatchWriteItemCommand: 'BatchWriteItem',
  QueryCommand: 'Query',
};

// Kinds of write inside a TransactWriteItems request and the IAM action each needs.
const TRANSACT_ACTIONS: Record<string, TableAction> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

/**
 * Find the table actions a handler's code can perform by bundling it with the
 * production options and scanning every project module in the bundle for
 * DynamoDB commands, transaction write kinds and index names. A module counts
 * as a whole, so this can over-report but never misses a command.
 */
export async function tableUsage(root: string, entry: string): Promise<TableUsage> {
  const result = await build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [resolve(root, entry)], write: false, metafile: true, absWorkingDir: root });
  const files = Object.keys(result.metafile.inputs).filter((file) => !file.includes('node_modules/'));
  const actions = new Set<TableAction>();
  const queryIndexes = new Set<string>();
  for (const file of files) {
    const source = await readFile(resolve(root, file), 'utf8');
    for (const [command, action] of Object.entries(COMMAND_ACTIONS)) {
      if (new RegExp(`new ${command}\\(`).test(source)) actions.add(action);
    }
    if (/TransactWriteItem\b/.test(source)) {
      for (const [kind, action] of Object.entries(TRANSACT_ACTIONS)) {
        if (new RegExp(`\\b${kind}: \\{`).test(source)) actions.add(action);
      }
    }
    if (/new QueryCommand\(/.test(source)) {
      for (const match of source.matchAll(/['"](gsi\d+)['"]/g)) queryIndexes.add(match[1]);
    }
  }
  return { actions, queryIndexes, files };
}
