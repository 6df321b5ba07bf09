import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { commitWithEvents, ConditionFailed, readFeedHead } from '../db/events.js';
import { getPlatformRecord, listPlatformRecords, putPlatformRecord, type PlatformRecord } from '../db/platform-clients.js';
import { getConsumer, listConsumers, putConsumer, type FeedConsumer } from '../db/push-subscriptions.js';
import { deleteClientCredentialsTokens } from '../db/oidc-client-tokens.js';
import { checkPushEndpoint, parsePushEndpoint } from '../feed/push-endpoint.js';
import { ApiError, badRequest, conflict, notFound } from '../lib/errors.js';
import { EVENT_TYPES, OPERATORS_ONLY } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { findPlatformClient, savePlatformClient, type PlatformClient } from './clients.js';
import { FIRST_PARTY_CLIENT_NAMES } from './first-party-clients.js';

const CLIENT_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const MAX_REDIRECT_URIS = 10;
const MAX_URI_LENGTH = 2000;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Scope of a platform's logins; platforms that use the feed also get feed:read for their client credentials tokens. */
const LOGIN_SCOPE = 'openid enterprise';
const FEED_SCOPE = 'feed:read';

type Fields = Record<string, unknown>;

export interface PlatformInput {
  clientId: string;
  name: string;
  redirectUris: string[];
  backchannelLogoutUri?: string;
  pushEndpoint?: string;
  usesFeed: boolean;
}

const invalid = (field: string, message: string) => badRequest('FIELD_INVALID', `${field} ${message}`, { field });

function isLoopback(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || (isIP(hostname) === 4 && hostname.startsWith('127.'));
}

/** Check a URI the provider calls or redirects to: absolute HTTPS without a fragment, or plain HTTP on a loopback host (test receivers). */
function webUri(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw badRequest('FIELD_MISSING', `${field} is missing; give an absolute https URL`, { field });
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid(field, `${JSON.stringify(value)} is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw invalid(field, `${url.href} uses ${url.protocol.slice(0, -1)}; use https (plain http is accepted only for localhost)`);
  }
  if (url.hash) throw invalid(field, `${url.href} has a fragment; remove the part after #`);
  // Redirect URIs are compared exactly (RFC 6749 section 3.1.2), so a wildcard would never match a real callback.
  if (url.hostname.includes('*') || value.includes('*')) throw invalid(field, `${value.trim()} contains *; wildcards are not supported, register each exact URL`);
  if (url.username || url.password) throw invalid(field, `${url.href} carries a user name or password; remove them`);
  if (url.href.length > MAX_URI_LENGTH) throw invalid(field, `has ${url.href.length} characters; at most ${MAX_URI_LENGTH} are allowed`);
  return url.href;
}

/** Check the push endpoint with the feed's rules, naming this API's field in the error. */
function pushEndpointField(value: unknown): string {
  try {
    return parsePushEndpoint(value);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    throw new ApiError(error.status, error.code, `push_endpoint: ${error.message}`, { ...error.details, field: 'push_endpoint' });
  }
}

/** Validate a platform registration from the admin API (OAuth dynamic registration field names, RFC 7591). */
export function parsePlatformInput(body: Fields): PlatformInput {
  const clientId = body.client_id;
  if (clientId === undefined || clientId === '') throw badRequest('FIELD_MISSING', 'client_id is missing; choose 2 to 63 lower-case letters, digits and dashes, for example land-trading', { field: 'client_id' });
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    throw invalid('client_id', `${JSON.stringify(clientId)} must be 2 to 63 lower-case letters, digits and dashes, starting with a letter or digit`);
  }
  if (clientId in FIRST_PARTY_CLIENT_NAMES) throw conflict('CLIENT_EXISTS', `client_id ${clientId} is a built-in client of this service; choose another`);

  const name = body.client_name;
  if (name === undefined || (typeof name === 'string' && name.trim() === '')) throw badRequest('FIELD_MISSING', 'client_name is missing; give the platform name enterprises see on the login page', { field: 'client_name' });
  if (typeof name !== 'string') throw invalid('client_name', `must be a string, got ${typeof name}`);
  if (name.trim().length > 100) throw invalid('client_name', `has ${name.trim().length} characters; at most 100 are allowed`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid('client_name', 'contains control characters');

  const uris = body.redirect_uris;
  if (uris === undefined || (Array.isArray(uris) && uris.length === 0)) {
    throw badRequest('FIELD_MISSING', 'redirect_uris is missing; give at least one https URL where the platform receives the login response', { field: 'redirect_uris' });
  }
  if (!Array.isArray(uris)) throw invalid('redirect_uris', 'must be an array of URLs');
  if (uris.length > MAX_REDIRECT_URIS) throw invalid('redirect_uris', `has ${uris.length} entries; at most ${MAX_REDIRECT_URIS} are allowed`);
  const redirectUris = [...new Set(uris.map((uri, i) => webUri(uri, `redirect_uris[${i}]`)))];

  const backchannel = body.backchannel_logout_uri;
  const backchannelLogoutUri = backchannel === undefined || backchannel === '' ? undefined : webUri(backchannel, 'backchannel_logout_uri');
  const push = body.push_endpoint;
  const pushEndpoint = push === undefined || push === '' ? undefined : pushEndpointField(push);
  const feed = body.uses_feed ?? false;
  if (typeof feed !== 'boolean') throw invalid('uses_feed', 'must be true or false');
  // A platform that receives pushed events also manages its endpoint through the feed API.
  return { clientId, name: name.trim(), redirectUris, backchannelLogoutUri, pushEndpoint, usesFeed: feed || pushEndpoint !== undefined };
}

/** The provider's Client registration for a platform record, with `secret`. */
function clientMetadata(record: PlatformRecord, secret: string): PlatformClient {
  return {
    client_id: record.clientId,
    client_secret: secret,
    client_name: record.name,
    redirect_uris: record.redirectUris,
    grant_types: record.usesFeed ? ['authorization_code', 'client_credentials'] : ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: record.usesFeed ? `${LOGIN_SCOPE} ${FEED_SCOPE}` : LOGIN_SCOPE,
    ...(record.backchannelLogoutUri ? { backchannel_logout_uri: record.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
  };
}

const newSecret = () => randomBytes(32).toString('base64url');

/**
 * Build the delivery state of a platform's push endpoint as operators see it,
 * without the internal lease fields. An endpoint that responds but rejected the
 * last event it received (nothing delivered since) is shown as `rejecting`.
 * Rejected events are skipped, so the consumer stays active and would
 * otherwise look healthy.
 */
export function deliveryView(consumer: FeedConsumer, head: number) {
  const rejection = consumer.lastRejection;
  const rejecting = consumer.status === 'active' && rejection !== undefined && (!consumer.lastDeliveredAt || (rejection.at !== undefined && rejection.at > consumer.lastDeliveredAt));
  return {
    endpoint: consumer.endpoint,
    status: rejecting ? ('rejecting' as const) : consumer.status,
    cursor: consumer.cursor,
    head,
    behind: head - consumer.cursor,
    attempts: consumer.attempts,
    delivered: consumer.delivered,
    rejected: consumer.rejected,
    lastDeliveredAt: consumer.lastDeliveredAt,
    lastError: consumer.lastError,
    lastRejection: rejection ? { seq: rejection.seq, error: rejection.error, at: rejection.at } : undefined,
    failingSince: consumer.failingSince,
    nextAttemptAt: consumer.nextAttemptAt ? new Date(consumer.nextAttemptAt).toISOString() : undefined,
  };
}

/** A platform as operators see it: the record (never the secret) and its push delivery state, if it has an endpoint. */
export function platformView(record: PlatformRecord, consumer: FeedConsumer | undefined, head: number) {
  return {
    client_id: record.clientId,
    client_name: record.name,
    redirect_uris: record.redirectUris,
    backchannel_logout_uri: record.backchannelLogoutUri,
    uses_feed: record.usesFeed,
    scope: record.usesFeed ? `${LOGIN_SCOPE} ${FEED_SCOPE}` : LOGIN_SCOPE,
    version: record.version,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    updatedAt: record.updatedAt,
    secretRotatedAt: record.secretRotatedAt,
    delivery: consumer?.endpoint ? deliveryView(consumer, head) : undefined,
  };
}

export type PlatformView = ReturnType<typeof platformView>;

/**
 * Register a platform client. The record and its audit event commit first, in
 * one transaction that fails when the client id is taken, so two identical
 * requests register one platform. Then the provider's Client registration is
 * written, and the push endpoint when given, starting at the feed head.
 * Returns the view and the generated secret, which is stored only in the
 * Client registration and returned only here.
 */
export async function registerPlatform(input: PlatformInput, actor: string): Promise<{ platform: PlatformView; secret: string }> {
  // The same address rules as PUT /api/feed/push: no private, loopback or other non-public targets.
  if (input.pushEndpoint) await checkPushEndpointField(input.pushEndpoint);
  if (await findPlatformClient(input.clientId)) {
    throw conflict('CLIENT_EXISTS', `a client with client_id ${input.clientId} already exists; choose another client_id`);
  }

  const now = new Date().toISOString();
  const record: PlatformRecord = {
    clientId: input.clientId,
    name: input.name,
    redirectUris: input.redirectUris,
    backchannelLogoutUri: input.backchannelLogoutUri,
    usesFeed: input.usesFeed,
    version: 1,
    createdAt: now,
    createdBy: actor,
    updatedAt: now,
    secretRotatedAt: now,
  };
  try {
    await commitWithEvents([putPlatformRecord(record, undefined)], [changeEvent(record, 'registered', actor, input.pushEndpoint)]);
  } catch (error) {
    if (error instanceof ConditionFailed) throw conflict('CLIENT_EXISTS', `a platform with client_id ${input.clientId} is already registered; choose another client_id`);
    throw error;
  }

  const secret = newSecret();
  // NOTE: a failure between the commit above and this write leaves a record without a Client
  // registration. Rotating the secret writes the registration again from the record.
  await savePlatformClient(clientMetadata(record, secret));
  const head = await readFeedHead();
  const consumer = input.pushEndpoint ? await putConsumer(record.clientId, { endpoint: input.pushEndpoint, cursor: head }) : undefined;
  log.info('platform client registered', { clientId: record.clientId, usesFeed: record.usesFeed, pushEndpoint: input.pushEndpoint !== undefined, actor });
  return { platform: platformView(record, consumer, head), secret };
}

/**
 * Replace a platform's client secret, guarded by the record version the
 * operator read. The old secret stops working as soon as the provider reads
 * the new registration (within CLIENT_CACHE_SECONDS of functions/db/oidc-client-cache.ts).
 * Returns the new secret once; it is not logged or stored anywhere else.
 */
export async function rotatePlatformSecret(clientId: string, version: number, actor: string): Promise<{ platform: PlatformView; secret: string }> {
  const current = await getPlatformRecord(clientId);
  if (!current) throw notFound('PLATFORM_NOT_FOUND', `no platform with client_id ${clientId} was registered through the admin API; list them with GET /api/admin/clients`);
  if (current.version !== version) {
    throw conflict('PLATFORM_CHANGED', `platform ${clientId} is at version ${current.version}, not ${version}; reload it, check the change and rotate again`);
  }
  const now = new Date().toISOString();
  const next: PlatformRecord = { ...current, version: current.version + 1, updatedAt: now, secretRotatedAt: now };
  try {
    await commitWithEvents([putPlatformRecord(next, version)], [changeEvent(next, 'secret-rotated', actor)]);
  } catch (error) {
    if (error instanceof ConditionFailed) throw conflict('PLATFORM_CHANGED', `platform ${clientId} changed while its secret was rotated; reload it and rotate again`);
    throw error;
  }
  const secret = newSecret();
  // Settings made outside the admin API (for example post_logout_redirect_uris) are kept.
  // NOTE: the version check lets one of two concurrent rotations commit. A second rotation that
  // reads the new version and commits before this write lands can still be overwritten by it.
  const existing = await findPlatformClient(clientId);
  await savePlatformClient({ ...existing, ...clientMetadata(next, secret) });
  // Tokens obtained with the old secret end now, not when they expire. Tokens of enterprise logins stay: they need a login too.
  const tokensRevoked = await deleteClientCredentialsTokens(clientId);
  log.info('platform client secret rotated', { clientId, version: next.version, actor, tokensRevoked });
  const head = await readFeedHead();
  return { platform: platformView(next, await getConsumer(clientId), head), secret };
}

export async function getPlatform(clientId: string): Promise<PlatformView> {
  const record = await getPlatformRecord(clientId);
  if (!record) throw notFound('PLATFORM_NOT_FOUND', `no platform with client_id ${clientId} was registered through the admin API; list them with GET /api/admin/clients`);
  const [consumer, head] = await Promise.all([getConsumer(clientId), readFeedHead()]);
  return platformView(record, consumer, head);
}

/** Every platform registered through the admin API, by name, with its delivery state. */
export async function listPlatforms(): Promise<{ head: number; clients: PlatformView[] }> {
  const [records, consumers, head] = await Promise.all([listPlatformRecords(), listConsumers(), readFeedHead()]);
  const byId = new Map(consumers.map((consumer) => [consumer.id, consumer]));
  const clients = records.map((record) => platformView(record, byId.get(record.clientId), head)).sort((a, b) => a.client_name.localeCompare(b.client_name, 'zh-CN'));
  return { head, clients };
}

function changeEvent(record: PlatformRecord, change: 'registered' | 'secret-rotated', actor: string, pushEndpoint?: string) {
  return {
    type: EVENT_TYPES.platformClientChanged,
    audience: OPERATORS_ONLY,
    data: {
      clientId: record.clientId,
      name: record.name,
      change,
      version: record.version,
      redirectUris: record.redirectUris,
      usesFeed: record.usesFeed,
      ...(record.backchannelLogoutUri ? { backchannelLogoutUri: record.backchannelLogoutUri } : {}),
      ...(pushEndpoint ? { pushEndpoint } : {}),
      actor,
    },
  };
}

async function checkPushEndpointField(endpoint: string): Promise<void> {
  try {
    await checkPushEndpoint(endpoint);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    throw new ApiError(error.status, error.code, `push_endpoint: ${error.message}`, { ...error.details, field: 'push_endpoint' });
  }
}
