import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { queryIndex } from './query.js';

// Apart from oidc-grants.ts, so the admin function that rotates secrets is not granted BatchWriteItem.

/** Index partition (gsi1) of the client-credentials tokens issued to a client. */
export const clientCredentialsIndexKey = (clientId: string) => `OIDCCC#${clientId}`;

/**
 * Delete every client-credentials access token issued to `clientId`, so that
 * a rotated secret also ends the tokens obtained with the old one. Returns how
 * many were deleted.
 */
export async function deleteClientCredentialsTokens(clientId: string): Promise<number> {
  const items = await queryIndex('gsi1', clientCredentialsIndexKey(clientId));
  for (const item of items) {
    await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: marshall({ pk: unmarshall(item).pk, sk: 'OIDC' }) }));
  }
  return items.length;
}
