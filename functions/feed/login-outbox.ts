import { QueryCommand, type AttributeValue, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from '../db/client.js';
import { ConditionFailed, commitWithEvents, type DomainEvent } from '../db/events.js';
import { LOGIN_OUTBOX_PARTITION, loginContextKey } from '../db/login-context.js';
import { countLogins, type LoginCounts } from '../db/login-counter.js';
import { log } from '../lib/log.js';

// Login events reach the feed through an outbox. A login commits its login
// context with the event to publish and an entry in the sparse gsi3 index, in
// the transaction that records the login, without touching the feed head.
// publishLoginEvents then moves pending events into the feed in batches, each
// in one transaction that also clears the entries it publishes. Logins
// therefore never wait for or contend on the feed head. Each recorded login is
// published once, because the clear is conditional: of two publishers that
// pick the same entry, only one commits it.

/** Logins per feed transaction: one update and one event each, plus the day counters and the feed head, within 100 items. */
const BATCH = 40;
const MAX_ROUNDS_PER_BATCH = 5;

/** A login whose event waits in the outbox. */
export interface PendingLogin {
  grantId: string;
  event: DomainEvent;
}

export interface OutboxRun {
  /** Login events this run appended to the feed. */
  published: number;
  /** Entries another publisher had already cleared. */
  skipped: number;
}

/** Read a pending login from a login context item (a table item or a stream image); undefined when it has no pending event. */
export function pendingLogin(item: Record<string, AttributeValue>): PendingLogin | undefined {
  const { grantId, gsi3pk, outboxEvent } = unmarshall(item) as { grantId?: string; gsi3pk?: string; outboxEvent?: DomainEvent };
  return grantId && gsi3pk === LOGIN_OUTBOX_PARTITION && outboxEvent ? { grantId, event: outboxEvent } : undefined;
}

let running: Promise<OutboxRun> | undefined;

/**
 * Publish the pending login events that the outbox index lists, oldest first,
 * leaving out entries younger than `minAgeMs` (the table stream publishes
 * those on AWS). Concurrent calls in one process share one run; runs in other
 * processes are safe because each entry is cleared under a condition.
 */
export function publishLoginEvents(options: { minAgeMs?: number } = {}): Promise<OutboxRun> {
  running ??= publishListed(options.minAgeMs ?? 0).finally(() => {
    running = undefined;
  });
  return running;
}

/** Publish the given pending logins, for example those of a table stream batch, in batches. */
export async function publishPendingLogins(pending: PendingLogin[]): Promise<OutboxRun> {
  const run: OutboxRun = { published: 0, skipped: 0 };
  for (let start = 0; start < pending.length; start += BATCH) await publishBatch(pending.slice(start, start + BATCH), run);
  return run;
}

async function publishListed(minAgeMs: number): Promise<OutboxRun> {
  const run: OutboxRun = { published: 0, skipped: 0 };
  for (;;) {
    const pending = await readPending(Date.now() - minAgeMs);
    if (pending.length === 0) return run;
    const before = run.published + run.skipped;
    await publishBatch(pending, run);
    // The index is eventually consistent: entries that were all cleared elsewhere end the run instead of looping on them.
    if (run.published + run.skipped === before || pending.length < BATCH) return run;
  }
}

async function readPending(olderThanMs: number): Promise<PendingLogin[]> {
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi3',
      // Sort keys start with the login time in milliseconds, padded to 15 digits.
      KeyConditionExpression: 'gsi3pk = :partition AND gsi3sk < :before',
      ExpressionAttributeValues: marshall({ ':partition': LOGIN_OUTBOX_PARTITION, ':before': `${(olderThanMs + 1).toString().padStart(15, '0')}#` }),
      Limit: BATCH,
    }),
  );
  return (page.Items ?? []).flatMap((item) => pendingLogin(item) ?? []);
}

const clearEntry = (grantId: string): TransactWriteItem => ({
  Update: {
    TableName: tableName(),
    Key: marshall(loginContextKey(grantId)),
    UpdateExpression: 'REMOVE gsi3pk, gsi3sk, outboxEvent',
    ConditionExpression: 'attribute_exists(gsi3pk)',
  },
});

/** Counter updates for the logins of a batch, one per UTC day they happened on. */
function counterUpdates(batch: PendingLogin[]): TransactWriteItem[] {
  const days = new Map<string, LoginCounts>();
  for (const { event } of batch) {
    const day = String(event.data.authenticatedAt ?? new Date().toISOString()).slice(0, 10);
    let counts = days.get(day);
    if (!counts) {
      counts = { day, total: 0, byClient: new Map(), byMethod: new Map() };
      days.set(day, counts);
    }
    const clientId = String(event.data.clientId);
    const method = String(event.data.method);
    counts.total += 1;
    counts.byClient.set(clientId, (counts.byClient.get(clientId) ?? 0) + 1);
    counts.byMethod.set(method, (counts.byMethod.get(method) ?? 0) + 1);
  }
  return [...days.values()].map(countLogins);
}

/**
 * Publish one batch: clear the entries, add the logins to the daily counters
 * and append the events, in one transaction. An entry cleared meanwhile by
 * another publisher is dropped from the batch, which is then committed again.
 */
async function publishBatch(pending: PendingLogin[], run: OutboxRun): Promise<void> {
  let batch = pending;
  for (let round = 0; round < MAX_ROUNDS_PER_BATCH && batch.length > 0; round += 1) {
    try {
      await commitWithEvents([...batch.map((entry) => clearEntry(entry.grantId)), ...counterUpdates(batch)], batch.map((entry) => entry.event));
      run.published += batch.length;
      return;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      run.skipped += 1;
      batch = batch.filter((_, index) => index !== error.index);
    }
  }
  if (batch.length > 0) log.warn('login outbox batch left for the next run', { pending: batch.length });
}
