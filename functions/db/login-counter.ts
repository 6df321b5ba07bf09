import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { tableName } from './client.js';

// Apart from login-stats.ts, so the functions that record logins are not granted the reads of the statistics.

/** Key of the item that contains the login counters of one UTC day. */
export const loginStatsKey = (day: string) => ({ pk: `STATS#LOGIN#${day}`, sk: 'STATS' });

/**
 * Transaction item that counts one login, written with the login event so
 * the counters match the feed. Counters are attributes "total",
 * "client:<id>" and "method:<name>" of one item per UTC day.
 */
export function countLogin(at: Date, clientId: string, method: string): TransactWriteItem {
  const day = at.toISOString().slice(0, 10);
  return {
    Update: {
      TableName: tableName(),
      Key: marshall(loginStatsKey(day)),
      UpdateExpression: 'SET kind = :kind, #day = :day ADD #total :one, #client :one, #method :one',
      ExpressionAttributeNames: { '#day': 'day', '#total': 'total', '#client': `client:${clientId}`, '#method': `method:${method}` },
      ExpressionAttributeValues: marshall({ ':kind': 'login-stats', ':day': day, ':one': 1 }),
    },
  };
}

