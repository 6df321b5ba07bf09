import { GetItemCommand, QueryCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/**
 * A CRL pushed by a CA firm, stored under the key that signed it. DynamoDB
 * items hold at most 400 KB, so this suits CRLs of up to roughly 290 KB of DER
 * (stored as base64).
 */
export interface StoredCrl {
  /** SHA-256 of the SubjectPublicKeyInfo of the CA certificate whose key signed the CRL. */
  signerSpkiHash: string;
  caId: string;
  issuer: string;
  derBase64: string;
  sha256: string;
  thisUpdate: string;
  nextUpdate: string;
  pushedAt: string;
  pushedBy: string;
}

export const crlKey = (signerSpkiHash: string) => ({ pk: `CRL#${signerSpkiHash}`, sk: 'CRL' });

export async function getPushedCrl(signerSpkiHash: string): Promise<StoredCrl | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(crlKey(signerSpkiHash)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const { pk, sk, kind, ...crl } = unmarshall(result.Item);
  return crl as StoredCrl;
}

/** Transaction item that stores a pushed CRL unless the stored one is as new or newer (by thisUpdate). */
export function putPushedCrl(crl: StoredCrl): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...crlKey(crl.signerSpkiHash), kind: 'crl', ...crl }),
      ConditionExpression: 'attribute_not_exists(pk) OR thisUpdate < :thisUpdate',
      ExpressionAttributeValues: marshall({ ':thisUpdate': crl.thisUpdate }),
    },
  };
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
