import { log } from '../../functions/lib/log.js';
import { refreshCrls, type CrlRefreshReport } from '../../functions/services/crl-refresh.js';

export interface LocalCrlRefresh {
  /** Run the refresh now, after any run in progress, and return its report. */
  runOnce(): Promise<CrlRefreshReport>;
  stop(): Promise<void>;
}

/**
 * The local host's CRL refresh: the same code as the AWS Lambda function,
 * run every `intervalMs` (CRL_REFRESH_INTERVAL_SECONDS, default 3600, as the
 * hourly schedule on AWS). Runs never overlap within this process.
 */
export function startLocalCrlRefresh(options: { intervalMs?: number } = {}): LocalCrlRefresh {
  const intervalMs = options.intervalMs ?? Number(process.env.CRL_REFRESH_INTERVAL_SECONDS ?? 3600) * 1000;
  let running: Promise<CrlRefreshReport> | undefined;
  let stopped = false;

  const runOnce = async (): Promise<CrlRefreshReport> => {
    while (running) await running.catch(() => undefined);
    running = refreshCrls().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    if (stopped || running) return;
    runOnce().catch((error: Error) => log.error('CRL refresh run failed', { error }));
  }, intervalMs);
  timer.unref();

  return {
    runOnce,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
