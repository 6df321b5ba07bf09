import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { oidcItemKey } from './oidc-items.js';
import { queryIndex } from './query.js';

/** One authorization of an oidc-provider session: the session id (`sid`) and grant a client got. */
export interface SessionAuthorization {
  sid?: string;
  grantId?: string;
}

/** A live oidc-provider session read from the table, with the payload text it was read with. */
export interface StoredSession {
  id: string;
  payload: Record<string, unknown> & { accountId?: string; authorizations?: Record<string, SessionAuthorization> };
  /** The stored payload JSON, which a conditional write compares to detect a change made meanwhile. */
  payloadText: string;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Read one session in the adapter's item format (oidc/adapter.ts), or undefined when it is absent or expired. */
export async function readSession(id: string): Promise<StoredSession | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(oidcItemKey('Session', id)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const item = unmarshall(result.Item);
  if (typeof item.ttl === 'number' && item.ttl <= nowSeconds()) return undefined;
  const payloadText = String(item.payload);
  return { id, payload: JSON.parse(payloadText) as StoredSession['payload'], payloadText };
}

/**
 * Return the live sessions of an OIDC subject, with their ids, so that they can
 * be ended when the enterprise's certificate or credential is revoked. Sessions
 * are found through the adapter's gsi2 entry `OIDCACCOUNT#<sub>`.
 */
export async function findSessionsByAccount(accountId: string): Promise<StoredSession[]> {
  const ids: string[] = [];
  for (const item of await queryIndex('gsi2', `OIDCACCOUNT#${accountId}`)) ids.push(String(unmarshall(item).gsi2sk).slice('Session#'.length));
  const sessions: StoredSession[] = [];
  // Index reads are eventually consistent, so each session is read again for its current state.
  for (const id of ids) {
    const session = await readSession(id);
    if (session && session.payload.accountId === accountId) sessions.push(session);
  }
  return sessions;
}

/**
 * Remove the authorizations of `clientIds` from a session, and delete the
 * session when none is left. The write is conditional on the payload that was
 * read, so a login in the same browser that changed the session meanwhile is
 * not overwritten: the session is read again and the removal retried. Expiry
 * and index attributes stay as the provider wrote them. Returns false when the
 * session no longer exists.
 */
export async function removeSessionAuthorizations(session: StoredSession, clientIds: string[]): Promise<boolean> {
  let current: StoredSession | undefined = session;
  for (let attempt = 1; attempt <= 5 && current; attempt += 1) {
    const authorizations = { ...(current.payload.authorizations ?? {}) };
    for (const clientId of clientIds) delete authorizations[clientId];
    const key = marshall(oidcItemKey('Session', current.id));
    const condition = { ConditionExpression: 'payload = :read', ExpressionAttributeValues: marshall({ ':read': current.payloadText }) };
    try {
      if (Object.keys(authorizations).length === 0) {
        await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: key, ...condition }));
      } else {
        const payload = JSON.stringify({ ...current.payload, authorizations });
        await dynamo().send(
          new UpdateItemCommand({
            TableName: tableName(),
            Key: key,
            UpdateExpression: 'SET payload = :payload',
            ConditionExpression: condition.ConditionExpression,
            ExpressionAttributeValues: marshall({ ':read': current.payloadText, ':payload': payload }),
          }),
        );
      }
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      current = await readSession(current.id);
    }
  }
  if (!current) return false;
  // The session id is the session cookie's value, so it stays out of the message.
  throw new Error(`a session of ${String(current.payload.accountId)} kept changing while the authorizations of ${clientIds.join(', ')} were removed; the next feed run retries`);
}
