import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import type { DomainEvent } from './events.js';
import { queryIndex } from './query.js';

/**
 * How an account logged in, kept per OIDC grant so that the ID token and
 * userinfo can name the certificate (x5t#S256) or passkey used. The function
 * that verifies a login records it under the login interaction's uid, and the
 * provider's finish step creates the grant with that uid as its id.
 */
export interface LoginContext {
  grantId: string;
  /** The account's subject; absent in contexts recorded before it was stored. */
  accountId?: string;
  /** The client the login interaction was for; absent in contexts recorded before it was stored. */
  clientId?: string;
  /** The enterprise that logged in; absent for operator logins. */
  creditCode?: string;
  /** The operator that logged in, for admin console logins. */
  operatorSub?: string;
  method: 'certificate' | 'passkey';
  amr: string[];
  acr: string;
  /** base64url SHA-256 of the certificate's DER, for certificate logins. */
  x5tS256?: string;
  credentialId?: string;
  /** When the login happened, in seconds since the epoch. */
  authenticatedAt: number;
  expiresAt: number;
}

export const loginContextKey = (grantId: string) => ({ pk: `LOGIN#${grantId}`, sk: 'LOGIN' });
const key = loginContextKey;
const credentialIndexKey = (credentialId: string) => `LOGINWAC#${credentialId}`;

/**
 * Transaction item that stores a login context, with `extra` attributes (the
 * login event waiting in the outbox). The put fails when a context with that
 * id exists, so one login interaction records at most one login: a replayed,
 * repeated or concurrent submission fails the whole transaction. Passkey
 * logins are indexed by credential, so that revoking the credential can find
 * and end the grants it opened.
 */
export function putLoginContext(context: LoginContext, extra: Record<string, unknown> = {}): TransactWriteItem {
  const index = context.credentialId ? { gsi2pk: credentialIndexKey(context.credentialId), gsi2sk: context.grantId } : {};
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...extra, ...key(context.grantId), kind: 'login-context', ...index, ...context, ttl: context.expiresAt }, { removeUndefinedValues: true }),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/**
 * Login contexts are written once, at login, and never changed, so each
 * instance keeps the ones it has read (bounded; an entry still honours its
 * expiry). Ending a login revokes its grant and tokens, not this record.
 */
const cache = new Map<string, LoginContext>();
const CACHE_ENTRIES = 10_000;

/** Keep a login context this instance has just committed, so the token and userinfo requests need not read it. */
export function rememberLoginContext(context: LoginContext): void {
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(context.grantId, context);
}

/** Forget the cached login contexts; tests that rewrite a stored context call it. */
export function clearLoginContextCache(): void {
  cache.clear();
}

/** Read a login context, from this instance's cache when it has it; expired contexts count as absent. */
export async function getLoginContext(grantId: string): Promise<LoginContext | undefined> {
  const now = Math.floor(Date.now() / 1000);
  const cached = cache.get(grantId);
  if (cached) return cached.expiresAt > now ? cached : undefined;
  return readLoginContext(grantId);
}

/** Read a login context from the table with a consistent read, bypassing the cache, and cache it. */
export async function readLoginContext(grantId: string): Promise<LoginContext | undefined> {
  const now = Math.floor(Date.now() / 1000);
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(key(grantId)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const { pk, sk, kind, ttl, gsi2pk, gsi2sk, gsi3pk, gsi3sk, outboxEvent, ...context } = unmarshall(result.Item);
  if ((context as LoginContext).expiresAt <= now) return undefined;
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(grantId, context as LoginContext);
  return context as LoginContext;
}

/** Grant IDs of the logins made with a WebAuthn credential that have not expired. */
export async function grantsOpenedByCredential(credentialId: string): Promise<string[]> {
  const grants: string[] = [];
  for (const item of await queryIndex('gsi2', credentialIndexKey(credentialId))) {
    const context = unmarshall(item) as LoginContext;
    if (context.expiresAt > Math.floor(Date.now() / 1000)) grants.push(context.grantId);
  }
  return grants;
}

/** Partition of the sparse gsi3 index that lists login contexts whose login event is not yet in the feed. */
export const LOGIN_OUTBOX_PARTITION = 'LOGINOUTBOX';

/** Index attributes and pending event of a login context that waits in the outbox (see functions/feed/login-outbox.ts). */
export function loginOutboxEntry(grantId: string, authenticatedAtMs: number, event: DomainEvent): Record<string, unknown> {
  return { gsi3pk: LOGIN_OUTBOX_PARTITION, gsi3sk: `${authenticatedAtMs.toString().padStart(15, '0')}#${grantId}`, outboxEvent: event };
}

type LoginListener = () => void;
const listeners = new Set<LoginListener>();

/** Register a function called after every login this process records; the local host publishes the outbox from it. */
export function onLoginRecorded(listener: LoginListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tell this process's listeners that a login entered the outbox. */
export function notifyLoginRecorded(): void {
  for (const listener of listeners) listener();
}
