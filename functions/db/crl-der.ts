import { createHash } from 'node:crypto';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { log } from '../lib/log.js';
import { dynamo, tableName } from './client.js';
import { queryPartition } from './query.js';

/** Location of a stored CRL's DER: inline on the item that refers to it, or `derChunks` chunk items under the CRL's SHA-256. */
export type CrlDerFields = { der: Uint8Array; derChunks?: undefined } | { derChunks: number; der?: undefined };

/**
 * Largest CRL kept inline on the item that refers to it. A DynamoDB item is
 * limited to 400 KB including its other attributes.
 */
export const INLINE_CRL_DER_BYTES = 300 * 1024;
/** Size of one chunk item's DER part, leaving room for its key and attributes within 400 KB. */
const CHUNK_BYTES = 350 * 1024;
/** How long chunks outlive the CRL's nextUpdate; a CRL that old is no longer used for validation. */
const CHUNK_RETENTION_SECONDS = 7 * 24 * 3600;

const chunkPartition = (sha256: string) => `CRLDER#${sha256}`;
const chunkSortKey = (index: number) => `CHUNK#${String(index).padStart(4, '0')}`;

/**
 * Store the DER of a CRL so that items can refer to it. A CRL of up to
 * INLINE_CRL_DER_BYTES is returned for the caller's item to hold. A larger one
 * is written as chunks first, keyed by its SHA-256, so writing the same CRL
 * twice or at once writes the same items. Chunks expire (TTL) a week after
 * nextUpdate, which also removes those of a write that stopped before its
 * referring item was stored.
 */
export async function storeCrlDer(der: Uint8Array, sha256: string, nextUpdate: Date): Promise<CrlDerFields> {
  if (der.byteLength <= INLINE_CRL_DER_BYTES) return { der };
  const ttl = Math.floor(Math.max(nextUpdate.getTime(), Date.now()) / 1000) + CHUNK_RETENTION_SECONDS;
  const count = Math.ceil(der.byteLength / CHUNK_BYTES);
  for (let index = 0; index < count; index += 1) {
    const part = der.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES);
    await dynamo().send(
      new PutItemCommand({
        TableName: tableName(),
        Item: marshall({ pk: chunkPartition(sha256), sk: chunkSortKey(index), kind: 'crl-der-chunk', part, ttl }),
      }),
    );
  }
  return { derChunks: count };
}

/**
 * Load the DER an item refers to. Returns undefined when chunks are missing
 * (expired) or do not add up to the recorded SHA-256, so the caller treats the
 * CRL as not stored rather than reading damaged data.
 */
export async function loadCrlDer(item: { sha256?: string; der?: Uint8Array; derChunks?: number }): Promise<Uint8Array | undefined> {
  if (item.der) return item.der;
  if (!item.derChunks || !item.sha256) return undefined;
  const parts = (await queryPartition(chunkPartition(item.sha256))).map((chunk) => unmarshall(chunk).part as Uint8Array);
  const der = Buffer.concat(parts);
  const digest = createHash('sha256').update(der).digest('hex');
  if (parts.length !== item.derChunks || digest !== item.sha256) {
    log.warn('stored CRL chunks are incomplete; the CRL is treated as not stored', { sha256: item.sha256, expectedChunks: item.derChunks, foundChunks: parts.length });
    return undefined;
  }
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
}
