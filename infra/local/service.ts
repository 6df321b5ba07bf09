import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setDynamoClient, tableName } from '../../functions/db/client.js';
import { webauthnConfig } from '../../functions/lib/config.js';
import type { ExpiryResult } from '../../functions/services/certificate-expiry.js';
import { invalidateTrustStore } from '../../functions/db/ca-profiles.js';
import { handler as adminHandler } from '../../functions/handlers/admin.js';
import { handler as apiHandler } from '../../functions/handlers/api.js';
import { handler as caSyncHandler } from '../../functions/handlers/ca-sync.js';
import { handler as feedHandler } from '../../functions/handlers/feed.js';
import { handler as oidcHandler } from '../../functions/handlers/oidc.js';
import { handler as passkeysHandler } from '../../functions/handlers/passkeys.js';
import { deployableFunctions } from '../aws/functions.js';
import { httpRoutes, selectFunction } from '../routing.js';
import { startLocalCrlRefresh, type LocalCrlRefresh } from './crl-refresh.js';
import { startLocalDispatcher, type LocalDispatcher } from './dispatcher.js';
import { startLocalExpiry } from './expiry.js';
import { createHost, type LambdaHandler } from './host.js';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { ensureTable } from './tables.js';

export interface LocalService {
  url: string;
  port: number;
  db: DynamoDbLocal;
  server: Server;
  /** The in-process push dispatcher, absent when started with `dispatcher: false`. */
  dispatcher?: LocalDispatcher;
  /** The CRL refresh on a timer; `runOnce` runs it at once. */
  crlRefresh: LocalCrlRefresh;
  /** Run certificate expiry now, judged at `now` (default: the current time), as the scheduled run does. */
  runExpiry(now?: Date): Promise<ExpiryResult>;
  stop(): Promise<void>;
}

export interface LocalServiceOptions {
  /** Folder for DynamoDB data; omitted means DynamoDB Local keeps data in memory. */
  dataDir?: string;
  /** Use an already running DynamoDB Local at this endpoint instead of starting one. */
  dynamoEndpoint?: string;
  keysFile: string;
  /** Port for the HTTP host on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Public origin; defaults to http://localhost:<port>. */
  origin?: string;
  staticDir?: string;
  /** Handlers that replace the source ones, by function name; tests serve built bundles this way. */
  handlers?: Record<string, LambdaHandler>;
  /** Run the feed's push dispatcher in this process (default true). */
  dispatcher?: boolean;
  /** Interval of the scheduled certificate expiry run in milliseconds (default EXPIRY_INTERVAL_MS, or one hour). */
  expiryIntervalMs?: number;
}

/**
 * Start DynamoDB Local, create the table, and serve the Lambda handlers on
 * 127.0.0.1. Environment variables configure the handlers exactly as Lambda
 * environment variables do in AWS.
 */
export async function startLocalService(options: LocalServiceOptions): Promise<LocalService> {
  const db: DynamoDbLocal = options.dynamoEndpoint
    ? { endpoint: options.dynamoEndpoint, port: Number(new URL(options.dynamoEndpoint).port), stop: async () => undefined }
    : await startDynamoDbLocal({ dataDir: options.dataDir ? join(options.dataDir, 'dynamodb') : undefined });
  process.env.DYNAMODB_ENDPOINT = db.endpoint;
  process.env.TABLE_NAME ??= 'trading-identity';
  process.env.OIDC_KEYS_FILE = options.keysFile;
  const client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  setDynamoClient(client);
  invalidateTrustStore();
  await ensureTable(client, tableName());

  const server = createHost(localSelector(options.handlers), { staticDir: options.staticDir });
  // The origin must be known before the first request, because the provider is built on it.
  const port = await listen(server, options.port ?? 0);
  process.env.PUBLIC_ORIGIN = options.origin ?? `http://localhost:${port}`;
  const url = process.env.PUBLIC_ORIGIN;
  try {
    webauthnConfig();
  } catch (error) {
    server.close();
    await db.stop();
    throw error;
  }
  const dispatcher = options.dispatcher === false ? undefined : await startLocalDispatcher();
  const crlRefresh = startLocalCrlRefresh();
  const expiry = startLocalExpiry({ intervalMs: options.expiryIntervalMs });
  return {
    url,
    port,
    db,
    server,
    dispatcher,
    crlRefresh,
    runExpiry: (now) => expiry.run(now),
    stop: async () => {
      await crlRefresh.stop();
      await expiry.stop();
      await dispatcher?.stop();
      await new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await db.stop();
    },
  };
}

/** Handlers of the functions that serve HTTP, by their name in infra/aws/functions.ts. */
const HTTP_HANDLERS: Record<string, LambdaHandler> = {
  api: apiHandler,
  oidc: oidcHandler,
  passkeys: passkeysHandler,
  admin: adminHandler,
  'ca-sync': caSyncHandler,
  feed: feedHandler,
};

/**
 * Route requests with the HTTP routes of the deployed function entries, so a
 * path reaches the same handler here as behind API Gateway.
 */
export function localSelector(overrides: Record<string, LambdaHandler> = {}): (method: string, path: string) => LambdaHandler | undefined {
  const handlers = { ...HTTP_HANDLERS, ...overrides };
  const routes = httpRoutes(deployableFunctions());
  const missing = [...new Set(routes.map((target) => target.name))].filter((name) => !handlers[name]);
  if (missing.length) throw new Error(`the local host has no handler for function ${missing.join(', ')}; add it to HTTP_HANDLERS in infra/local/service.ts`);
  return (method, path) => {
    const name = selectFunction(routes, method, path);
    return name ? handlers[name] : undefined;
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export const randomSecret = () => randomBytes(32).toString('base64url');
