import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';

/**
 * How an enterprise logged in, kept per OIDC grant so that the ID token and
 * userinfo can name the certificate (x5t#S256) or passkey used.
 */
export interface LoginContext {
  grantId: string;
  creditCode: string;
  method: 'certificate' | 'passkey';
  amr: string[];
  acr: string;
  /** base64url SHA-256 of the certificate's DER, for certificate logins. */
  x5tS256?: string;
  credentialId?: string;
  expiresAt: number;
}

const key = (grantId: string) => ({ pk: `LOGIN#${grantId}`, sk: 'LOGIN' });

/** Transaction item that stores a login context, written together with the login event. */
export function putLoginContext(context: LoginContext): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall({ ...key(context.grantId), kind: 'login-context', ...context, ttl: context.expiresAt }, { removeUndefinedValues: true }),
    },
  };
}

export async function getLoginContext(grantId: string): Promise<LoginContext | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(key(grantId)), ConsistentRead: true }));
  if (!result.Item) return undefined;
  const { pk, sk, kind, ttl, ...context } = unmarshall(result.Item);
  if ((context as LoginContext).expiresAt <= Math.floor(Date.now() / 1000)) return undefined;
  return context as LoginContext;
}
