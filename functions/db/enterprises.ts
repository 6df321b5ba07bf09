import { randomBytes } from 'node:crypto';
import { GetItemCommand, QueryCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

export interface EnterpriseDetails {
  name: string;
  legalRepresentative: string;
  contact: { name: string; phone: string; email?: string };
}

export interface Enterprise {
  creditCode: string;
  sub: string;
  /** Details as declared by whoever registered; trusted only once `detailsConfirmed`. */
  details?: EnterpriseDetails;
  /** True once a certificate holder confirmed or replaced the declared details. */
  detailsConfirmed: boolean;
  /** Organisation name from the first bound certificate, vouched for by its CA. */
  certifiedName?: string;
  status: 'unverified' | 'verified';
  /** self: registered online; ca: created from a CA firm's certificate data. */
  source: 'self' | 'ca';
  registeredAt: string;
  verifiedAt?: string;
  updatedAt: string;
  /** Incremented on every change; equals the enterprise's last event sequence number. */
  version: number;
}

export const enterpriseKey = (creditCode: string) => ({ pk: `ENT#${creditCode}`, sk: 'ENT' });
export const subjectKey = (sub: string) => ({ pk: `SUB#${sub}`, sk: 'SUB' });

/** Generate an opaque, stable OIDC subject for a new enterprise. */
export function newSubject(): string {
  return `ent_${randomBytes(15).toString('base64url')}`;
}

export async function getEnterprise(creditCode: string): Promise<Enterprise | undefined> {
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall(enterpriseKey(creditCode)), ConsistentRead: true }),
  );
  if (!result.Item) return undefined;
  return fromItem(result.Item);
}

function fromItem(item: Record<string, any>): Enterprise {
  const { pk, sk, kind, gsi1pk, gsi1sk, ...rest } = unmarshall(item);
  return rest as Enterprise;
}

/**
 * Seconds an enterprise record read for token and userinfo claims may be
 * reused by this instance; a change reaches claims within this bound.
 */
export const CLAIMS_CACHE_SECONDS = Number(process.env.CLAIMS_CACHE_SECONDS ?? 2);
const claimsCache = new Map<string, { enterprise: Enterprise | undefined; until: number }>();

/** Read an enterprise for claims, reusing a read younger than CLAIMS_CACHE_SECONDS. */
export async function getEnterpriseForClaims(creditCode: string): Promise<Enterprise | undefined> {
  const cached = claimsCache.get(creditCode);
  if (cached && cached.until > Date.now()) return cached.enterprise;
  const enterprise = await getEnterprise(creditCode);
  if (claimsCache.size >= 10_000) claimsCache.clear();
  claimsCache.set(creditCode, { enterprise, until: Date.now() + CLAIMS_CACHE_SECONDS * 1000 });
  return enterprise;
}

/** Fold a name for prefix search: NFKC (full-width forms to ASCII), trimmed, lower case. */
export function searchableName(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

/**
 * Index attributes that let operators find an enterprise by a prefix of its
 * name (the trusted name, else the declared one). The partition is the first
 * character, so one popular prefix does not hold every enterprise.
 */
function nameIndex(enterprise: Enterprise): { gsi1pk?: string; gsi1sk?: string } {
  const name = searchableName(trustedName(enterprise) ?? enterprise.details?.name ?? '');
  if (!name) return { gsi1pk: undefined, gsi1sk: undefined };
  return { gsi1pk: `ENTNAME#${Array.from(name)[0]}`, gsi1sk: `${name}#${enterprise.creditCode}` };
}

/**
 * Find up to `limit` enterprises whose name starts with `prefix`, in name
 * order. The index is eventually consistent, so a change made a moment ago
 * may not show yet.
 * NOTE: only records written since the name index was added carry it; older
 * records are found by credit code until their next change.
 */
export async function findEnterprisesByName(prefix: string, limit: number): Promise<Enterprise[]> {
  const folded = searchableName(prefix);
  if (!folded) return [];
  const result = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
      ExpressionAttributeValues: marshall({ ':pk': `ENTNAME#${Array.from(folded)[0]}`, ':prefix': folded }),
      Limit: limit,
    }),
  );
  return (result.Items ?? []).map(fromItem);
}

export async function getCreditCodeBySubject(sub: string): Promise<string | undefined> {
  const result = await dynamo().send(
    new GetItemCommand({ TableName: tableName(), Key: marshall(subjectKey(sub)), ConsistentRead: true }),
  );
  return result.Item ? (unmarshall(result.Item).creditCode as string) : undefined;
}

/** Transaction items that create a new enterprise and its subject mapping, failing if either exists. */
export function putNewEnterprise(enterprise: Enterprise): TransactWriteItem[] {
  return [
    {
      Put: {
        TableName: tableName(),
        Item: marshall({ ...enterpriseKey(enterprise.creditCode), kind: 'enterprise', ...enterprise, ...nameIndex(enterprise) }, { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
    {
      Put: {
        TableName: tableName(),
        Item: marshall({ ...subjectKey(enterprise.sub), kind: 'subject', creditCode: enterprise.creditCode }),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
  ];
}

/**
 * Transaction item that replaces an enterprise record, guarded by its version so
 * that two concurrent changes cannot both win.
 */
export function replaceEnterprise(next: Enterprise, expectedVersion: number): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...enterpriseKey(next.creditCode), kind: 'enterprise', ...next, ...nameIndex(next) }, { removeUndefinedValues: true }),
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: marshall({ ':expected': expectedVersion }),
    },
  };
}

/** The enterprise name that platforms may rely on: confirmed details first, else the certificate's. */
export function trustedName(enterprise: Enterprise): string | undefined {
  if (enterprise.detailsConfirmed && enterprise.details?.name) return enterprise.details.name;
  return enterprise.certifiedName;
}
