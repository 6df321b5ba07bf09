import { BatchGetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { tableName, dynamo } from './client.js';
import { loginStatsKey as key } from './login-counter.js';

/** Logins of one UTC day, counted per platform client and per method. */
export interface DailyLogins {
  day: string;
  total: number;
  byClient: Record<string, number>;
  byMethod: Record<string, number>;
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
