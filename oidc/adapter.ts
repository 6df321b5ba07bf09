import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { dynamo, tableName } from '../functions/db/client.js';
import { CLIENT_CACHE_SECONDS, clientCache } from '../functions/db/oidc-client-cache.js';
import { oidcItemKey } from '../functions/db/oidc-items.js';
import { clientCredentialsIndexKey } from '../functions/db/oidc-client-tokens.js';
import { deleteGrantItems } from '../functions/db/oidc-grants.js';

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

const nowSeconds = () => Math.floor(Date.now() / 1000);

const itemKey = oidcItemKey;

/**
 * oidc-provider storage on DynamoDB. Every model lives in the service table
 * under OIDC#<model>#<id>; secondary lookups (session uid, device user code,
 * grant id) use the table's GSIs. Expired items are treated as absent, because
 * DynamoDB deletes them late (and DynamoDB Local never does).
 */
export class DynamoDbAdapter implements Adapter {
  constructor(private readonly model: string) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const expiresAt = expiresIn ? nowSeconds() + expiresIn : undefined;
    const item: Record<string, unknown> = {
      ...itemKey(this.model, id),
      kind: 'oidc',
      model: this.model,
      payload: JSON.stringify(payload),
      ttl: expiresAt,
    };
    if (this.model === 'Session' && payload.uid) {
      item.gsi1pk = `OIDCUID#${payload.uid}`;
      item.gsi1sk = 'Session';
    }
    if (this.model === 'ClientCredentials' && payload.clientId) {
      // Indexed by client, so that rotating the client's secret can end its tokens.
      item.gsi1pk = clientCredentialsIndexKey(payload.clientId);
      item.gsi1sk = id;
    }
    if (payload.userCode) {
      item.gsi1pk = `OIDCUSER#${payload.userCode}`;
      item.gsi1sk = this.model;
    }
    if (this.model === 'Session' && payload.accountId) {
      item.gsi2pk = `OIDCACCOUNT#${payload.accountId}`;
      item.gsi2sk = `Session#${id}`;
    }
    if (GRANTABLE.has(this.model) && payload.grantId) {
      item.gsi2pk = `OIDCGRANT#${payload.grantId}`;
      item.gsi2sk = `${this.model}#${id}`;
    }
    await dynamo().send(new PutItemCommand({ TableName: tableName(), Item: marshall(item, { removeUndefinedValues: true }) }));
    if (this.model === 'Client') clientCache.delete(id);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.model === 'Client') return this.findClient(id);
    return this.read(id);
  }

  private async findClient(id: string): Promise<AdapterPayload | undefined> {
    const cached = clientCache.get(id);
    if (cached && cached.until > Date.now()) return cached.payload as AdapterPayload | undefined;
    const payload = await this.read(id);
    clientCache.set(id, { payload, until: Date.now() + CLIENT_CACHE_SECONDS * 1000 });
    return payload;
  }

  private async read(id: string): Promise<AdapterPayload | undefined> {
    const result = await dynamo().send(
      new GetItemCommand({ TableName: tableName(), Key: marshall(itemKey(this.model, id)), ConsistentRead: true }),
    );
    return result.Item ? live(unmarshall(result.Item)) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findByIndex('gsi1', 'gsi1pk', `OIDCUID#${uid}`);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findByIndex('gsi1', 'gsi1pk', `OIDCUSER#${userCode}`);
  }

  async destroy(id: string): Promise<void> {
    await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: marshall(itemKey(this.model, id)) }));
    if (this.model === 'Client') clientCache.delete(id);
  }

  /**
   * Mark a code or token consumed with a conditional write, so that of two
   * concurrent exchanges of one authorization code only the first succeeds. The
   * loser gets invalid_grant and every token of the grant is revoked, as
   * RFC 6749 section 4.1.2 recommends for a reused code.
   */
  async consume(id: string): Promise<void> {
    try {
      await dynamo().send(
        new UpdateItemCommand({
          TableName: tableName(),
          Key: marshall(itemKey(this.model, id)),
          UpdateExpression: 'SET #consumed = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#consumed)',
          ExpressionAttributeNames: { '#consumed': 'consumed' },
          ExpressionAttributeValues: marshall({ ':now': nowSeconds() }),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.find(id);
      if (existing?.grantId) await this.revokeByGrantId(existing.grantId);
      throw new errors.InvalidGrant(`${this.model === 'AuthorizationCode' ? 'authorization code' : this.model} already used`);
    }
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await deleteGrantItems(grantId);
  }


  private async findByIndex(index: string, attribute: string, value: string): Promise<AdapterPayload | undefined> {
    const result = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: index,
        KeyConditionExpression: `${attribute} = :value`,
        ExpressionAttributeValues: marshall({ ':value': value }),
      }),
    );
    const item = result.Items?.[0];
    if (!item) return undefined;
    // Index reads are eventually consistent; read the item itself for the current state.
    const { model, pk } = unmarshall(item) as { model: string; pk: string };
    if (model !== this.model) return undefined;
    return this.find(pk.slice(`OIDC#${model}#`.length));
  }
}

// Sessions are read without the provider where they are ended after a revocation.
export { findSessionsByAccount } from '../functions/db/oidc-sessions.js';

function live(item: Record<string, any>): AdapterPayload | undefined {
  if (typeof item.ttl === 'number' && item.ttl <= nowSeconds()) return undefined;
  const payload = JSON.parse(item.payload) as AdapterPayload;
  if (typeof item.consumed === 'number') payload.consumed = item.consumed;
  return payload;
}
