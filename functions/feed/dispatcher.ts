import { randomUUID } from 'node:crypto';
import { readEvents, type StoredEvent } from '../db/events.js';
import {
  LeaseLost,
  acquireLease,
  dropLease,
  getConsumer,
  releaseLease,
  saveProgress,
  type FeedConsumer,
  type ProgressUpdate,
} from '../db/push-subscriptions.js';
import { log } from '../lib/log.js';
import { pushSet } from './push-endpoint.js';
import { signEvent } from './security-event-token.js';
import { visibleTo } from './visibility.js';

/** Delivery settings; each can be set by an environment variable of the same name in upper snake case. */
export interface DispatcherSettings {
  /** First retry delay after a failed delivery, in ms; it doubles per failure up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A consumer that keeps failing for this long goes to the dead-letter state, in ms. */
  deadLetterAfterMs: number;
  /** Events read from the feed per step. */
  windowSize: number;
  /** Enterprises delivered to in parallel; each enterprise's events stay in order. */
  concurrency: number;
  /** Timeout of one push request, in ms. */
  requestTimeoutMs: number;
  /** Lease on a consumer while a worker delivers; renewed after every step, in ms. */
  leaseMs: number;
  /** A run stops after this long and reports `budget`, so its driver can start the next one, in ms. */
  runBudgetMs: number;
}

const numberFromEnv = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw} is not a non-negative number`);
  return value;
};

export function dispatcherSettings(): DispatcherSettings {
  return {
    retryBaseMs: numberFromEnv('FEED_RETRY_BASE_MS', 1_000),
    retryMaxMs: numberFromEnv('FEED_RETRY_MAX_MS', 5 * 60_000),
    deadLetterAfterMs: numberFromEnv('FEED_DEAD_LETTER_AFTER_MS', 72 * 3600_000),
    windowSize: numberFromEnv('FEED_WINDOW_SIZE', 500),
    concurrency: numberFromEnv('FEED_CONCURRENCY', 16),
    requestTimeoutMs: numberFromEnv('FEED_REQUEST_TIMEOUT_MS', 5_000),
    leaseMs: numberFromEnv('FEED_LEASE_MS', 60_000),
    runBudgetMs: numberFromEnv('FEED_RUN_BUDGET_MS', 50_000),
  };
}

/** What a consumer made of one window of events. */
export interface WindowResult {
  /** Every event with a sequence number up to this one is processed. */
  through: number;
  delivered: number;
  rejected: number;
  lastRejection?: { seq: number; jti: string; error: string };
  /** Set when an event could not be processed; the events after `through` are tried again later. */
  failure?: string;
}

/** How a consumer processes events: pushes them to a platform, or reacts inside the service. */
export type ConsumerHandler = (consumer: FeedConsumer, events: StoredEvent[], deadline: number, settings: DispatcherSettings) => Promise<WindowResult>;

/**
 * How a run ended. `idle`: the consumer caught up with the feed. `busy`:
 * another worker holds the lease and was told to read again. `retry`: a
 * delivery failed and the next attempt is due at `retryAt`. `dead-letter`:
 * delivery stopped until a replay. `budget` and `lost`: the run stopped early
 * and the driver should start another. `gone`: the consumer no longer exists.
 */
export interface RunOutcome {
  state: 'idle' | 'busy' | 'retry' | 'dead-letter' | 'budget' | 'lost' | 'gone';
  retryAt?: number;
}

/** Backoff before attempt `attempts + 1`: doubling from the base, capped, with up to 20% jitter. */
export function retryDelay(attempts: number, settings: DispatcherSettings): number {
  const delay = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.round(delay * (0.8 + Math.random() * 0.2));
}

/**
 * Process the feed for one consumer from its cursor, one window at a time,
 * under a lease so that one worker at a time delivers to it: the shared core
 * of the local dispatcher and of the delivery Lambda. Progress is saved after
 * every window; delivery is at least once, because events after a failure in
 * a window are sent again on the next attempt.
 */
export async function runConsumer(id: string, handler: ConsumerHandler, settings = dispatcherSettings()): Promise<RunOutcome> {
  const owner = randomUUID();
  let consumer = await acquireLease(id, owner, settings.leaseMs);
  if (!consumer) return { state: (await getConsumer(id)) ? 'busy' : 'gone' };
  const runEnds = Date.now() + settings.runBudgetMs;
  try {
    for (;;) {
      if (consumer.status === 'dead-letter') {
        await dropLease(id, owner);
        return { state: 'dead-letter' };
      }
      if (consumer.nextAttemptAt !== undefined && consumer.nextAttemptAt > Date.now()) {
        await dropLease(id, owner);
        return { state: 'retry', retryAt: consumer.nextAttemptAt };
      }
      // Read before the feed: a wake-up after this point makes the release below fail.
      const wakeups = consumer.wakeups;
      const page = await readEvents(consumer.cursor, settings.windowSize);
      if (page.events.length === 0) {
        if (await releaseLease(id, owner, wakeups)) return { state: 'idle' };
        const current = await getConsumer(id);
        if (!current || current.leaseOwner !== owner) return { state: 'lost' };
        consumer = current;
        continue;
      }
      const deadline = Math.min(runEnds, Date.now() + settings.leaseMs / 2);
      const result = await handler(consumer, page.events, deadline, settings);
      consumer = await saveProgress(id, owner, consumer.cursor, progressUpdate(consumer, result, settings));
      if (result.failure) {
        await dropLease(id, owner);
        // Logged on the first failure, then at attempts 2, 4, 8, ...: an outage of days stays a few dozen lines.
        if ((consumer.attempts & (consumer.attempts - 1)) === 0 || consumer.status === 'dead-letter') {
          log.warn('feed delivery failed', { consumer: id, cursor: consumer.cursor, attempts: consumer.attempts, status: consumer.status, error: result.failure });
        }
        return consumer.status === 'dead-letter' ? { state: 'dead-letter' } : { state: 'retry', retryAt: consumer.nextAttemptAt };
      }
      if (Date.now() >= runEnds) {
        await dropLease(id, owner);
        return { state: 'budget' };
      }
    }
  } catch (error) {
    if (error instanceof LeaseLost) return { state: 'lost' };
    await dropLease(id, owner).catch(() => undefined);
    throw error;
  }
}

function progressUpdate(consumer: FeedConsumer, result: WindowResult, settings: DispatcherSettings): ProgressUpdate {
  const now = Date.now();
  const common: ProgressUpdate = {
    cursor: result.through,
    deliveredDelta: result.delivered,
    rejectedDelta: result.rejected,
    leaseUntil: now + settings.leaseMs,
    ...(result.lastRejection ? { lastRejection: result.lastRejection } : {}),
    ...(result.delivered > 0 ? { lastDeliveredAt: new Date(now).toISOString() } : {}),
  };
  if (!result.failure) {
    return { ...common, status: 'active', attempts: 0, failingSince: undefined, nextAttemptAt: undefined };
  }
  // Progress within the window counts as success: the run of failures starts again from here.
  const progressed = result.through > consumer.cursor;
  const attempts = progressed ? 1 : consumer.attempts + 1;
  const failingSince = progressed || !consumer.failingSince ? new Date(now).toISOString() : consumer.failingSince;
  const deadLetter = now - Date.parse(failingSince) >= settings.deadLetterAfterMs;
  return {
    ...common,
    status: deadLetter ? 'dead-letter' : 'failing',
    attempts,
    failingSince,
    nextAttemptAt: deadLetter ? undefined : now + retryDelay(attempts, settings),
    lastError: result.failure,
  };
}

/** The key within which events must arrive in order: the enterprise, else the CA, else the whole feed. */
function orderingKey(event: StoredEvent): string {
  if (event.creditCode) return `ENT#${event.creditCode}`;
  if (event.caId) return `CA#${event.caId}`;
  return 'FEED';
}

/**
 * Push a window of events to a platform's endpoint as SETs. Events of one
 * enterprise (or CA) go one after another in feed order; different
 * enterprises go in parallel. The first failure stops every group, so a
 * receiver that is down gets at most `concurrency` requests per attempt.
 */
export const pushHandler: ConsumerHandler = async (consumer, events, deadline, settings) => {
  const endpoint = consumer.endpoint;
  if (!endpoint) throw new Error(`feed consumer ${consumer.id} has no push endpoint`);
  const done = new Set<number>();
  const groups = new Map<string, StoredEvent[]>();
  for (const event of events) {
    if (!visibleTo(event, consumer.id)) {
      done.add(event.seq);
      continue;
    }
    const key = orderingKey(event);
    const group = groups.get(key);
    if (group) group.push(event);
    else groups.set(key, [event]);
  }
  let failure: string | undefined;
  let delivered = 0;
  let rejected = 0;
  let lastRejection: WindowResult['lastRejection'];
  const deliverGroup = async (group: StoredEvent[]) => {
    for (const event of group) {
      if (failure || Date.now() >= deadline) return;
      const result = await pushSet(endpoint, await signEvent(event, consumer.id), settings.requestTimeoutMs);
      if (result.outcome === 'failed') {
        failure ??= result.error;
        return;
      }
      if (result.outcome === 'rejected') {
        rejected += 1;
        lastRejection = { seq: event.seq, jti: event.jti, error: result.error };
        log.warn('push receiver rejected an event', { consumer: consumer.id, seq: event.seq, jti: event.jti, error: result.error });
      } else {
        delivered += 1;
      }
      done.add(event.seq);
    }
  };
  const queue = [...groups.values()];
  const workers = Array.from({ length: Math.max(1, Math.min(settings.concurrency, queue.length)) }, async () => {
    for (let group = queue.shift(); group; group = queue.shift()) await deliverGroup(group);
  });
  await Promise.all(workers);
  return { through: contiguousThrough(consumer.cursor, events, done), delivered, rejected, lastRejection, failure };
};

/** The highest sequence number up to which every event of the window is done. */
export function contiguousThrough(cursor: number, events: StoredEvent[], done: Set<number>): number {
  let through = cursor;
  for (const event of events) {
    if (!done.has(event.seq)) break;
    through = event.seq;
  }
  return through;
}
