import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

export type ChallengePurpose = 'bind' | 'login' | 'webauthn-register' | 'webauthn-login';

export interface Challenge {
  nonce: string;
  purpose: ChallengePurpose;
  /** Origin of this service, so that a signature cannot be replayed against another deployment. */
  origin: string;
  /** What else the challenge is bound to: a credit code for binding, an interaction id for login. */
  context?: string;
  /** Text that the certificate holder signs (UTF-8), for certificate challenges. */
  text: string;
  expiresAt: number;
}

const challengeKey = (nonce: string) => ({ pk: `CHAL#${nonce}`, sk: 'CHAL' });

/**
 * Create and store a single-use challenge. The signed text names the purpose,
 * origin, context and expiry, so a signature made for one use is invalid for any other.
 */
export async function createChallenge(purpose: ChallengePurpose, origin: string, ttlSeconds: number, context?: string): Promise<Challenge> {
  const nonce = randomBytes(32).toString('base64url');
  const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
  const text = challengeText({ purpose, origin, context, nonce, expiresAt });
  const challenge: Challenge = { nonce, purpose, origin, context, text, expiresAt };
  await dynamo().send(
    new PutItemCommand({
      TableName: tableName(),
      Item: marshall({ ...challengeKey(nonce), kind: 'challenge', ...challenge, ttl: expiresAt }, { removeUndefinedValues: true }),
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return challenge;
}

export function challengeText(fields: { purpose: string; origin: string; context?: string; nonce: string; expiresAt: number }): string {
  return [
    'trading-identity challenge v1',
    `purpose=${fields.purpose}`,
    `origin=${fields.origin}`,
    `context=${fields.context ?? ''}`,
    `nonce=${fields.nonce}`,
    `expires=${new Date(fields.expiresAt * 1000).toISOString()}`,
  ].join('\n');
}

/** Pull the nonce out of a challenge text that a client sent back. */
export function nonceOf(text: string): string | undefined {
  const match = /^nonce=([A-Za-z0-9_-]{43})$/m.exec(text);
  return match?.[1];
}

export type ConsumeResult =
  | { ok: true; challenge: Challenge }
  | { ok: false; reason: 'unknown' | 'expired' };

/**
 * Consume a challenge exactly once: a conditional delete returns the item to a
 * single caller, and a second or concurrent use finds nothing. Expired items are
 * reported as expired even though DynamoDB has not removed them yet.
 */
export async function consumeChallenge(nonce: string): Promise<ConsumeResult> {
  try {
    const result = await dynamo().send(
      new DeleteItemCommand({
        TableName: tableName(),
        Key: marshall(challengeKey(nonce)),
        ConditionExpression: 'attribute_exists(pk)',
        ReturnValues: 'ALL_OLD',
      }),
    );
    const { pk, sk, kind, ttl, ...challenge } = unmarshall(result.Attributes!);
    if ((challenge as Challenge).expiresAt <= Math.floor(Date.now() / 1000)) return { ok: false, reason: 'expired' };
    return { ok: true, challenge: challenge as Challenge };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return { ok: false, reason: 'unknown' };
    throw error;
  }
}
