import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from '../db/client.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { findPlatformClient } from './client-lookup.js';
import { FIRST_PARTY_CLIENT_NAMES } from './first-party-clients.js';

export interface PlatformLogin {
  clientId: string;
  clientName: string;
  lastLoginAt: string;
  lastMethod: string;
  logins: number;
}

/** How many of the enterprise's latest events are read to find its recent logins. */
const EVENTS_READ = 200;

/** List the platforms an enterprise logged in to recently, latest first, from its last events in the feed. */
export async function recentPlatformLogins(creditCode: string): Promise<PlatformLogin[]> {
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: marshall({ ':pk': `EVT#ENT#${creditCode}` }),
      ScanIndexForward: false,
      Limit: EVENTS_READ,
    }),
  );
  const byClient = new Map<string, PlatformLogin>();
  for (const item of page.Items ?? []) {
    const event = unmarshall(item) as { type: string; time: string; data: { clientId?: string; method?: string } };
    if (event.type !== EVENT_TYPES.login || !event.data.clientId) continue;
    const seen = byClient.get(event.data.clientId);
    if (seen) seen.logins += 1;
    else byClient.set(event.data.clientId, { clientId: event.data.clientId, clientName: event.data.clientId, lastLoginAt: event.time, lastMethod: event.data.method ?? 'certificate', logins: 1 });
  }
  const logins = [...byClient.values()];
  await Promise.all(
    logins.map(async (login) => {
      login.clientName = FIRST_PARTY_CLIENT_NAMES[login.clientId] ?? (await findPlatformClient(login.clientId))?.client_name ?? login.clientId;
    }),
  );
  return logins;
}
