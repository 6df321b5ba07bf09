import { onEventsCommitted, readFeedHead } from '../../functions/db/events.js';
import { ensureConsumer, listConsumers } from '../../functions/db/push-subscriptions.js';
import { INTERNAL_CONSUMERS, handlerFor } from '../../functions/feed/consumers.js';
import { onLoginRecorded } from '../../functions/db/login-context.js';
import { publishLoginEvents } from '../../functions/feed/login-outbox.js';
import { dispatcherSettings, runConsumer, type DispatcherSettings, type RunOptions } from '../../functions/feed/dispatcher.js';
import { setWaker } from '../../functions/feed/wake.js';
import { log } from '../../functions/lib/log.js';

export interface LocalDispatcher {
  /** Run delivery for these consumers now (or after `delayMs`). */
  wake(consumerIds: string[], delayMs?: number): void;
  stop(): Promise<void>;
}

interface ConsumerState {
  running?: Promise<void>;
  /** A wake-up arrived during the current run, so it runs once more. */
  again: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * The local host's dispatcher: the same delivery core as the AWS Lambda
 * functions, driven in-process. Commits in this process wake every consumer at
 * once; a poll of the feed head every `pollMs` finds commits made by other
 * processes and consumers created elsewhere.
 */
export async function startLocalDispatcher(options: { pollMs?: number; settings?: DispatcherSettings; run?: RunOptions } = {}): Promise<LocalDispatcher> {
  const pollMs = options.pollMs ?? 1000;
  // Hold a caught-up consumer's lease for a second of quiet and save cursors at most once a second:
  // with many consumers, one lease and one write per commit each would saturate DynamoDB Local.
  const runOptions: RunOptions = options.run ?? { lingerMs: 1000, checkpointMs: 1000 };
  const settings = options.settings ?? dispatcherSettings();
  const states = new Map<string, ConsumerState>();
  const known = new Set<string>();
  let stopped = false;

  const head = await readFeedHead();
  for (const id of INTERNAL_CONSUMERS) await ensureConsumer(id, head);
  const refreshConsumers = async () => {
    for (const consumer of await listConsumers()) known.add(consumer.id);
  };
  await refreshConsumers();

  const state = (id: string) => {
    let current = states.get(id);
    if (!current) {
      current = { again: false };
      states.set(id, current);
    }
    return current;
  };

  const run = async (id: string, current: ConsumerState) => {
    for (;;) {
      current.again = false;
      let retryAt: number | undefined;
      let repeat = false;
      try {
        const outcome = await runConsumer(id, handlerFor(id), settings, runOptions);
        if (outcome.state === 'gone') known.delete(id);
        if (outcome.state === 'retry') retryAt = outcome.retryAt;
        repeat = outcome.state === 'budget' || outcome.state === 'lost';
      } catch (error) {
        log.error('feed dispatcher run failed', { consumer: id, error });
        retryAt = Date.now() + settings.retryBaseMs;
      }
      if (stopped) return;
      if (repeat || current.again) continue;
      if (retryAt !== undefined) schedule(id, retryAt - Date.now());
      return;
    }
  };

  const wakeOne = (id: string) => {
    if (stopped) return;
    known.add(id);
    const current = state(id);
    if (current.running) {
      current.again = true;
      return;
    }
    current.running = run(id, current).finally(() => {
      current.running = undefined;
    });
  };

  const schedule = (id: string, delayMs: number) => {
    const current = state(id);
    clearTimeout(current.timer);
    current.timer = setTimeout(() => {
      current.timer = undefined;
      wakeOne(id);
    }, Math.max(0, delayMs));
  };

  const wake = (ids: string[], delayMs = 0) => {
    for (const id of ids) {
      if (delayMs > 0) schedule(id, delayMs);
      else wakeOne(id);
    }
  };

  setWaker(async (ids, delayMs) => wake(ids, delayMs));
  const unsubscribe = onEventsCommitted(() => wake([...known]));
  // Logins wait in an outbox; on AWS the table stream and the sweep publish them, here a login or a poll does.
  let publishing: Promise<unknown> | undefined;
  const publishLogins = () => {
    if (stopped) return;
    const run = publishLoginEvents().catch((error) => log.warn('login outbox publish failed', { error }));
    publishing = run;
  };
  const unsubscribeLogins = onLoginRecorded(publishLogins);
  publishLogins();
  let lastHead = head;
  let polling = false;
  const poller = setInterval(() => {
    if (polling) return;
    polling = true;
    void (async () => {
      try {
        await refreshConsumers();
        publishLogins();
        const current = await readFeedHead();
        if (current !== lastHead) {
          lastHead = current;
          wake([...known]);
        }
      } catch (error) {
        log.warn('feed dispatcher poll failed', { error });
      } finally {
        polling = false;
      }
    })();
  }, pollMs);
  poller.unref();
  wake([...known]);

  return {
    wake,
    stop: async () => {
      stopped = true;
      clearInterval(poller);
      unsubscribe();
      unsubscribeLogins();
      await publishing;
      setWaker(undefined);
      for (const current of states.values()) clearTimeout(current.timer);
      await Promise.all([...states.values()].map((current) => current.running));
    },
  };
}
