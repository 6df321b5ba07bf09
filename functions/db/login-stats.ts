import { BatchGetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { tableName, dynamo } from './client.js';

/** Logins of one UTC day, counted per platform client and per method. */
export interface DailyLogins {
  day: string;
  total: number;
  byClient: Record<string, number>;
  byMethod: Record<string, number>;
}

const key = (day: string) => ({ pk: `STATS#LOGIN#${day}`, sk: 'STATS' });

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
      Key: marshall(key(day)),
      UpdateExpression: 'SET kind = :kind, #day = :day ADD #total :one, #client :one, #method :one',
      ExpressionAttributeNames: { '#day': 'day', '#total': 'total', '#client': `client:${clientId}`, '#method': `method:${method}` },
      ExpressionAttributeValues: marshall({ ':kind': 'login-stats', ':day': day, ':one': 1 }),
    },
  };
}

/** Read the daily counters of the last `days` UTC days, oldest first; days without logins are zero. */
export async function readLoginStats(days: number, until = new Date()): Promise<DailyLogins[]> {
  const dayList = Array.from({ length: days }, (_, i) => new Date(until.getTime() - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10));
  const found = new Map<string, Record<string, any>>();
  for (let i = 0; i < dayList.length; i += 100) {
    let keys = dayList.slice(i, i + 100).map((day) => marshall(key(day)));
    while (keys.length > 0) {
      const result = await dynamo().send(new BatchGetItemCommand({ RequestItems: { [tableName()]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of result.Responses?.[tableName()] ?? []) {
        const record = unmarshall(item);
        found.set(record.day, record);
      }
      keys = (result.UnprocessedKeys?.[tableName()]?.Keys ?? []) as typeof keys;
    }
  }
  return dayList.map((day) => {
    const record = found.get(day) ?? {};
    const byClient: Record<string, number> = {};
    const byMethod: Record<string, number> = {};
    for (const [name, value] of Object.entries(record)) {
      if (name.startsWith('client:')) byClient[name.slice(7)] = Number(value);
      if (name.startsWith('method:')) byMethod[name.slice(7)] = Number(value);
    }
    return { day, total: Number(record.total ?? 0), byClient, byMethod };
  });
}
