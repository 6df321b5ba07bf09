import { QueryCommand, type AttributeValue, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/** Run a query and return the items of every page. */
async function queryAllPages(input: Omit<QueryCommandInput, 'ExclusiveStartKey'>): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo().send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Return every item of a GSI partition, following pagination (the index is eventually consistent). */
export function queryIndex(index: 'gsi1' | 'gsi2', partition: string): Promise<Record<string, AttributeValue>[]> {
  return queryAllPages({
    TableName: tableName(),
    IndexName: index,
    KeyConditionExpression: `${index}pk = :pk`,
    ExpressionAttributeValues: marshall({ ':pk': partition }),
  });
}

/** Return every item of a table partition, following pagination, with consistent reads. */
export function queryPartition(partition: string): Promise<Record<string, AttributeValue>[]> {
  return queryAllPages({
    TableName: tableName(),
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: marshall({ ':pk': partition }),
    ConsistentRead: true,
  });
}
