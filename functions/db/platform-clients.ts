import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { queryIndex } from './query.js';

/**
 * The operators' record of a platform client registered through the admin API.
 * The OIDC registration itself (with the secret) is the provider's Client item;
 * this record contains no secret. It exists because Client items cannot be listed
 * without a scan, and it carries the version that guards concurrent changes.
 */
export interface PlatformRecord {
  clientId: string;
  name: string;
  redirectUris: string[];
  backchannelLogoutUri?: string;
  /** Whether the platform reads the feed (scope feed:read with the client credentials grant). */
  usesFeed: boolean;
  /** Incremented on every change through the admin API. */
  version: number;
  createdAt: string;
  /** Operator subject (or admin client id) that registered the platform. */
  createdBy: string;
  updatedAt: string;
  secretRotatedAt?: string;
}

export const platformRecordKey = (clientId: string) => ({ pk: `PLATFORM#${clientId}`, sk: 'PLATFORM' });
const LIST_KEY = 'PLATFORMS';

export async function getPlatformRecord(clientId: string): Promise<PlatformRecord | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(platformRecordKey(clientId)), ConsistentRead: true }));
  return result.Item ? fromItem(result.Item) : undefined;
}

/** List every platform record by client id; the index is eventually consistent, so one registered a moment ago may be missing. */
export async function listPlatformRecords(): Promise<PlatformRecord[]> {
  return (await queryIndex('gsi1', LIST_KEY)).map(fromItem);
}

function fromItem(item: Record<string, any>): PlatformRecord {
  const { pk, sk, kind, gsi1pk, gsi1sk, ...record } = unmarshall(item);
  return record as PlatformRecord;
}

/**
 * Transaction item that stores a platform record: new when `expectedVersion`
 * is undefined (fails if the client id is taken), else only while the stored
 * record is still at `expectedVersion`.
 */
export function putPlatformRecord(record: PlatformRecord, expectedVersion: number | undefined): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...platformRecordKey(record.clientId), kind: 'platform', gsi1pk: LIST_KEY, gsi1sk: record.clientId, ...record }, { removeUndefinedValues: true }),
      ...(expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: marshall({ ':expected': expectedVersion }),
          }),
    },
  };
}
