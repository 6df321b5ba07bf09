import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/** Key of an oidc-provider model instance (token, client, session, ...) in the service table. */
export const oidcItemKey = (model: string, id: string) => ({ pk: `OIDC#${model}#${id}`, sk: 'OIDC' });

/**
 * Read one oidc-provider item without the provider: used by API handlers to
 * check access tokens and read client metadata with only GetItem permission.
 * Expired items are treated as absent.
 */
export async function readOidcPayload(model: string, id: string): Promise<Record<string, unknown> | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(oidcItemKey(model, id)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const item = unmarshall(result.Item);
  if (typeof item.ttl === 'number' && item.ttl <= Math.floor(Date.now() / 1000)) return undefined;
  const payload = JSON.parse(item.payload as string) as Record<string, unknown>;
  if (typeof item.consumed === 'number') payload.consumed = item.consumed;
  return payload;
}
