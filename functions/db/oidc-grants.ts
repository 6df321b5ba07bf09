import { BatchWriteItemCommand, DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { oidcItemKey } from './oidc-items.js';
import { queryIndex } from './query.js';

/**
 * Delete every code and token issued under an OIDC grant, and with
 * `includeGrant` the grant itself, so their next use fails. This is the
 * adapter's revokeByGrantId, usable without bundling the provider.
 */
export async function deleteGrantItems(grantId: string, includeGrant = false): Promise<void> {
  const keys: Record<string, unknown>[] = [];
  for (const item of await queryIndex('gsi2', `OIDCGRANT#${grantId}`)) keys.push({ pk: unmarshall(item).pk, sk: 'OIDC' });
  for (let i = 0; i < keys.length; i += 25) {
    let requests = keys.slice(i, i + 25).map((key) => ({ DeleteRequest: { Key: marshall(key) } }));
    while (requests.length > 0) {
      const result = await dynamo().send(new BatchWriteItemCommand({ RequestItems: { [tableName()]: requests } }));
      requests = (result.UnprocessedItems?.[tableName()] ?? []) as typeof requests;
    }
  }
  if (includeGrant) await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: marshall(oidcItemKey('Grant', grantId)) }));
}
