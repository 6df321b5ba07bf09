import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TrustStore, type CaProfile } from '../pki/trust-store.js';
import { log } from '../lib/log.js';
import { dynamo, tableName } from './client.js';
import { caProfileKey, clearCaStatusCache, TRUST_REFRESH_SECONDS } from './ca-status.js';
import { queryIndex } from './query.js';

export { caProfileKey, TRUST_REFRESH_SECONDS } from './ca-status.js';
const TRUST_VERSION_KEY = { pk: 'TRUST', sk: 'VERSION' };


let cached: { store: TrustStore; checkedAt: number } | undefined;

/** Return the current trust store, reloading it when the stored version changed. */
export async function currentTrustStore(): Promise<TrustStore> {
  const now = Date.now();
  if (cached && now - cached.checkedAt < TRUST_REFRESH_SECONDS * 1000) return cached.store;
  const version = await readTrustVersion();
  if (cached && cached.store.version === version) {
    cached.checkedAt = now;
    return cached.store;
  }
  const profiles = await listCaProfiles();
  const store = new TrustStore(profiles, version);
  log.info('trust store loaded', { version, profiles: profiles.length, anchors: store.anchorsBySpki.size });
  cached = { store, checkedAt: now };
  return store;
}

/** Drop the cached trust store, so the next request reloads it (used after local changes). */
export function invalidateTrustStore(): void {
  cached = undefined;
  clearCaStatusCache();
}

async function readTrustVersion(): Promise<number> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(TRUST_VERSION_KEY), ConsistentRead: true }));
  return result.Item ? Number(result.Item.version.N) : 0;
}

export async function listCaProfiles(): Promise<CaProfile[]> {
  return (await queryIndex('gsi1', 'CAPROFILES')).map(fromItem);
}

export async function getCaProfile(id: string): Promise<CaProfile | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(caProfileKey(id)), ConsistentRead: true }));
  return result.Item ? fromItem(result.Item) : undefined;
}

function fromItem(item: Record<string, any>): CaProfile {
  const { pk, sk, kind, gsi1pk, gsi1sk, ...profile } = unmarshall(item);
  return profile as CaProfile;
}

/**
 * Transaction items that store a CA profile (guarded by its previous version,
 * or by absence when new) and bump the trust version so every instance reloads.
 */
export function putCaProfile(profile: CaProfile, previousVersion: number | undefined): TransactWriteItem[] {
  return [
    {
      Put: {
        TableName: tableName(),
        Item: marshall({ ...caProfileKey(profile.id), kind: 'ca-profile', gsi1pk: 'CAPROFILES', gsi1sk: profile.id, ...profile }, { removeUndefinedValues: true }),
        ConditionExpression: previousVersion === undefined ? 'attribute_not_exists(pk)' : '#version = :previous',
        ExpressionAttributeNames: previousVersion === undefined ? undefined : { '#version': 'version' },
        ExpressionAttributeValues: previousVersion === undefined ? undefined : marshall({ ':previous': previousVersion }),
      },
    },
    bumpTrustVersion(),
  ];
}

/** Transaction item that bumps the trust version, so every instance reloads its trust store and drops validated issuers. */
export function bumpTrustVersion(): TransactWriteItem {
  return {
    Update: {
      TableName: tableName(),
      Key: marshall(TRUST_VERSION_KEY),
      UpdateExpression: 'ADD #version :one',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: marshall({ ':one': 1 }),
    },
  };
}
