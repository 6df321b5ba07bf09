import type { ScheduledEvent } from 'aws-lambda';
import { refreshCrls, type CrlRefreshReport } from '../services/crl-refresh.js';

/**
 * Lambda entry point of the hourly CRL refresh (an EventBridge schedule). A
 * failure of one CA or URL is logged and reported, not thrown, so the other
 * CAs are refreshed and the schedule does not retry the whole run.
 */
export async function handler(_event?: ScheduledEvent): Promise<CrlRefreshReport> {
  return refreshCrls();
}
