import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { clientCache } from './oidc-client-cache.js';
import { oidcItemKey } from './oidc-items.js';

/**
 * Write one oidc-provider item without the provider, in the adapter's item
 * format. Used for client registrations, which carry no secondary index; the
 * provider's instances pick the change up within their client cache bound.
 */
export async function writeOidcPayload(model: string, id: string, payload: Record<string, unknown>): Promise<void> {
  await dynamo().send(
    new PutItemCommand({
      TableName: tableName(),
      Item: marshall({ ...oidcItemKey(model, id), kind: 'oidc', model, payload: JSON.stringify(payload) }),
    }),
  );
  if (model === 'Client') clientCache.delete(id);
}
