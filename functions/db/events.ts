import { randomUUID } from 'node:crypto';
import {
  GetItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/** Events per feed partition; the cursor's bucket is floor(seq / FEED_BUCKET_SIZE). */
export const FEED_BUCKET_SIZE = 10_000;

/** Items in one DynamoDB transaction (TransactWriteItems limit). */
export const MAX_TRANSACTION_ITEMS = 100;

/** A change to be recorded in the feed, in the same transaction as the change itself. */
export interface DomainEvent {
  /** Event type URI, e.g. urn:trading-identity:event:certificate-bound (see lib/event-types.ts). */
  type: string;
  /** Credit code of the enterprise the event is about, if any. */
  creditCode?: string;
  /** Per-enterprise sequence number: the enterprise record's version after the change. */
  enterpriseSeq?: number;
  /** CA profile the event concerns, if any. */
  caId?: string;
  /** Client id of the only platform that may read this event; absent means every platform. */
  audience?: string;
  /** Event payload; only what a platform needs. */
  data: Record<string, unknown>;
}

export interface StoredEvent extends DomainEvent {
  /** Feed-wide sequence number: the cursor. Consecutive, starting at 1, in commit order. */
  seq: number;
  jti: string;
  /** Commit time, ISO 8601. */
  time: string;
}

export const feedPartition = (seq: number) => `FEED#${Math.floor(seq / FEED_BUCKET_SIZE)}`;
export const feedSortKey = (seq: number) => seq.toString().padStart(15, '0');

/**
 * Error for a failed condition on one of the caller's items. `index` is the
 * position of that item in the caller's list, so the caller can name the rule
 * that was broken (for example "already registered").
 */
export class ConditionFailed extends Error {
  constructor(readonly index: number, readonly item?: Record<string, unknown>) {
    super(`condition failed on transaction item ${index}`);
    this.name = 'ConditionFailed';
  }
}

const MAX_ATTEMPTS = 50;

type CommitListener = (events: StoredEvent[]) => void;
const listeners = new Set<CommitListener>();

/**
 * Register a function called after every commit in this process that appended
 * events. The local host uses it to wake its in-process dispatcher at once;
 * commits made by other processes are found by polling the feed head.
 */
export function onEventsCommitted(listener: CommitListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Resolve on the next commit of events in this process, or after `timeoutMs`. */
export function waitForCommit(timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    const unsubscribe = onEventsCommitted(done);
    function done() {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    }
  });
}

/**
 * The feed head as this process last wrote or read it. A commit first tries
 * this value without reading the head item, which saves one consistent read
 * per commit. When another process has moved the head, the conditional update
 * fails and the head is read again.
 */
let knownHead: { table: string; seq: number } | undefined;

/**
 * Commits of this process, one at a time. Concurrent commits in one process
 * would all race for the same head value and all but one would fail and retry,
 * so queueing them here turns that contention into plain waiting. Processes
 * still race each other, which the optimistic retry below handles.
 */
let commitQueue: Promise<unknown> = Promise.resolve();

/** The caller's items of a commit, or a function that builds them from the sequence number of the first event. */
type TransactionItems = TransactWriteItem[] | ((firstSeq: number) => TransactWriteItem[]);

function itemsFor(items: TransactionItems, firstSeq: number, events: DomainEvent[]): TransactWriteItem[] {
  const own = typeof items === 'function' ? items(firstSeq) : items;
  if (own.length + events.length + 1 > MAX_TRANSACTION_ITEMS) {
    throw new RangeError(
      `a transaction contains at most ${MAX_TRANSACTION_ITEMS} items; got ${own.length} changes and ${events.length} events plus the feed head`,
    );
  }
  return own;
}

/**
 * Write `items` and append `events` to the feed atomically. Events get
 * consecutive feed-wide sequence numbers through an optimistic update of the
 * feed head, so the feed order equals the commit order. A lost race on the head
 * is retried; a failed condition on the caller's own items is not, and raises
 * ConditionFailed with nothing written.
 */
export function commitWithEvents(items: TransactWriteItem[], events: DomainEvent[]): Promise<StoredEvent[]> {
  return commit(items, events);
}

/**
 * Commit as commitWithEvents does, with the caller's items built by `build`
 * from the sequence number the first event gets, for items that record it.
 * `build` is called again on each attempt, because a lost race on the feed
 * head changes that number.
 */
export async function commitBuiltWithEvents(build: (firstSeq: number) => TransactWriteItem[], events: DomainEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) throw new RangeError('commitBuiltWithEvents needs at least one event to number the items by');
  return commit(build, events);
}

async function commit(items: TransactionItems, events: DomainEvent[]): Promise<StoredEvent[]> {
  if (events.length === 0) {
    const own = itemsFor(items, 0, events);
    await writeTransaction(own, own.length);
    return [];
  }
  const run = commitQueue.then(() => commitInOrder(items, events));
  commitQueue = run.catch(() => undefined);
  const stored = await run;
  for (const event of stored) cacheEvent(event);
  for (const listener of listeners) listener(stored);
  return stored;
}

/**
 * Events this process committed or read, by sequence number. Events never
 * change once committed, so a cached event is always current; the cache only
 * saves queries when many consumers read the same new events.
 */
const eventCache = new Map<number, StoredEvent>();
let eventCacheTable: string | undefined;
const EVENT_CACHE_SIZE = 50_000;

function cacheEvent(event: StoredEvent): void {
  if (eventCacheTable !== tableName()) {
    eventCache.clear();
    eventCacheTable = tableName();
  }
  eventCache.set(event.seq, event);
  if (eventCache.size > EVENT_CACHE_SIZE) {
    const oldest = eventCache.keys().next().value as number;
    eventCache.delete(oldest);
  }
}

function cachedRange(from: number, to: number): StoredEvent[] | undefined {
  if (eventCacheTable !== tableName()) return undefined;
  const events: StoredEvent[] = [];
  for (let seq = from; seq <= to; seq += 1) {
    const event = eventCache.get(seq);
    if (!event) return undefined;
    events.push(event);
  }
  return events;
}

async function commitInOrder(items: TransactionItems, events: DomainEvent[]): Promise<StoredEvent[]> {
  const table = tableName();
  for (let attempt = 1; ; attempt += 1) {
    const head = knownHead?.table === table ? knownHead.seq : await readFeedHead();
    const time = new Date().toISOString();
    const stored: StoredEvent[] = events.map((event, i) => ({ ...event, seq: head + i + 1, jti: randomUUID(), time }));
    const own = itemsFor(items, head + 1, events);
    try {
      await writeTransaction([...own, headUpdate(head, events.length), ...stored.map(eventPut)], own.length);
      knownHead = { table, seq: head + events.length };
      return stored;
    } catch (error) {
      if (!(error instanceof HeadMoved)) throw error;
      knownHead = undefined;
      if (attempt >= MAX_ATTEMPTS) {
        throw new Error(`the feed head kept moving during ${MAX_ATTEMPTS} attempts to commit ${events.length} events; try again later`);
      }
      // The first retry reads the head at once, because a stale cached head is the usual cause.
      if (attempt > 1) await sleep(Math.random() * Math.min(100, 2 ** attempt));
    }
  }
}

/** The head item moved (or a transaction conflict hit it) between reading and writing. */
class HeadMoved extends Error {}

async function writeTransaction(all: TransactWriteItem[], ownItems: number): Promise<void> {
  try {
    await dynamo().send(new TransactWriteItemsCommand({ TransactItems: all }));
  } catch (error) {
    if (!(error instanceof TransactionCanceledException)) throw error;
    const reasons = error.CancellationReasons ?? [];
    const ownFailure = reasons.findIndex((reason, i) => i < ownItems && reason.Code === 'ConditionalCheckFailed');
    if (ownFailure >= 0) throw new ConditionFailed(ownFailure);
    // Past the caller's items come the head update, then the event puts.
    if (all.length > ownItems) {
      // A stale head fails the head condition and usually the event puts too, because another
      // process already wrote those sequence numbers; both mean "read the head and try again".
      const headMoved = reasons[ownItems]?.Code === 'ConditionalCheckFailed' || reasons.some((reason) => reason.Code === 'TransactionConflict');
      if (headMoved) throw new HeadMoved();
      const occupied = reasons.findIndex((reason, i) => i > ownItems && reason.Code === 'ConditionalCheckFailed');
      if (occupied >= 0) {
        throw new Error(`feed item ${all[occupied].Put?.Item?.sk?.S ?? occupied} already exists beyond the feed head; the feed needs repair before events can be committed`);
      }
    }
    throw error;
  }
}

function headUpdate(head: number, count: number): TransactWriteItem {
  return {
    Update: {
      TableName: tableName(),
      Key: marshall({ pk: 'FEED', sk: 'HEAD' }),
      UpdateExpression: 'SET #seq = :next',
      ConditionExpression: head === 0 ? 'attribute_not_exists(#seq) OR #seq = :head' : '#seq = :head',
      ExpressionAttributeNames: { '#seq': 'seq' },
      ExpressionAttributeValues: marshall({ ':head': head, ':next': head + count }),
    },
  };
}

function eventPut(event: StoredEvent): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall(eventItem(event), { removeUndefinedValues: true }),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

let headInFlight: { table: string; read: Promise<number> } | undefined;
let headQueued: { table: string; read: Promise<number> } | undefined;

function startHeadRead(table: string): Promise<number> {
  const read = readFeedHead().finally(() => {
    if (headInFlight?.read === read) headInFlight = undefined;
  });
  headInFlight = { table, read };
  return read;
}

/**
 * Read the feed head, sharing one read among concurrent callers. A caller
 * never gets a read that started before its call: it queues behind the read in
 * flight and shares the next one, so its result includes every commit that
 * finished before the call.
 */
export function readFeedHeadShared(): Promise<number> {
  const table = tableName();
  if (!headInFlight || headInFlight.table !== table) return startHeadRead(table);
  if (!headQueued || headQueued.table !== table) {
    const previous = headInFlight.read;
    const read = previous
      .catch(() => undefined)
      .then(() => {
        if (headQueued?.read === read) headQueued = undefined;
        return startHeadRead(table);
      });
    headQueued = { table, read };
  }
  return headQueued.read;
}

/** Read the feed head: the sequence number of the last committed event, 0 for an empty feed. */
export async function readFeedHead(): Promise<number> {
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall({ pk: 'FEED', sk: 'HEAD' }), ConsistentRead: true }),
  );
  const seq = result.Item?.seq?.N;
  return seq ? Number(seq) : 0;
}

export interface EventPage {
  events: StoredEvent[];
  /** Sequence number of the last event read, or `after` when none was. */
  cursor: number;
  /** The feed head when the page was read. */
  head: number;
}

/**
 * Read up to `limit` events with a sequence number above `after`, in feed
 * order. The head is read first and the page stops there: every event up to
 * the head is committed, so a page never skips an event that commits later.
 */
export async function readEvents(after: number, limit: number): Promise<EventPage> {
  const head = await readFeedHeadShared();
  const last = Math.min(head, after + limit);
  const cached = cachedRange(after + 1, last);
  if (cached) return { events: cached, cursor: cached.length ? cached[cached.length - 1].seq : after, head };
  const events: StoredEvent[] = [];
  let from = after + 1;
  while (from <= last) {
    const bucketEnd = Math.min(last, (Math.floor(from / FEED_BUCKET_SIZE) + 1) * FEED_BUCKET_SIZE - 1);
    let startKey: Record<string, any> | undefined;
    do {
      const page = await dynamo().send(
        new QueryCommand({
          TableName: tableName(),
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: marshall({ ':pk': feedPartition(from), ':from': feedSortKey(from), ':to': feedSortKey(bucketEnd) }),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const event = eventFromItem(item);
        cacheEvent(event);
        events.push(event);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    from = bucketEnd + 1;
  }
  return { events, cursor: events.length ? events[events.length - 1].seq : after, head };
}

/** Read one committed event by its sequence number, or undefined when there is none. */
export async function readEvent(seq: number): Promise<StoredEvent | undefined> {
  const cached = cachedRange(seq, seq);
  if (cached) return cached[0];
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall({ pk: feedPartition(seq), sk: feedSortKey(seq) }), ConsistentRead: true }),
  );
  return result.Item ? eventFromItem(result.Item) : undefined;
}

export function eventFromItem(item: Record<string, any>): StoredEvent {
  const record = unmarshall(item);
  return {
    seq: record.seq,
    jti: record.jti,
    time: record.time,
    type: record.type,
    creditCode: record.creditCode,
    enterpriseSeq: record.enterpriseSeq,
    caId: record.caId,
    audience: record.audience,
    data: record.data ?? {},
  };
}

function eventItem(event: StoredEvent): Record<string, unknown> {
  return {
    pk: feedPartition(event.seq),
    sk: feedSortKey(event.seq),
    kind: 'event',
    seq: event.seq,
    jti: event.jti,
    time: event.time,
    type: event.type,
    creditCode: event.creditCode,
    enterpriseSeq: event.enterpriseSeq,
    caId: event.caId,
    audience: event.audience,
    data: event.data,
    gsi1pk: event.creditCode ? `EVT#ENT#${event.creditCode}` : undefined,
    gsi1sk: event.creditCode ? `${event.time}#${feedSortKey(event.seq)}` : undefined,
    gsi2pk: event.caId ? `EVT#CA#${event.caId}` : undefined,
    gsi2sk: event.caId ? `${event.time}#${feedSortKey(event.seq)}` : undefined,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
