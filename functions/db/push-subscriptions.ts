import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { queryIndex } from './query.js';

/**
 * A feed consumer: a platform's push endpoint (RFC 8935 style) or an internal
 * reaction to events, with the cursor up to which it has processed the feed.
 *
 * Status: `active` delivers; `failing` retries with backoff after a failed
 * delivery; `dead-letter` stopped after failing for longer than the dead-letter
 * threshold and waits for a replay from a cursor.
 */
export interface FeedConsumer {
  /** Platform client id for push endpoints; `internal:<name>` for reactions inside the service. */
  id: string;
  /** HTTPS endpoint that receives SETs; absent for internal consumers. */
  endpoint?: string;
  status: 'active' | 'failing' | 'dead-letter';
  /** Sequence number of the last event processed; the next delivery starts after it. */
  cursor: number;
  createdAt: string;
  updatedAt: string;
  /** Failed attempts since the last successful delivery. */
  attempts: number;
  /** When the current run of failures started (ISO 8601). */
  failingSince?: string;
  /** Earliest time of the next attempt, epoch milliseconds. */
  nextAttemptAt?: number;
  lastError?: string;
  lastDeliveredAt?: string;
  /** Events delivered (2xx) since the consumer was created. */
  delivered: number;
  /** Events the receiver rejected as invalid (HTTP 400, RFC 8935 section 2.3), skipped since. */
  rejected: number;
  /** The last event the receiver rejected, and when (ISO 8601; absent in records written before it was stored). */
  lastRejection?: { seq: number; jti: string; error: string; at?: string };
  /** Worker that holds the lease, and when the lease ends (epoch ms). One worker delivers at a time. */
  leaseOwner?: string;
  leaseUntil?: number;
  /** Incremented by each wake-up that found the lease taken, so the holder reads the feed again before it lets go. */
  wakeups: number;
}

const key = (id: string) => ({ pk: `PUSH#${id}`, sk: 'PUSH' });
const LIST_KEY = 'PUSHCONSUMERS';

export async function getConsumer(id: string): Promise<FeedConsumer | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(key(id)), ConsistentRead: true }));
  return result.Item ? fromItem(result.Item) : undefined;
}

/** List every consumer; the index is eventually consistent, so a consumer created a moment ago may be missing. */
export async function listConsumers(): Promise<FeedConsumer[]> {
  return (await queryIndex('gsi1', LIST_KEY)).map(fromItem);
}

/**
 * Create a consumer, or point an existing one at a new endpoint and cursor.
 * The status resets to active, so this also ends a dead-letter state.
 */
export async function putConsumer(id: string, options: { endpoint?: string; cursor: number }): Promise<FeedConsumer> {
  const now = new Date().toISOString();
  const existing = await getConsumer(id);
  const consumer: FeedConsumer = {
    id,
    endpoint: options.endpoint,
    status: 'active',
    cursor: options.cursor,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    attempts: 0,
    delivered: existing?.delivered ?? 0,
    rejected: existing?.rejected ?? 0,
    lastDeliveredAt: existing?.lastDeliveredAt,
    wakeups: (existing?.wakeups ?? 0) + 1,
    // A running worker keeps its lease; it notices the new cursor on its next write and stops.
    leaseOwner: existing?.leaseOwner,
    leaseUntil: existing?.leaseUntil,
  };
  await dynamo().send(
    new PutItemCommand({
      TableName: tableName(),
      Item: marshall({ ...key(id), kind: 'feed-consumer', gsi1pk: LIST_KEY, gsi1sk: id, ...consumer }, { removeUndefinedValues: true }),
    }),
  );
  return consumer;
}

/** Create an internal consumer starting at `cursor` unless it exists; returns the stored one. */
export async function ensureConsumer(id: string, cursor: number): Promise<FeedConsumer> {
  const now = new Date().toISOString();
  const consumer: FeedConsumer = { id, status: 'active', cursor, createdAt: now, updatedAt: now, attempts: 0, delivered: 0, rejected: 0, wakeups: 0 };
  try {
    await dynamo().send(
      new PutItemCommand({
        TableName: tableName(),
        Item: marshall({ ...key(id), kind: 'feed-consumer', gsi1pk: LIST_KEY, gsi1sk: id, ...consumer }, { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return consumer;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return (await getConsumer(id))!;
  }
}

export async function deleteConsumer(id: string): Promise<boolean> {
  const result = await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: marshall(key(id)), ReturnValues: 'ALL_OLD' }));
  return Boolean(result.Attributes);
}

/**
 * Take the delivery lease of a consumer for `leaseMs`, unless another worker
 * holds an unexpired one. When it is held, the wake-up is recorded instead, so
 * the holder reads the feed again before it lets go. Returns the consumer when
 * the lease was taken, undefined otherwise (also when the consumer is gone).
 */
export async function acquireLease(id: string, owner: string, leaseMs: number): Promise<FeedConsumer | undefined> {
  const now = Date.now();
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(key(id)),
        UpdateExpression: 'SET leaseOwner = :owner, leaseUntil = :until',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)',
        ExpressionAttributeValues: marshall({ ':owner': owner, ':until': now + leaseMs, ':now': now }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem(result.Attributes!);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(key(id)),
        UpdateExpression: 'ADD wakeups :one',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: marshall({ ':one': 1 }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  return undefined;
}

export type ProgressUpdate = Partial<
  Pick<FeedConsumer, 'cursor' | 'status' | 'attempts' | 'failingSince' | 'nextAttemptAt' | 'lastError' | 'lastDeliveredAt' | 'lastRejection'>
> & { deliveredDelta?: number; rejectedDelta?: number; leaseUntil?: number };

/** Thrown when a worker writes progress for a lease it no longer holds, or for a consumer replaced meanwhile. */
export class LeaseLost extends Error {
  constructor(id: string) {
    super(`the delivery lease of feed consumer ${id} was lost or the consumer was replaced`);
    this.name = 'LeaseLost';
  }
}

/**
 * Record delivery progress under the lease. `expectedCursor` guards against a
 * replay that moved the cursor meanwhile: the worker stops, and the next run
 * starts from the replayed cursor.
 */
export async function saveProgress(id: string, owner: string, expectedCursor: number, update: ProgressUpdate): Promise<FeedConsumer> {
  const { expression, names, values } = progressExpression(update, owner, expectedCursor);
  try {
    const result = await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(key(id)),
        UpdateExpression: expression,
        ConditionExpression: 'leaseOwner = :owner AND #cursorGuard = :expected',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem(result.Attributes!);
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw new LeaseLost(id);
    throw error;
  }
}

/**
 * Record progress and give the lease back in one write, but only when no
 * wake-up arrived since `wakeups` was read. Returns false, with nothing
 * written, when the caller must check the consumer and read the feed again.
 */
export async function saveAndRelease(id: string, owner: string, expectedCursor: number, wakeups: number, update: ProgressUpdate): Promise<boolean> {
  const { expression, names, values } = progressExpression({ ...update, leaseUntil: undefined }, owner, expectedCursor);
  values[':wakeups'] = wakeups;
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(key(id)),
        UpdateExpression: expression.includes(' REMOVE ') ? expression.replace(' REMOVE ', ' REMOVE leaseOwner, ') : `${expression} REMOVE leaseOwner`,
        ConditionExpression: 'leaseOwner = :owner AND #cursorGuard = :expected AND wakeups = :wakeups',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
      }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return false;
  }
}

function progressExpression(update: ProgressUpdate, owner: string, expectedCursor: number) {
  const names: Record<string, string> = { '#cursorGuard': 'cursor' };
  const values: Record<string, unknown> = { ':owner': owner, ':expected': expectedCursor, ':now': new Date().toISOString() };
  const sets = ['updatedAt = :now'];
  const removes: string[] = [];
  const adds: string[] = [];
  const fields = ['cursor', 'status', 'attempts', 'failingSince', 'nextAttemptAt', 'lastError', 'lastDeliveredAt', 'lastRejection', 'leaseUntil'] as const;
  for (const field of fields) {
    if (!(field in update)) continue;
    names[`#${field}`] = field;
    const value = update[field];
    if (value === undefined) removes.push(`#${field}`);
    else {
      sets.push(`#${field} = :${field}`);
      values[`:${field}`] = value;
    }
  }
  if (update.deliveredDelta) {
    adds.push('delivered :delivered');
    values[':delivered'] = update.deliveredDelta;
  }
  if (update.rejectedDelta) {
    adds.push('rejected :rejected');
    values[':rejected'] = update.rejectedDelta;
  }
  let expression = `SET ${sets.join(', ')}`;
  if (removes.length) expression += ` REMOVE ${removes.join(', ')}`;
  if (adds.length) expression += ` ADD ${adds.join(', ')}`;
  return { expression, names, values };
}

/** Give the lease back whatever arrived meanwhile, used when the worker stops on a failure or lost lease. */
export async function dropLease(id: string, owner: string): Promise<void> {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(key(id)),
        UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
        ConditionExpression: 'leaseOwner = :owner',
        ExpressionAttributeValues: marshall({ ':owner': owner }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

function fromItem(item: Record<string, any>): FeedConsumer {
  const { pk, sk, kind, gsi1pk, gsi1sk, ...consumer } = unmarshall(item);
  return { wakeups: 0, delivered: 0, rejected: 0, attempts: 0, ...consumer } as FeedConsumer;
}
