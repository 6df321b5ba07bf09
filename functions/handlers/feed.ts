import { readEvents, readFeedHead } from '../db/events.js';
import { deleteConsumer, getConsumer, listConsumers, putConsumer, type FeedConsumer } from '../db/push-subscriptions.js';
import { queryAudit } from '../feed/audit.js';
import { checkPushEndpoint, parsePushEndpoint } from '../feed/push-endpoint.js';
import { signEvent } from '../feed/security-event-token.js';
import { enterpriseSnapshot, snapshotByCertificate } from '../feed/snapshot.js';
import { visibleTo } from '../feed/visibility.js';
import { wakeConsumers } from '../feed/wake.js';
import { authenticate, type Caller } from '../lib/auth.js';
import { badRequest, forbidden, notFound } from '../lib/errors.js';
import { json, jsonBody, router, type HttpEvent, type Route } from '../lib/http.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { requireStoredCreditCode } from '../services/registration.js';

const FEED_SCOPE = 'feed:read';
const ADMIN_SCOPE = 'admin';
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** Authenticate a platform: a client credentials token with the feed scope. */
async function platform(event: HttpEvent): Promise<Caller> {
  const caller = await authenticate(event, FEED_SCOPE);
  if (caller.kind !== 'client') {
    throw forbidden('CLIENT_TOKEN_REQUIRED', `the feed is read by platforms: obtain a token with the client credentials grant and scope "${FEED_SCOPE}"`);
  }
  return caller;
}

function queryInteger(event: HttpEvent, name: string, fallback: number, min: number, max: number): number {
  const raw = event.queryStringParameters?.[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw badRequest('FIELD_INVALID', `${name}=${JSON.stringify(raw)} is not an integer from ${min} to ${max}`, { field: name });
  }
  return Number(raw);
}

function queryTime(event: HttpEvent, name: string): string | undefined {
  const raw = event.queryStringParameters?.[name];
  if (raw === undefined || raw === '') return undefined;
  const time = Date.parse(raw);
  if (Number.isNaN(time)) {
    throw badRequest('FIELD_INVALID', `${name}=${JSON.stringify(raw)} is not a date-time; use ISO 8601, for example 2025-01-31T00:00:00Z`, { field: name });
  }
  return new Date(time).toISOString();
}

function requireFingerprint(value: string): string {
  const fingerprint = value.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) {
    throw badRequest('FIELD_INVALID', `certificate fingerprint ${JSON.stringify(value)} is not 64 hexadecimal digits; use the SHA-256 of the certificate's DER`, { field: 'fingerprint' });
  }
  return fingerprint;
}

function requireCursor(value: unknown, head: number, field = 'cursor'): number {
  if (value === 'head') return head;
  if (value === undefined) {
    throw badRequest('FIELD_MISSING', `${field} is missing; send a non-negative integer, 0 to receive the whole feed, or "head"`, { field });
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw badRequest('FIELD_INVALID', `${field} ${JSON.stringify(value)} is not a feed position; use a non-negative integer, 0 to receive the whole feed, or "head"`, { field });
  }
  if (value > head) throw badRequest('FIELD_INVALID', `${field} ${value} is beyond the feed head ${head}`, { field });
  return value;
}

/** Delivery state shown to the platform itself and to operators; the lease fields are internal. */
function consumerStatus(consumer: FeedConsumer, head: number) {
  const { leaseOwner, leaseUntil, wakeups, ...rest } = consumer;
  return { ...rest, nextAttemptAt: consumer.nextAttemptAt ? new Date(consumer.nextAttemptAt).toISOString() : undefined, head, behind: head - consumer.cursor };
}

const routes: Route[] = [
  {
    method: 'GET',
    path: '/api/feed/events',
    handler: async ({ event }) => {
      const caller = await platform(event);
      const after = queryInteger(event, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = queryInteger(event, 'limit', DEFAULT_PAGE, 1, MAX_PAGE);
      const page = await readEvents(after, limit);
      const visible = page.events.filter((stored) => visibleTo(stored, caller.clientId));
      const sets = await Promise.all(visible.map(async (stored) => ({ seq: stored.seq, jti: stored.jti, set: await signEvent(stored, caller.clientId) })));
      // The cursor moves past events this platform may not read, so the next request starts after them.
      return json(200, { sets, cursor: page.cursor, head: page.head, moreAvailable: page.cursor < page.head });
    },
  },
  {
    method: 'GET',
    path: '/api/feed/enterprises/{creditCode}',
    handler: async ({ event, params }) => {
      await platform(event);
      const code = await requireStoredCreditCode(params.creditCode);
      const snapshot = await enterpriseSnapshot(code);
      if (!snapshot) throw notFound('NOT_REGISTERED', `no enterprise with credit code ${code} is registered`);
      return json(200, snapshot);
    },
  },
  {
    method: 'GET',
    path: '/api/feed/certificates/{fingerprint}',
    handler: async ({ event, params }) => {
      await platform(event);
      const fingerprint = requireFingerprint(params.fingerprint);
      const snapshot = await snapshotByCertificate(fingerprint);
      if (!snapshot) throw notFound('CERTIFICATE_NOT_BOUND', `no certificate with SHA-256 fingerprint ${fingerprint} is bound to an enterprise`);
      return json(200, snapshot);
    },
  },
  {
    method: 'PUT',
    path: '/api/feed/push',
    handler: async ({ event }) => {
      const caller = await platform(event);
      const body = jsonBody(event);
      const endpoint = parsePushEndpoint(body.endpoint);
      await checkPushEndpoint(endpoint);
      const head = await readFeedHead();
      const existing = await getConsumer(caller.clientId);
      const cursor = body.cursor === undefined ? (existing?.cursor ?? head) : requireCursor(body.cursor, head);
      const consumer = await putConsumer(caller.clientId, { endpoint, cursor });
      await wakeConsumers([caller.clientId]);
      return json(existing ? 200 : 201, consumerStatus(consumer, head));
    },
  },
  {
    method: 'GET',
    path: '/api/feed/push',
    handler: async ({ event }) => {
      const caller = await platform(event);
      const consumer = await getConsumer(caller.clientId);
      if (!consumer) throw notFound('NO_PUSH_ENDPOINT', 'this platform has no push endpoint; register one with PUT /api/feed/push');
      return json(200, consumerStatus(consumer, await readFeedHead()));
    },
  },
  {
    method: 'DELETE',
    path: '/api/feed/push',
    handler: async ({ event }) => {
      const caller = await platform(event);
      if (!(await deleteConsumer(caller.clientId))) throw notFound('NO_PUSH_ENDPOINT', 'this platform has no push endpoint');
      return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
    },
  },
  {
    method: 'POST',
    path: '/api/feed/push/replay',
    handler: async ({ event }) => {
      const caller = await platform(event);
      const existing = await getConsumer(caller.clientId);
      if (!existing?.endpoint) throw notFound('NO_PUSH_ENDPOINT', 'this platform has no push endpoint; register one with PUT /api/feed/push');
      const head = await readFeedHead();
      const cursor = requireCursor(jsonBody(event).cursor, head);
      const consumer = await putConsumer(caller.clientId, { endpoint: existing.endpoint, cursor });
      await wakeConsumers([caller.clientId]);
      return json(200, consumerStatus(consumer, head));
    },
  },
  {
    method: 'GET',
    path: '/api/feed/deliveries',
    handler: async ({ event }) => {
      await authenticate(event, ADMIN_SCOPE);
      const head = await readFeedHead();
      const consumers = await listConsumers();
      return json(200, { head, consumers: consumers.map((consumer) => consumerStatus(consumer, head)) });
    },
  },
  {
    method: 'GET',
    path: '/api/feed/audit',
    handler: async ({ event }) => {
      await authenticate(event, ADMIN_SCOPE);
      const q = event.queryStringParameters ?? {};
      const from = queryTime(event, 'from');
      const to = queryTime(event, 'to');
      if (from && to && from >= to) {
        throw badRequest('FIELD_INVALID', `from ${from} is not before to ${to}; give a time range that starts before it ends`, { field: 'from' });
      }
      if (q.type && !KNOWN_EVENT_TYPES.has(q.type)) {
        throw badRequest('FIELD_INVALID', `type ${JSON.stringify(q.type)} is not an event type of this service; use one of ${[...KNOWN_EVENT_TYPES].join(', ')}`, { field: 'type' });
      }
      const page = await queryAudit({
        creditCode: q.creditCode ? await requireStoredCreditCode(q.creditCode) : undefined,
        caId: q.caId || undefined,
        type: q.type || undefined,
        from,
        to,
        limit: queryInteger(event, 'limit', DEFAULT_PAGE, 1, MAX_PAGE),
        next: q.next || undefined,
      });
      return json(200, page);
    },
  },
];

const KNOWN_EVENT_TYPES = new Set<string>(Object.values(EVENT_TYPES));

/** Lambda entry point for /api/feed/*: pull, snapshots, push endpoint registration, delivery status and audit. */
export const handler = router(routes);
