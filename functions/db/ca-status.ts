import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { CaStatus } from '../pki/trust-store.js';
import { dynamo, tableName } from './client.js';

// Kept apart from ca-profiles.ts, which builds trust stores, so that functions without certificate code can read a CA's status.

export const caProfileKey = (id: string) => ({ pk: `CA#${id}`, sk: 'CA' });

/**
 * How long an instance may use its cached trust store before checking the
 * stored trust version again. A CA profile change therefore takes effect on
 * every running instance within this many seconds, without a restart.
 */
export const TRUST_REFRESH_SECONDS = Number(process.env.TRUST_REFRESH_SECONDS ?? 5);

const statusCache = new Map<string, { status: CaStatus | undefined; readAt: number }>();
const MAX_CACHED_STATUSES = 1024;

/** Forget cached CA statuses, so this instance reads a change it made at once. */
export function clearCaStatusCache(): void {
  statusCache.clear();
}

/**
 * Return the status of a CA profile (undefined for an unknown one), read at
 * most TRUST_REFRESH_SECONDS ago, the same bound as the cached trust store.
 */
export async function caStatusOf(id: string): Promise<CaStatus | undefined> {
  const cached = statusCache.get(id);
  if (cached && Date.now() - cached.readAt < TRUST_REFRESH_SECONDS * 1000) return cached.status;
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall(caProfileKey(id)), ProjectionExpression: '#status', ExpressionAttributeNames: { '#status': 'status' }, ConsistentRead: true }),
  );
  const status = result.Item?.status?.S as CaStatus | undefined;
  if (statusCache.size >= MAX_CACHED_STATUSES) statusCache.clear();
  statusCache.set(id, { status, readAt: Date.now() });
  return status;
}
