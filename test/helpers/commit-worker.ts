/**
 * A separate process that commits changes with events to the feed, for tests
 * of processes racing for the feed head. It reads DYNAMODB_ENDPOINT,
 * TABLE_NAME, WORKER (a name) and COMMITS from the environment. It waits for
 * a line on stdin, so that every worker starts at once. Then it commits one
 * marker item per commit with 1 to 3 events, and prints one JSON line:
 * `{"worker", "commits": [{"commit", "seqs"}]}`.
 */
import { createInterface } from 'node:readline';
import { marshall } from '@aws-sdk/util-dynamodb';
import { tableName } from '../../functions/db/client.js';
import { commitWithEvents } from '../../functions/db/events.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';

const worker = process.env.WORKER ?? 'worker';
const commits = Number(process.env.COMMITS ?? 10);

export const markerKey = (name: string, commit: number) => ({ pk: `RACE#${name}#${commit}`, sk: 'RACE' });

/** Commit `count` changes, each a marker item with 1 to 3 events naming it, one after another. */
export async function commitMarkers(name: string, count: number): Promise<{ commit: number; seqs: number[] }[]> {
  const results: { commit: number; seqs: number[] }[] = [];
  for (let commit = 0; commit < count; commit += 1) {
    const parts = 1 + (commit % 3);
    const stored = await commitWithEvents(
      [{ Put: { TableName: tableName(), Item: marshall({ ...markerKey(name, commit), kind: 'race-marker' }), ConditionExpression: 'attribute_not_exists(pk)' } }],
      Array.from({ length: parts }, (_, part) => ({ type: EVENT_TYPES.enterpriseUpdated, data: { worker: name, commit, part } })),
    );
    results.push({ commit, seqs: stored.map((event) => event.seq) });
  }
  return results;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const lines = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  const results = await commitMarkers(worker, commits);
  process.stdout.write(`${JSON.stringify({ worker, commits: results })}\n`);
}
