import type { Context, ScheduledEvent } from 'aws-lambda';
import { expireCertificates, type ExpiryResult } from '../services/certificate-expiry.js';
import { log } from '../lib/log.js';

/** Time kept back from the function timeout, so the binding in progress finishes before Lambda stops it. */
const SAFETY_MARGIN_MS = 20_000;

/**
 * Lambda entry point of the scheduled certificate expiry run: marks the
 * bindings whose certificate has passed its notAfter expired, with a
 * certificate-expired event each. A run stopped by its time limit leaves the
 * rest in the expiry index for the next run.
 */
export async function handler(_event: ScheduledEvent, context?: Context): Promise<ExpiryResult> {
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS : undefined;
  const result = await expireCertificates({ now: new Date(), deadline });
  if (result.complete && result.failed === 0) log.info('certificate expiry run finished', { ...result });
  else log.warn('certificate expiry run left bindings for the next run', { ...result });
  return result;
}
