import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { EXPIRY_INDEX_PARTITION, type CertificateBinding } from './certificates.js';
import { dynamo, tableName } from './client.js';

// A module of its own, so that only the functions that list a CA's bindings are granted queries of the expiry index.

/**
 * List the active bindings under CA profile `caId` from the expiry index
 * (gsi3), which contains every active binding. The query reads the whole index
 * and filters, so it suits rare operations such as distrusting a CA.
 */
export async function activeBindingsOfCa(caId: string): Promise<Pick<CertificateBinding, 'fingerprint' | 'creditCode'>[]> {
  const found: Pick<CertificateBinding, 'fingerprint' | 'creditCode'>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: 'gsi3',
        KeyConditionExpression: 'gsi3pk = :pk',
        FilterExpression: 'caId = :caId',
        ProjectionExpression: 'fingerprint, creditCode',
        ExpressionAttributeValues: marshall({ ':pk': EXPIRY_INDEX_PARTITION, ':caId': caId }),
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const { fingerprint, creditCode } = unmarshall(item);
      found.push({ fingerprint, creditCode });
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return found;
}
