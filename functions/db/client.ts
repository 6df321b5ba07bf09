import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

let client: DynamoDBClient | undefined;

/**
 * Return the process-wide DynamoDB client. DYNAMODB_ENDPOINT points it at
 * DynamoDB Local; without it the SDK's default AWS endpoint and credentials apply.
 */
export function dynamo(): DynamoDBClient {
  if (client) return client;
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  client = endpoint
    ? new DynamoDBClient({
        endpoint,
        region: process.env.AWS_REGION ?? 'local',
        // DynamoDB Local accepts any credentials; these are placeholders, not secrets.
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 3,
      })
    : new DynamoDBClient({ maxAttempts: 3 });
  return client;
}

/** Replace the client, used when the local host starts DynamoDB Local on a chosen port. */
export function setDynamoClient(next: DynamoDBClient | undefined): void {
  client = next;
}

export function tableName(): string {
  return process.env.TABLE_NAME ?? 'trading-identity';
}
