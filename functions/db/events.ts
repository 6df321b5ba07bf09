import { randomUUID } from 'node:crypto';
import {
  GetItemCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/** Events per feed partition; the cursor's bucket is floor(seq / FEED_BUCKET_SIZE). */
export const FEED_BUCKET_SIZE = 10_000;

/** A change to be recorded in the feed, in the same transaction as the change itself. */
export interface DomainEvent {
  /** Event type URI, e.g. https://schemas.trading-identity.example/event-type/certificate-bound */
  type: string;
  /** Credit code of the enterprise the event is about, if any. */
  creditCode?: string;
  /** Per-enterprise sequence number: the enterprise record's version after the change. */
  enterpriseSeq?: number;
  /** CA profile the event concerns, if any. */
  caId?: string;
  /** Event payload; only what a platform needs. */
  data: Record<string, unknown>;
}

export interface StoredEvent extends DomainEvent {
  seq: number;
  jti: string;
  time: string;
}

export const feedPartition = (seq: number) => `FEED#${Math.floor(seq / FEED_BUCKET_SIZE)}`;
export const feedSortKey = (seq: number) => seq.toString().padStart(15, '0');

/**
 * Thrown when a condition on one of the caller's items fails; `index` is the
 * position of that item in the caller's list, so the caller can say which rule
 * was broken (for example "already registered").
 */
export class ConditionFailed extends Error {
  constructor(readonly index: number, readonly item?: Record<string, unknown>) {
    super(`condition failed on transaction item ${index}`);
    this.name = 'ConditionFailed';
  }
}

const MAX_ATTEMPTS = 50;

/**
 * Write `items` and append `events` to the feed atomically. Events get
 * consecutive feed-wide sequence numbers through an optimistic update of the
 * feed head, so the feed order equals the commit order. A lost race on the head
 * is retried; a failed condition on the caller's own items is not.
 */
export async function commitWithEvents(items: TransactWriteItem[], events: DomainEvent[]): Promise<StoredEvent[]> {
  if (items.length + events.length + 1 > 100) {
    throw new RangeError(`a transaction holds at most 100 items; got ${items.length} changes and ${events.length} events`);
  }
  for (let attempt = 1; ; attempt += 1) {
    const head = await readFeedHead();
    const stored = events.map((event, i) => ({
      ...event,
      seq: head + i + 1,
      jti: randomUUID(),
      time: new Date().toISOString(),
    }));
    const headUpdate: TransactWriteItem = {
      Update: {
        TableName: tableName(),
        Key: marshall({ pk: 'FEED', sk: 'HEAD' }),
        UpdateExpression: 'SET #seq = :next',
        ConditionExpression: head === 0 ? 'attribute_not_exists(#seq) OR #seq = :head' : '#seq = :head',
        ExpressionAttributeNames: { '#seq': 'seq' },
        ExpressionAttributeValues: marshall({ ':head': head, ':next': head + events.length }),
      },
    };
    const eventPuts: TransactWriteItem[] = stored.map((event) => ({
      Put: {
        TableName: tableName(),
        Item: marshall(eventItem(event), { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    }));
    const all = events.length > 0 ? [...items, headUpdate, ...eventPuts] : items;
    try {
      await dynamo().send(new TransactWriteItemsCommand({ TransactItems: all }));
      return stored;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const ownFailure = reasons.findIndex((reason, i) => i < items.length && reason.Code === 'ConditionalCheckFailed');
      if (ownFailure >= 0) throw new ConditionFailed(ownFailure);
      const headLost = reasons.some((reason, i) => i >= items.length && (reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict'));
      const conflict = reasons.some((reason) => reason.Code === 'TransactionConflict');
      if ((headLost || conflict) && attempt < MAX_ATTEMPTS) {
        await sleep(Math.random() * Math.min(100, 2 ** attempt));
        continue;
      }
      throw error;
    }
  }
}

export async function readFeedHead(): Promise<number> {
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall({ pk: 'FEED', sk: 'HEAD' }), ConsistentRead: true }),
  );
  const seq = result.Item?.seq?.N;
  return seq ? Number(seq) : 0;
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
    data: event.data,
    gsi1pk: event.creditCode ? `EVT#ENT#${event.creditCode}` : undefined,
    gsi1sk: event.creditCode ? `${event.time}#${feedSortKey(event.seq)}` : undefined,
    gsi2pk: event.caId ? `EVT#CA#${event.caId}` : undefined,
    gsi2sk: event.caId ? `${event.time}#${feedSortKey(event.seq)}` : undefined,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
