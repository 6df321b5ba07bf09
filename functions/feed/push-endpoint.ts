import { isIP } from 'node:net';
import { badRequest } from '../lib/errors.js';
import { SET_MEDIA_TYPE } from './security-event-token.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopback(hostname: string): boolean {
  if (LOOPBACK_HOSTS.has(hostname)) return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

/**
 * Check a push endpoint URL from a platform: HTTPS, no credentials or
 * fragment. Plain HTTP is accepted only for loopback receivers (127.0.0.0/8,
 * ::1, localhost), which exist only on a developer's or test machine.
 */
export function parsePushEndpoint(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw badRequest('FIELD_MISSING', 'endpoint is missing; send the HTTPS URL that receives Security Event Tokens', { field: 'endpoint' });
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw badRequest('FIELD_INVALID', `endpoint ${JSON.stringify(value)} is not an absolute URL`, { field: 'endpoint' });
  }
  if (url.username || url.password) {
    throw badRequest('FIELD_INVALID', 'endpoint must not carry a user name or password; the receiver verifies each SET signature instead', { field: 'endpoint' });
  }
  if (url.hash) throw badRequest('FIELD_INVALID', `endpoint ${url.href} has a fragment; remove it`, { field: 'endpoint' });
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw badRequest('FIELD_INVALID', `endpoint ${url.href} uses http; use https (plain http is accepted only for loopback test receivers)`, { field: 'endpoint' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw badRequest('FIELD_INVALID', `endpoint ${url.href} uses ${url.protocol}; use https`, { field: 'endpoint' });
  }
  if (url.href.length > 2000) throw badRequest('FIELD_INVALID', `endpoint has ${url.href.length} characters; at most 2000 are allowed`, { field: 'endpoint' });
  return url.href;
}

export type PushResult = { outcome: 'accepted' } | { outcome: 'rejected'; error: string } | { outcome: 'failed'; error: string };

/**
 * Deliver one SET by HTTP POST (RFC 8935 section 2). Any 2xx is accepted.
 * A 400 means the receiver found the SET invalid (RFC 8935 section 2.3): sending
 * it again cannot help, so it is reported as rejected. Every other answer,
 * a timeout or a network error is a failure to be retried.
 */
export async function pushSet(endpoint: string, token: string, timeoutMs: number): Promise<PushResult> {
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': SET_MEDIA_TYPE, accept: 'application/json' },
      body: token,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { outcome: 'failed', error: `POST ${endpoint} failed: ${cause ?? (error as Error).name}: ${(error as Error).message}` };
  }
  const text = await response.text().catch(() => '');
  if (response.status >= 200 && response.status < 300) return { outcome: 'accepted' };
  const detail = text.slice(0, 200);
  if (response.status === 400) return { outcome: 'rejected', error: `receiver rejected the SET: ${detail}` };
  return { outcome: 'failed', error: `POST ${endpoint} returned HTTP ${response.status}${detail ? `: ${detail}` : ''}` };
}
