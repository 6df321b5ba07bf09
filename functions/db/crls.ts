import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { queryPartition } from './query.js';
import { loadCrlDer, type CrlDerFields } from './crl-der.js';

/**
 * A CRL stored under the key that signed it: pushed by a CA firm or an
 * operator, or fetched by the scheduled refresh. Its DER is inline or in
 * chunks (`crl-der.ts`).
 */
export type StoredCrl = StoredCrlFields & CrlDerFields;

interface StoredCrlFields {
  /** SHA-256 of the SubjectPublicKeyInfo of the CA certificate whose key signed the CRL. */
  signerSpkiHash: string;
  caId: string;
  issuer: string;
  /** SHA-256 of the DER, in hex. */
  sha256: string;
  thisUpdate: string;
  nextUpdate: string;
  pushedAt: string;
  pushedBy: string;
  /** When the bindings of every certificate the CRL lists were marked revoked; absent until then. */
  entriesAppliedAt?: string;
}

export const crlKey = (signerSpkiHash: string) => ({ pk: `CRL#${signerSpkiHash}`, sk: 'CRL' });

/** Read the CRL stored for a signing key with its DER, or undefined when none is stored or its chunks are gone. */
export async function getPushedCrl(signerSpkiHash: string): Promise<(StoredCrlFields & { der: Uint8Array }) | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(crlKey(signerSpkiHash)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const { pk, sk, kind, der: inline, derChunks, ...crl } = unmarshall(result.Item);
  const der = await loadCrlDer({ sha256: crl.sha256, der: inline, derChunks });
  return der ? { ...(crl as StoredCrlFields), der } : undefined;
}

/** Transaction item that stores a pushed CRL unless the stored one is as new or newer (by thisUpdate). */
export function putPushedCrl(crl: StoredCrl): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...crlKey(crl.signerSpkiHash), kind: 'crl', ...crl }, { removeUndefinedValues: true }),
      ConditionExpression: 'attribute_not_exists(pk) OR thisUpdate < :thisUpdate',
      ExpressionAttributeValues: marshall({ ':thisUpdate': crl.thisUpdate }),
    },
  };
}

/** Check whether a CRL is stored for the signing key whose entries were not all applied to bindings. */
export async function storedCrlNeedsApply(signerSpkiHash: string): Promise<boolean> {
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall(crlKey(signerSpkiHash)), ProjectionExpression: 'sha256, entriesAppliedAt', ConsistentRead: true }),
  );
  return Boolean(result.Item && !result.Item.entriesAppliedAt);
}

/** Record that the entries of the stored CRL with this SHA-256 were applied to bindings; does nothing when another CRL replaced it. */
export async function markCrlEntriesApplied(signerSpkiHash: string, sha256: string, at: Date): Promise<void> {
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName(),
        Key: marshall(crlKey(signerSpkiHash)),
        UpdateExpression: 'SET entriesAppliedAt = :at',
        ConditionExpression: 'sha256 = :sha256',
        ExpressionAttributeValues: marshall({ ':at': at.toISOString(), ':sha256': sha256 }),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/** Fingerprints of certificate bindings with this issuer name hash and serial (gsi2). */
export async function bindingsBySerial(issuerNameHash: string, serial: string): Promise<string[]> {
  const result = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: marshall({ ':pk': `SERIAL#${issuerNameHash}#${serial}` }),
    }),
  );
  return (result.Items ?? []).map((item) => String(unmarshall(item).gsi2sk));
}

/**
 * A CRL URL of a CA profile that the scheduled refresh fetches, with the
 * outcome of its last fetch. Items are created when validation first fetches
 * a distribution point for the profile, and by the refresh for the profile's
 * own URLs.
 */
export interface CrlSource {
  caId: string;
  url: string;
  /** Time of the last successful fetch and nextUpdate of the CRL it returned. */
  fetchedAt?: string;
  nextUpdate?: string;
  /** SHA-256 of the last CRL whose entries were applied, and where its DER is stored. */
  sha256?: string;
  der?: Uint8Array;
  derChunks?: number;
  lastError?: string;
  lastErrorAt?: string;
}

export const crlSourceKey = (caId: string, url: string) => ({ pk: `CRLSRC#${caId}`, sk: url });

/** Store `url` as a CRL source of CA profile `caId` unless it is stored already. */
export async function rememberCrlSource(caId: string, url: string): Promise<void> {
  try {
    await dynamo().send(
      new PutItemCommand({
        TableName: tableName(),
        Item: marshall({ ...crlSourceKey(caId, url), kind: 'crl-source', caId, url }),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/** List every stored CRL source of CA profile `caId`. */
export async function listCrlSources(caId: string): Promise<CrlSource[]> {
  return (await queryPartition(`CRLSRC#${caId}`)).map((item) => {
    const { pk, sk, kind, ...source } = unmarshall(item);
    return source as CrlSource;
  });
}

/** Record the outcome of fetching a CRL source: the fields given replace the stored ones, and fields given as null are removed. */
export async function recordCrlFetch(caId: string, url: string, fields: { [K in keyof Omit<CrlSource, 'caId' | 'url'>]?: CrlSource[K] | null }): Promise<void> {
  const names: Record<string, string> = { '#kind': 'kind', '#caId': 'caId', '#url': 'url' };
  const values: Record<string, unknown> = { ':kind': 'crl-source', ':caId': caId, ':url': url };
  const sets = ['#kind = :kind', '#caId = :caId', '#url = :url'];
  const removes: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    if (value === null) {
      removes.push(`#${field}`);
      continue;
    }
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  await dynamo().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: marshall(crlSourceKey(caId, url)),
      UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: marshall(values),
    }),
  );
}
