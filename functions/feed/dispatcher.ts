import { randomUUID } from 'node:crypto';
import { readEvents, waitForCommit, type StoredEvent } from '../db/events.js';
import {
  LeaseLost,
  acquireLease,
  dropLease,
  getConsumer,
  saveAndRelease,
  saveProgress,
  type FeedConsumer,
  type ProgressUpdate,
} from '../db/push-subscriptions.js';
import { EVENT_TYPES } from '../lib/event-types.js';
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

/** Outcome of processing one window of events. */
export interface WindowResult {
  /** Every event with a sequence number up to this one is processed. */
  through: number;
  delivered: number;
  rejected: number;
  lastRejection?: { seq: number; jti: string; error: string; at?: string };
  /** Set when an event could not be processed; the events after `through` are tried again later. */
  failure?: string;
}

/** Processor of a consumer's events: push to a platform, or a reaction inside the service. */
export type ConsumerHandler = (consumer: FeedConsumer, events: StoredEvent[], deadline: number, settings: DispatcherSettings) => Promise<WindowResult>;

/**
 * How a run ended. `idle`: the consumer caught up with the feed. `busy`:
 * another worker has the lease and will read the feed again. `retry`: a
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

/** Options of a driver for runConsumer; the defaults suit the queue-driven Lambda. */
export interface RunOptions {
  /**
   * After catching up, keep the lease and wait this long for further commits
   * in this process before letting go (ms). The local host sets it, so that a
   * burst of commits costs one lease instead of one per commit; on Lambda,
   * commits happen elsewhere and waiting would only cost time.
   */
  lingerMs?: number;
  /** Save the cursor at most this often while delivery succeeds (ms); failures, replays and the end of a run save at once. */
  checkpointMs?: number;
}

/**
 * Process the feed for one consumer from its cursor, one window at a time,
 * under a lease so that one worker at a time delivers to it: the shared core
 * of the local dispatcher and of the delivery Lambda. Delivery is at least
 * once: after a crash the events since the last saved cursor are sent again,
 * and so are the events after a failure within a window.
 */
export async function runConsumer(id: string, handler: ConsumerHandler, settings = dispatcherSettings(), options: RunOptions = {}): Promise<RunOutcome> {
  const lingerMs = options.lingerMs ?? 0;
  // Jitter spreads the saves of consumers that were woken together, so they do not all write at once.
  const checkpointMs = (options.checkpointMs ?? 0) * (0.5 + Math.random());
  const owner = randomUUID();
  let saved = await acquireLease(id, owner, settings.leaseMs);
  if (!saved) return { state: (await getConsumer(id)) ? 'busy' : 'gone' };
  const runEnds = Date.now() + settings.runBudgetMs;
  let lastSave = Date.now();
  let idleSince = Date.now();
  // Progress made since the last save.
  let cursor = saved.cursor;
  let pending: WindowResult = { through: cursor, delivered: 0, rejected: 0 };
  const flushUpdate = (): ProgressUpdate => ({
    cursor,
    deliveredDelta: pending.delivered,
    rejectedDelta: pending.rejected,
    leaseUntil: Date.now() + settings.leaseMs,
    status: 'active',
    attempts: 0,
    failingSince: undefined,
    nextAttemptAt: undefined,
    ...(pending.lastRejection ? { lastRejection: pending.lastRejection } : {}),
    ...(pending.delivered > 0 ? { lastDeliveredAt: new Date().toISOString() } : {}),
  });
  const save = async (update: ProgressUpdate) => {
    saved = await saveProgress(id, owner, saved!.cursor, update);
    pending = { through: cursor, delivered: 0, rejected: 0 };
    lastSave = Date.now();
  };
  try {
    for (;;) {
      if (saved.status === 'dead-letter') {
        await dropLease(id, owner);
        return { state: 'dead-letter' };
      }
      if (saved.nextAttemptAt !== undefined && saved.nextAttemptAt > Date.now()) {
        await dropLease(id, owner);
        return { state: 'retry', retryAt: saved.nextAttemptAt };
      }
      // Read before the feed: a wake-up after this point makes the release below fail.
      const wakeups = saved.wakeups;
      const page = await readEvents(cursor, settings.windowSize);
      if (page.events.length === 0) {
        const left = Math.min(idleSince + lingerMs, runEnds) - Date.now();
        if (left > 0) {
          await waitForCommit(left);
          continue;
        }
        const dirty = cursor !== saved.cursor || pending.delivered > 0 || pending.rejected > 0 || saved.status !== 'active';
        const update = dirty ? flushUpdate() : {};
        if (await saveAndRelease(id, owner, saved.cursor, wakeups, update)) return { state: 'idle' };
        // A wake-up arrived, or the lease or cursor changed: save what is done and look again.
        await save(flushUpdate());
        continue;
      }
      const deadline = Math.min(runEnds, Date.now() + settings.leaseMs / 2);
      const result = await handler({ ...saved, cursor }, page.events, deadline, settings);
      idleSince = Date.now();
      cursor = result.through;
      pending = {
        through: cursor,
        delivered: pending.delivered + result.delivered,
        rejected: pending.rejected + result.rejected,
        lastRejection: result.lastRejection ?? pending.lastRejection,
      };
      if (result.failure) {
        await save({ ...flushUpdate(), ...failureUpdate(saved, cursor, result.failure, settings) });
        await dropLease(id, owner);
        const failed = saved as FeedConsumer;
        // Logged on the first failure, then at attempts 2, 4, 8, ...: an outage of days stays a few dozen lines.
        if ((failed.attempts & (failed.attempts - 1)) === 0 || failed.status === 'dead-letter') {
          log.warn('feed delivery failed', { consumer: id, cursor: failed.cursor, attempts: failed.attempts, status: failed.status, error: result.failure });
        }
        return failed.status === 'dead-letter' ? { state: 'dead-letter' } : { state: 'retry', retryAt: failed.nextAttemptAt };
      }
      if (Date.now() >= runEnds) {
        await save(flushUpdate());
        await dropLease(id, owner);
        return { state: 'budget' };
      }
      if (Date.now() - lastSave >= checkpointMs) await save(flushUpdate());
    }
  } catch (error) {
    if (error instanceof LeaseLost) return { state: 'lost' };
    await dropLease(id, owner).catch(() => undefined);
    throw error;
  }
}

function failureUpdate(consumer: FeedConsumer, through: number, failure: string, settings: DispatcherSettings): ProgressUpdate {
  const now = Date.now();
  // Progress since the last failure counts as success: the run of failures starts again from here.
  const progressed = through > consumer.cursor;
  const attempts = progressed ? 1 : consumer.attempts + 1;
  const failingSince = progressed || !consumer.failingSince ? new Date(now).toISOString() : consumer.failingSince;
  const deadLetter = now - Date.parse(failingSince) >= settings.deadLetterAfterMs;
  return {
    status: deadLetter ? 'dead-letter' : 'failing',
    attempts,
    failingSince,
    nextAttemptAt: deadLetter ? undefined : now + retryDelay(attempts, settings),
    lastError: failure,
  };
}

/**
 * The keys within which events must arrive in order: the enterprise, else the
 * CA, else the whole feed. A certificates-imported event concerns its CA and
 * every enterprise it lists, so it takes all of their keys.
 */
function orderingKeys(event: StoredEvent): string[] {
  if (event.creditCode) return [`ENT#${event.creditCode}`];
  if (event.type === EVENT_TYPES.certificatesImported && Array.isArray(event.data.enterprises)) {
    const codes = (event.data.enterprises as { creditCode: string }[]).map((entry) => `ENT#${entry.creditCode}`);
    return event.caId ? [`CA#${event.caId}`, ...codes] : codes;
  }
  if (event.caId) return [`CA#${event.caId}`];
  return ['FEED'];
}

/**
 * Split a window into groups that may be delivered in parallel: events that
 * share an ordering key end up in one group, in feed order. An event with
 * several keys joins (and merges) the groups of all of them.
 */
export function orderedGroups(events: StoredEvent[]): StoredEvent[][] {
  type Group = { events: StoredEvent[]; keys: Set<string> };
  const groupOfKey = new Map<string, Group>();
  const groups = new Set<Group>();
  for (const event of events) {
    const keys = orderingKeys(event);
    const joined = [...new Set(keys.flatMap((key) => groupOfKey.get(key) ?? []))];
    const group: Group = joined[0] ?? { events: [], keys: new Set() };
    for (const other of joined.slice(1)) {
      group.events.push(...other.events);
      for (const key of other.keys) {
        group.keys.add(key);
        groupOfKey.set(key, group);
      }
      groups.delete(other);
    }
    if (joined.length > 1) group.events.sort((a, b) => a.seq - b.seq);
    group.events.push(event);
    for (const key of keys) {
      group.keys.add(key);
      groupOfKey.set(key, group);
    }
    groups.add(group);
  }
  return [...groups].map((group) => group.events);
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
  const visible: StoredEvent[] = [];
  for (const event of events) {
    if (visibleTo(event, consumer.id)) visible.push(event);
    else done.add(event.seq);
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
        lastRejection = { seq: event.seq, jti: event.jti, error: result.error, at: new Date().toISOString() };
        log.warn('push receiver rejected an event', { consumer: consumer.id, seq: event.seq, jti: event.jti, error: result.error });
      } else {
        delivered += 1;
      }
      done.add(event.seq);
    }
  };
  const queue = orderedGroups(visible);
  const workers = Array.from({ length: Math.max(1, Math.min(settings.concurrency, queue.length)) }, async () => {
    for (let group = queue.shift(); group; group = queue.shift()) await deliverGroup(group);
  });
  await Promise.all(workers);
  return { through: contiguousThrough(consumer.cursor, events, done), delivered, rejected, lastRejection, failure };
};

/** Return the highest sequence number up to which every event of the window is done. */
export function contiguousThrough(cursor: number, events: StoredEvent[], done: Set<number>): number {
  let through = cursor;
  for (const event of events) {
    if (!done.has(event.seq)) break;
    through = event.seq;
  }
  return through;
}
