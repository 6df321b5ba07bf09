import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from '../db/client.js';
import { listBindings } from '../db/certificates.js';
import { eventFromItem, feedSortKey, readEvent, readEvents, type StoredEvent } from '../db/events.js';
import { badRequest } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';

export interface AuditQuery {
  creditCode?: string;
  caId?: string;
  type?: string;
  /** Inclusive lower bound on the commit time, ISO 8601. */
  from?: string;
  /** Exclusive upper bound on the commit time, ISO 8601. */
  to?: string;
  limit: number;
  /** Opaque position returned by the previous page. */
  next?: string;
}

export interface AuditPage {
  events: StoredEvent[];
  next?: string;
}

/** Feed events scanned per request when the query names neither an enterprise nor a CA. */
const MAX_SCANNED = 5_000;

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decode(next: string): any {
  try {
    return JSON.parse(Buffer.from(next, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('FIELD_INVALID', 'next is not a position returned by this endpoint; repeat the query without it', { field: 'next' });
  }
}

/**
 * Query the event log for operators. By enterprise or by CA, the event
 * indexes are read in time order within [from, to). Without either, the feed
 * is read in sequence order from the start (or from `next`), at most
 * MAX_SCANNED events per page, keeping those in the time range.
 */
export async function queryAudit(query: AuditQuery): Promise<AuditPage> {
  if (query.creditCode || query.caId) return queryIndex(query);
  return scanFeed(query);
}

async function queryIndex(query: AuditQuery): Promise<AuditPage> {
  const [index, partition] = query.creditCode ? ['gsi1', `EVT#ENT#${query.creditCode}`] : ['gsi2', `EVT#CA#${query.caId}`];
  // Index sort keys are "<time>#<seq>": "0" sorts before and "\uffff" after every ISO 8601 time.
  const values: Record<string, unknown> = { ':pk': partition, ':from': query.from ?? '0', ':to': query.to ?? '\uffff' };
  const filters: string[] = [];
  const names: Record<string, string> = {};
  if (query.type) {
    filters.push('#type = :type');
    names['#type'] = 'type';
    values[':type'] = query.type;
  }
  if (query.creditCode && query.caId) {
    filters.push('caId = :caId');
    values[':caId'] = query.caId;
  }
  const events: StoredEvent[] = [];
  let startKey = query.next ? decode(query.next) : undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: index,
        KeyConditionExpression: `${index}pk = :pk AND ${index}sk BETWEEN :from AND :to`,
        FilterExpression: filters.length ? filters.join(' AND ') : undefined,
        ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
        ExpressionAttributeValues: marshall(values),
        Limit: query.limit - events.length,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) events.push(eventFromItem(item));
    startKey = page.LastEvaluatedKey;
  } while (startKey && events.length < query.limit);
  if (!query.creditCode) return { events, next: startKey ? encode(startKey) : undefined };
  // Imports are not in the enterprise's event index, because one certificates-imported event lists many
  // enterprises. They are found through the enterprise's bindings and merged in, within the part of the
  // index this page covered, so every page shows each import once.
  const after = query.next ? (decode(query.next).gsi1sk?.S as string | undefined) : undefined;
  const through = startKey?.gsi1sk?.S as string | undefined;
  const imports = (await importsOf(query.creditCode, query)).filter((event) => (!after || indexKey(event) > after) && (!through || indexKey(event) <= through));
  // NOTE: a page can hold up to `limit` indexed events plus the imports that fall among them.
  const merged = [...events, ...imports].sort((a, b) => (indexKey(a) < indexKey(b) ? -1 : indexKey(a) > indexKey(b) ? 1 : 0));
  return { events: merged, next: startKey ? encode(startKey) : undefined };
}

/** The sort key of an event in the enterprise and CA event indexes. */
const indexKey = (event: StoredEvent) => `${event.time}#${feedSortKey(event.seq)}`;

/**
 * Find the certificates-imported events that list `creditCode` and match the
 * query, each narrowed to that enterprise's entry, in index order.
 */
async function importsOf(creditCode: string, query: AuditQuery): Promise<StoredEvent[]> {
  if (query.type && query.type !== EVENT_TYPES.certificatesImported) return [];
  const seqs = new Set((await listBindings(creditCode)).flatMap((binding) => (binding.importSeq === undefined ? [] : [binding.importSeq])));
  const found: StoredEvent[] = [];
  for (const seq of [...seqs].sort((a, b) => a - b)) {
    const event = await readEvent(seq);
    if (!event || (query.caId && event.caId !== query.caId)) continue;
    if ((query.from && event.time < query.from) || (query.to && event.time >= query.to)) continue;
    const entries = (event.data.enterprises as { creditCode: string }[]).filter((entry) => entry.creditCode === creditCode);
    found.push({ ...event, data: { ...event.data, enterprises: entries } });
  }
  return found;
}

async function scanFeed(query: AuditQuery): Promise<AuditPage> {
  let cursor = query.next ? Number(decode(query.next)) : 0;
  if (!Number.isSafeInteger(cursor) || cursor < 0) throw badRequest('FIELD_INVALID', 'next is not a position returned by this endpoint', { field: 'next' });
  const events: StoredEvent[] = [];
  let scanned = 0;
  for (;;) {
    const page = await readEvents(cursor, Math.min(1000, MAX_SCANNED - scanned));
    for (const event of page.events) {
      cursor = event.seq;
      if (query.from && event.time < query.from) continue;
      if (query.to && event.time >= query.to) continue;
      if (query.type && event.type !== query.type) continue;
      events.push(event);
      if (events.length >= query.limit) return { events, next: cursor < page.head ? encode(cursor) : undefined };
    }
    scanned += page.events.length;
    if (page.cursor >= page.head) return { events };
    if (scanned >= MAX_SCANNED) return { events, next: encode(cursor) };
  }
}
