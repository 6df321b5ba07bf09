import { createHash, randomBytes } from 'node:crypto';
import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/** A person who runs the service for the province: signs in to the admin console with a WebAuthn key. */
export interface Operator {
  /** OIDC subject, "op_" followed by random characters; never reused for an enterprise. */
  sub: string;
  name: string;
  role: 'admin';
  /** pending: enrollment link issued, no key yet; active: has at least one key; disabled: may not sign in. */
  status: 'pending' | 'active' | 'disabled';
  createdAt: string;
  enrolledAt?: string;
}

/** A one-time enrollment link's record; only the SHA-256 of the token is stored. */
export interface Enrollment {
  tokenHash: string;
  operatorSub: string;
  expiresAt: number;
}

export const operatorKey = (sub: string) => ({ pk: `OP#${sub}`, sk: 'OP' });
const enrollmentKey = (tokenHash: string) => ({ pk: `ENROLL#${tokenHash}`, sk: 'ENROLL' });

export const OPERATOR_SUBJECT_PREFIX = 'op_';

export function newOperatorSubject(): string {
  return `${OPERATOR_SUBJECT_PREFIX}${randomBytes(15).toString('base64url')}`;
}

export const isOperatorSubject = (sub: string) => sub.startsWith(OPERATOR_SUBJECT_PREFIX);

export function hashEnrollmentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

export async function getOperator(sub: string): Promise<Operator | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(operatorKey(sub)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const { pk, sk, kind, ...operator } = unmarshall(result.Item);
  return operator as Operator;
}

/** Return the enrollment for a token, or undefined when it is unknown, used or expired. */
export async function getEnrollment(token: string): Promise<Enrollment | undefined> {
  const tokenHash = hashEnrollmentToken(token);
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(enrollmentKey(tokenHash)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const { pk, sk, kind, ttl, ...enrollment } = unmarshall(result.Item);
  if ((enrollment as Enrollment).expiresAt <= Math.floor(Date.now() / 1000)) return undefined;
  return enrollment as Enrollment;
}

export function putOperator(operator: Operator, isNew: boolean): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...operatorKey(operator.sub), kind: 'operator', ...operator }, { removeUndefinedValues: true }),
      ...(isNew ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
    },
  };
}

export function putEnrollment(enrollment: Enrollment): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...enrollmentKey(enrollment.tokenHash), kind: 'enrollment', ...enrollment, ttl: enrollment.expiresAt }),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/** Transaction item that uses up an enrollment; fails if it was used already or has expired. */
export function consumeEnrollment(tokenHash: string): TransactWriteItem {
  return {
    Delete: {
      TableName: tableName(),
      Key: marshall(enrollmentKey(tokenHash)),
      ConditionExpression: 'attribute_exists(pk) AND expiresAt > :now',
      ExpressionAttributeValues: marshall({ ':now': Math.floor(Date.now() / 1000) }),
    },
  };
}
