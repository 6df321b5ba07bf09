import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ScheduleName, ThrottleName } from './stages.js';

/**
 * DynamoDB item and query actions a function may be granted. Transactions have
 * no IAM action of their own: TransactWriteItems needs PutItem, UpdateItem,
 * DeleteItem or ConditionCheckItem for the kinds of writes it contains.
 */
export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'BatchWriteItem'
  | 'Query';

/** An HTTP API route served by a function. */
export interface HttpRoute {
  /** HTTP method, or ANY. */
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'ANY';
  /** Route path in API Gateway syntax, e.g. /api/{proxy+}; `$default` catches every unmatched request. */
  path: string;
  /** Stage throttle limit applied to this route; routes without one use the stage default. */
  throttle?: ThrottleName;
}

/** Event source that invokes a function. A function may have several triggers. */
export type Trigger =
  | { kind: 'http'; routes: HttpRoute[] }
  | { kind: 'schedule'; schedule: ScheduleName }
  | { kind: 'tableStream' }
  | { kind: 'queue'; queue: QueueName };

/** SQS queues of the stack; each has a dead-letter queue. */
export type QueueName = 'deliveries';

/** One Lambda function: where its code is, what invokes it and what it may touch. */
export interface FunctionEntry {
  /** Short name, used in construct ids, log groups and dist/functions/<name>/. */
  name: string;
  /** Handler source, relative to the repository root; it exports `handler`. */
  entry: string;
  triggers: Trigger[];
  /** Table actions the code performs on items (table ARN) and the indexes it queries. */
  table: { actions: TableAction[]; queryIndexes: string[] };
  /** Whether the function reads the OIDC signing and cookie keys. */
  readsProviderKeys?: boolean;
  /** Queues the function sends messages to. */
  sendsTo?: QueueName[];
  memoryMb?: number;
  timeoutSeconds?: number;
}

/**
 * Every function of the service, one declarative entry each. Adding a function
 * means adding an entry here. The stack creates its role, log group, triggers
 * and table permissions from the entry, and the build script bundles it. The
 * infra tests check that the granted table actions match the DynamoDB commands
 * in its code. Entries whose file does not exist yet are skipped (see
 * `deployableFunctions`), so they can be listed before their handler lands.
 */
export const FUNCTIONS: FunctionEntry[] = [
  {
    name: 'api',
    entry: 'functions/handlers/api.ts',
    triggers: [
      {
        kind: 'http',
        routes: [
          { method: 'ANY', path: '/api/{proxy+}' },
          { method: 'POST', path: '/api/enterprises', throttle: 'registration' },
          { method: 'POST', path: '/api/enterprises/{creditCode}/certificates', throttle: 'registration' },
          { method: 'POST', path: '/api/challenges', throttle: 'challenge' },
          // Certificate login: verified here, finished by the provider at /interaction/{uid}/finish.
          { method: 'GET', path: '/interaction/{uid}/challenge', throttle: 'challenge' },
          { method: 'POST', path: '/interaction/{uid}/certificate', throttle: 'login' },
        ],
      },
    ],
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
    // The cookie keys check the interaction cookie and derive the login challenge key.
    readsProviderKeys: true,
  },
  {
    name: 'passkeys',
    entry: 'functions/handlers/passkeys.ts',
    triggers: [
      {
        kind: 'http',
        routes: [
          { method: 'POST', path: '/api/enterprises/{creditCode}/passkeys/registration-options' },
          { method: 'ANY', path: '/api/enterprises/{creditCode}/passkeys' },
          { method: 'ANY', path: '/api/enterprises/{creditCode}/passkeys/{credentialId}' },
          { method: 'GET', path: '/api/enterprises/{creditCode}/logins' },
          { method: 'POST', path: '/api/operator-enrollment/options' },
          { method: 'POST', path: '/api/operator-enrollment' },
          // Passkey login: verified here, finished by the provider at /interaction/{uid}/finish.
          { method: 'GET', path: '/interaction/{uid}/passkey-options', throttle: 'challenge' },
          { method: 'POST', path: '/interaction/{uid}/passkey', throttle: 'login' },
        ],
      },
    ],
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
    readsProviderKeys: true,
  },
  {
    name: 'oidc',
    entry: 'functions/handlers/oidc.ts',
    triggers: [
      {
        kind: 'http',
        routes: [
          { method: 'ANY', path: '$default' },
          { method: 'GET', path: '/auth', throttle: 'login' },
          { method: 'POST', path: '/token', throttle: 'login' },
          { method: 'GET', path: '/interaction/{uid}/finish', throttle: 'login' },
        ],
      },
    ],
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
    readsProviderKeys: true,
    memoryMb: 1024,
  },
  // The entries below are ready for handlers that do not exist yet. The table
  // actions are the expected ones; the infra tests check them against the code
  // as soon as the file exists.
  {
    name: 'admin',
    entry: 'functions/handlers/admin.ts',
    triggers: [{ kind: 'http', routes: [{ method: 'ANY', path: '/api/admin/{proxy+}' }] }],
    table: { actions: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
  },
  {
    name: 'ca-sync',
    entry: 'functions/handlers/ca-sync.ts',
    triggers: [{ kind: 'http', routes: [{ method: 'ANY', path: '/api/ca/{proxy+}' }] }],
    table: { actions: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
  },
  {
    name: 'feed',
    entry: 'functions/handlers/feed.ts',
    triggers: [{ kind: 'http', routes: [{ method: 'ANY', path: '/api/feed/{proxy+}' }] }],
    readsProviderKeys: true,
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
    // Registering or replaying a push endpoint wakes the dispatcher at once instead of at the next sweep.
    sendsTo: ['deliveries'],
  },
  {
    name: 'dispatcher',
    entry: 'functions/handlers/dispatcher.ts',
    // One function; its `handler` passes each event to the entry point for the event's source.
    triggers: [{ kind: 'tableStream' }, { kind: 'queue', queue: 'deliveries' }, { kind: 'schedule', schedule: 'feedSweep' }],
    readsProviderKeys: true,
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'Query'], queryIndexes: ['gsi1', 'gsi2', 'gsi3'] },
    sendsTo: ['deliveries'],
    timeoutSeconds: 60,
  },
  {
    name: 'crl-refresh',
    entry: 'functions/handlers/crl-refresh.ts',
    triggers: [{ kind: 'schedule', schedule: 'crlRefresh' }],
    // gsi1 lists CA profiles; gsi2 finds the bindings of a serial a CRL lists.
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'Query'], queryIndexes: ['gsi1', 'gsi2'] },
    timeoutSeconds: 300,
  },
  {
    name: 'expiry',
    entry: 'functions/handlers/expiry.ts',
    triggers: [{ kind: 'schedule', schedule: 'expiry' }],
    // Reads the sparse expiry index (gsi3); gsi1 and gsi2 come with the shared binding and feed modules.
    table: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'Query'], queryIndexes: ['gsi1', 'gsi2', 'gsi3'] },
    timeoutSeconds: 300,
  },
];

/** Repository root: the folder that contains package.json and cdk.json. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** The entries whose handler file exists in `root`; the others are not deployed yet. */
export function deployableFunctions(root = REPO_ROOT, entries = FUNCTIONS): FunctionEntry[] {
  return entries.filter((entry) => existsSync(resolve(root, entry.entry)));
}
