import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AuthenticatorTransportFuture } from '@simplewebauthn/server';
import { dynamo, tableName } from './client.js';
import { queryIndex } from './query.js';

/** The owner a WebAuthn credential signs in: an enterprise (by credit code) or an operator (by subject). */
export type CredentialOwner = { kind: 'enterprise'; creditCode: string } | { kind: 'operator'; operatorSub: string };

/** A registered WebAuthn credential (passkey or security key). */
export interface StoredCredential {
  credentialId: string;
  owner: CredentialOwner;
  /** base64url user handle given to the authenticator at registration; random per credential. */
  userHandle: string;
  /** COSE public key, base64url. */
  publicKey: string;
  /** Last signature counter seen. */
  counter: number;
  transports: AuthenticatorTransportFuture[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFormat: string;
  /** Name the enterprise gave the credential, e.g. "财务部 YubiKey". */
  displayName: string;
  /** Name of the person who keeps the authenticator, and their role in the enterprise. */
  holderName: string;
  holderRole: string;
  status: 'active' | 'revoked';
  createdAt: string;
  /** x5t#S256 of the certificate whose login authorised the registration (enterprise credentials). */
  authorisedBy?: string;
  lastUsedAt?: string;
  revokedAt?: string;
  revocationReason?: string;
  updatedAt: string;
}

export const credentialKey = (credentialId: string) => ({ pk: `WAC#${credentialId}`, sk: 'WAC' });

export function ownerIndexKey(owner: CredentialOwner): string {
  return owner.kind === 'enterprise' ? `OWNERWAC#ENT#${owner.creditCode}` : `OWNERWAC#OP#${owner.operatorSub}`;
}

export async function getCredential(credentialId: string): Promise<StoredCredential | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(credentialKey(credentialId)), ConsistentRead: true }));
  return result.Item ? fromItem(result.Item) : undefined;
}

/** List an owner's credentials, oldest first, including revoked ones. */
export async function listCredentials(owner: CredentialOwner): Promise<StoredCredential[]> {
  return (await queryIndex('gsi1', ownerIndexKey(owner))).map(fromItem);
}

function fromItem(item: Record<string, any>): StoredCredential {
  const { pk, sk, kind, gsi1pk, gsi1sk, ...credential } = unmarshall(item);
  return credential as StoredCredential;
}

/** Transaction item that stores a new credential; fails if the credential ID is already registered. */
export function putNewCredential(credential: StoredCredential): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall(
        {
          ...credentialKey(credential.credentialId),
          kind: 'webauthn-credential',
          gsi1pk: ownerIndexKey(credential.owner),
          gsi1sk: `${credential.createdAt}#${credential.credentialId}`,
          ...credential,
        },
        { removeUndefinedValues: true },
      ),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/**
 * Transaction item that records a successful sign-in: the new counter and the
 * time. It fails unless the credential is still active and still at the
 * counter that was checked, so a revocation or a concurrent use in between
 * cancels the login.
 */
export function recordCredentialUse(credential: StoredCredential, newCounter: number, at: string): TransactWriteItem {
  return {
    Update: {
      TableName: tableName(),
      Key: marshall(credentialKey(credential.credentialId)),
      UpdateExpression: 'SET #counter = :next, lastUsedAt = :at',
      ConditionExpression: '#status = :active AND #counter = :seen',
      ExpressionAttributeNames: { '#counter': 'counter', '#status': 'status' },
      ExpressionAttributeValues: marshall({ ':next': newCounter, ':at': at, ':active': 'active', ':seen': credential.counter }),
    },
  };
}

/** Transaction item that renames an active credential or changes its holder. */
export function updateCredentialLabels(credentialId: string, labels: { displayName: string; holderName: string; holderRole: string }, at: string): TransactWriteItem {
  return {
    Update: {
      TableName: tableName(),
      Key: marshall(credentialKey(credentialId)),
      UpdateExpression: 'SET displayName = :displayName, holderName = :holderName, holderRole = :holderRole, updatedAt = :at',
      ConditionExpression: '#status = :active',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: marshall({ ':displayName': labels.displayName, ':holderName': labels.holderName, ':holderRole': labels.holderRole, ':at': at, ':active': 'active' }),
    },
  };
}

/** Transaction item that revokes an active credential. */
export function revokeCredentialItem(credentialId: string, reason: string, at: string): TransactWriteItem {
  return {
    Update: {
      TableName: tableName(),
      Key: marshall(credentialKey(credentialId)),
      UpdateExpression: 'SET #status = :revoked, revokedAt = :at, revocationReason = :reason, updatedAt = :at',
      ConditionExpression: '#status = :active',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: marshall({ ':revoked': 'revoked', ':active': 'active', ':at': at, ':reason': reason }),
    },
  };
}

/** Return the public view of a credential, without key material. */
export function publicCredential(credential: StoredCredential) {
  return {
    id: credential.credentialId,
    displayName: credential.displayName,
    holderName: credential.holderName,
    holderRole: credential.holderRole,
    status: credential.status,
    deviceType: credential.deviceType,
    backedUp: credential.backedUp,
    aaguid: credential.aaguid,
    transports: credential.transports,
    createdAt: credential.createdAt,
    lastUsedAt: credential.lastUsedAt ?? null,
    revokedAt: credential.revokedAt ?? null,
    revocationReason: credential.revocationReason ?? null,
  };
}
