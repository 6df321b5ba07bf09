import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConditionalCheckFailedException, PutItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { dynamo } from '../db/client.js';
import { ConditionFailed, commitWithEvents, type DomainEvent } from '../db/events.js';
import { loginOutboxEntry, notifyLoginRecorded, putLoginContext, type LoginContext } from '../db/login-context.js';
import { readOidcPayload } from '../db/oidc-items.js';
import { config } from '../lib/config.js';
import { ApiError } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import type { HttpEvent } from '../lib/http.js';
import { log } from '../lib/log.js';
import { providerCookieKeys } from '../lib/provider-secrets.js';
import { GRANT_TTL_SECONDS } from '../../oidc/ttl.js';
import type { LoginTarget } from './login-challenge.js';
import { audienceOf, refusedScopes, type Audience } from './login-policy.js';

/** URL of the provider's step that ends interaction `uid` with the login recorded for it. */
export const finishUrl = (uid: string) => `${config().issuer}/interaction/${encodeURIComponent(uid)}/finish`;

/** A login interaction of the provider, as read from the table without the provider. */
export interface PendingInteraction {
  uid: string;
  clientId: string;
  /** The authorization request's parameters (client_id, scope, acr_values, ...). */
  params: Record<string, unknown>;
  audience: Audience;
}

// Names of the provider's interaction cookie and its signature (oidc-provider 9 defaults).
const INTERACTION_COOKIE = '_interaction';

function cookieValue(event: HttpEvent, name: string): string | undefined {
  const pairs = event.cookies ?? (event.headers?.cookie ?? '').split(/;\s*/);
  for (const pair of pairs) {
    const index = pair.indexOf('=');
    if (index > 0 && pair.slice(0, index).trim() === name) return pair.slice(index + 1).trim();
  }
  return undefined;
}

/**
 * Check the interaction cookie as oidc-provider does (koa's signed cookies:
 * keygrip HMAC-SHA1 of "name=value", base64url without padding, by any of the
 * cookie keys).
 */
async function hasInteractionCookie(event: HttpEvent, uid: string): Promise<boolean> {
  const value = cookieValue(event, INTERACTION_COOKIE);
  const signature = Buffer.from(cookieValue(event, `${INTERACTION_COOKIE}.sig`) ?? '', 'utf8');
  if (value !== uid || signature.length === 0) return false;
  for (const key of await providerCookieKeys()) {
    const expected = Buffer.from(createHmac('sha1', key).update(`${INTERACTION_COOKIE}=${value}`).digest('base64url'), 'utf8');
    if (expected.length === signature.length && timingSafeEqual(expected, signature)) return true;
  }
  return false;
}

/**
 * Find the login interaction `uid` that this browser started: its cookie must
 * be present and signed with the provider's cookie keys, and the interaction
 * must exist and not have expired. The provider checks the same cookie again
 * at the finish step.
 */
export async function pendingInteraction(event: HttpEvent, uid: string): Promise<PendingInteraction> {
  const payload = (await hasInteractionCookie(event, uid)) ? await readOidcPayload('Interaction', uid) : undefined;
  const params = payload?.params as Record<string, unknown> | undefined;
  if (!payload || !params || typeof params.client_id !== 'string' || (typeof payload.exp === 'number' && payload.exp <= Math.floor(Date.now() / 1000))) {
    throw interactionExpired();
  }
  return { uid, clientId: params.client_id, params, audience: audienceOf(params.client_id) };
}

const interactionExpired = () =>
  new ApiError(400, 'INTERACTION_EXPIRED', 'this sign-in has expired or was opened in another browser; go back to the trading platform and start again');

/** Check that this browser sent the provider's signed interaction cookie for `uid`, without reading the interaction. */
export async function requireInteractionCookie(event: HttpEvent, uid: string): Promise<void> {
  if (!(await hasInteractionCookie(event, uid))) throw interactionExpired();
}

/** Build the pending interaction from what a login challenge names (see login-challenge.ts). */
export function interactionOf(target: LoginTarget): PendingInteraction {
  return { uid: target.uid, clientId: target.clientId, params: { client_id: target.clientId, scope: target.scope }, audience: audienceOf(target.clientId) };
}

/** Write a transaction's single Put as a plain conditional PutItem, which costs less than a transaction. */
async function putAlone(item: TransactWriteItem): Promise<void> {
  const put = item.Put!;
  await dynamo().send(new PutItemCommand({ TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression }));
}

/** A login that a function has verified, to be recorded for its interaction. */
export interface VerifiedLogin {
  accountId: string;
  context: Omit<LoginContext, 'grantId' | 'accountId' | 'clientId' | 'authenticatedAt' | 'expiresAt'>;
  /** Items that must commit with the login (a passkey's counter update comes first). */
  items: TransactWriteItem[];
  eventData: Record<string, unknown>;
}

/**
 * Record a verified login for its interaction and return where the browser
 * goes next: the provider's finish step. The caller's items and the login
 * context (keyed by the interaction uid, and only if none exists) with its
 * pending login event commit together. A second submission for the same
 * interaction therefore records nothing and fails with LOGIN_ALREADY_RECORDED.
 * A request for a scope that the account kind may not have records nothing:
 * the finish step ends it with invalid_scope.
 */
export async function recordLogin(interaction: PendingInteraction, login: VerifiedLogin): Promise<{ redirectTo: string }> {
  const refused = refusedScopes(interaction.audience, interaction.params);
  if (refused.length > 0) {
    log.warn('requested scope not grantable to the account', { clientId: interaction.clientId, refused, audience: interaction.audience });
    return { redirectTo: finishUrl(interaction.uid) };
  }
  const now = new Date();
  const authenticatedAt = Math.floor(now.getTime() / 1000);
  const context: LoginContext = {
    grantId: interaction.uid,
    accountId: login.accountId,
    clientId: interaction.clientId,
    ...login.context,
    authenticatedAt,
    expiresAt: authenticatedAt + GRANT_TTL_SECONDS,
  };
  const event: DomainEvent = {
    type: EVENT_TYPES.login,
    creditCode: login.context.creditCode,
    data: { ...login.eventData, clientId: interaction.clientId, method: login.context.method, authenticatedAt: now.toISOString() },
  };
  // The login event waits in the outbox, so the login does not queue for the feed head. Its publisher
  // appends the event and counts the login in the daily statistics.
  const put = putLoginContext(context, loginOutboxEntry(context.grantId, now.getTime(), event));
  try {
    if (login.items.length === 0) await putAlone(put);
    else await commitWithEvents([...login.items, put], []);
    notifyLoginRecorded();
  } catch (error) {
    if ((error instanceof ConditionFailed && error.index === login.items.length) || error instanceof ConditionalCheckFailedException) {
      throw new ApiError(
        409,
        'LOGIN_ALREADY_RECORDED',
        `sign-in ${interaction.uid} already has a recorded login, so this repeated submission was not recorded; continue with the first one, or go back to the trading platform and start again`,
      );
    }
    throw error;
  }
  return { redirectTo: finishUrl(interaction.uid) };
}
