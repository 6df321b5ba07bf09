import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { tableName } from './client.js';

// Apart from login-stats.ts, so the functions that record logins are not granted the reads of the statistics.

/** Key of the item that contains the login counters of one UTC day. */
export const loginStatsKey = (day: string) => ({ pk: `STATS#LOGIN#${day}`, sk: 'STATS' });

/** Logins to count, all of one UTC day. */
export interface LoginCounts {
  day: string;
  total: number;
  byClient: Map<string, number>;
  byMethod: Map<string, number>;
}

/**
 * Transaction item that adds `counts` to the counters of their day, written
 * with the login events it counts so the counters match the feed. Counters are
 * attributes "total", "client:<id>" and "method:<name>" of one item per UTC day.
 */
export function countLogins(counts: LoginCounts): TransactWriteItem {
  const names: Record<string, string> = { '#day': 'day', '#total': 'total' };
  const values: Record<string, unknown> = { ':kind': 'login-stats', ':day': counts.day, ':total': counts.total };
  const additions = ['#total :total'];
  const add = (prefix: string, entries: Map<string, number>) => {
    let index = 0;
    for (const [name, count] of entries) {
      names[`#${prefix}${index}`] = `${prefix === 'c' ? 'client' : 'method'}:${name}`;
      values[`:${prefix}${index}`] = count;
      additions.push(`#${prefix}${index} :${prefix}${index}`);
      index += 1;
    }
  };
  add('c', counts.byClient);
  add('m', counts.byMethod);
  return {
    Update: {
      TableName: tableName(),
      Key: marshall(loginStatsKey(counts.day)),
      UpdateExpression: `SET kind = :kind, #day = :day ADD ${additions.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: marshall(values),
    },
  };
}
