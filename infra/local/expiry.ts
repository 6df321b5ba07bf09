import { expireCertificates, type ExpiryResult } from '../../functions/services/certificate-expiry.js';
import { log } from '../../functions/lib/log.js';

export interface LocalExpiry {
  /** Run certificate expiry now, judged at `now` (default: the current time). */
  run(now?: Date): Promise<ExpiryResult>;
  stop(): Promise<void>;
}

/**
 * The local host's certificate expiry schedule: the same run as the `expiry`
 * Lambda function, once at start and then every `intervalMs` (default one
 * hour; EXPIRY_INTERVAL_MS overrides it). Runs of this process never overlap.
 */
export function startLocalExpiry(options: { intervalMs?: number } = {}): LocalExpiry {
  const intervalMs = options.intervalMs ?? Number(process.env.EXPIRY_INTERVAL_MS ?? 3_600_000);
  if (!Number.isInteger(intervalMs) || intervalMs < 1000) {
    throw new Error(`EXPIRY_INTERVAL_MS must be an integer of at least 1000 milliseconds, got ${process.env.EXPIRY_INTERVAL_MS}`);
  }
  let queue: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const run = (now = new Date()): Promise<ExpiryResult> => {
    const next = queue.then(() => expireCertificates({ now }));
    queue = next.catch(() => undefined);
    return next;
  };

  const scheduled = () => {
    if (stopped) return;
    run().then(
      (result) => {
        if (result.expired > 0 || result.failed > 0) log.info('certificate expiry run', { ...result });
      },
      (error) => log.error('certificate expiry run failed', { error }),
    );
  };
  const timer = setInterval(scheduled, intervalMs);
  timer.unref();
  scheduled();

  return {
    run,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await queue;
    },
  };
}
