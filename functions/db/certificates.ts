import { GetItemCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamo, tableName } from './client.js';
import { queryIndex } from './query.js';

/** A certificate bound to an enterprise. */
export interface CertificateBinding {
  fingerprint: string;
  creditCode: string;
  subject: string;
  issuer: string;
  serial: string;
  issuerNameHash: string;
  notBefore: string;
  notAfter: string;
  caId: string;
  anchorSpkiHash: string;
  /** PEM of the certificate, so platforms and CA firms can fetch it. */
  pem: string;
  /** expired: the expiry run found notAfter passed while the binding was active. */
  status: 'active' | 'revoked' | 'expired';
  revokedAt?: string;
  /** Time the expiry run marked the binding expired; notAfter is when the certificate itself expired. */
  expiredAt?: string;
  revocationReason?: string;
  boundAt: string;
  /** self: bound by the holder with proof of possession; ca: submitted by the issuing CA firm. */
  source: 'self' | 'ca';
  /** True when the credit code in the certificate fails its check character (allowed by the CA profile). */
  creditCodeFlagged?: boolean;
  /** Feed sequence number of the certificates-imported event that recorded a CA firm's import. */
  importSeq?: number;
}

export const certificateKey = (fingerprint: string) => ({ pk: `CERT#${fingerprint}`, sk: 'CERT' });

/** Partition of the sparse expiry index (gsi3), which contains only active bindings, sorted by notAfter. */
export const EXPIRY_INDEX_PARTITION = 'CERTEXPIRY';

/** Sort key of a binding in the expiry index: ISO 8601 UTC notAfter, which sorts as time, then the fingerprint. */
export const expiryIndexSortKey = (notAfter: string, fingerprint: string) => `${notAfter}#${fingerprint}`;

export async function getBinding(fingerprint: string): Promise<CertificateBinding | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(certificateKey(fingerprint)), ConsistentRead: true }));
  return result.Item ? fromItem(result.Item) : undefined;
}

export async function listBindings(creditCode: string): Promise<CertificateBinding[]> {
  return (await queryIndex('gsi1', `ENTCERT#${creditCode}`)).map(fromItem);
}

function fromItem(item: Record<string, any>): CertificateBinding {
  const { pk, sk, kind, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ...binding } = unmarshall(item);
  return binding as CertificateBinding;
}

/**
 * Transaction item that stores a new binding; fails if the certificate is
 * already bound. An active binding enters the expiry index (gsi3).
 */
export function putNewBinding(binding: CertificateBinding): TransactWriteItem {
  return {
    Put: {
      TableName: tableName(),
      Item: marshall(
        {
          ...certificateKey(binding.fingerprint),
          kind: 'certificate',
          gsi1pk: `ENTCERT#${binding.creditCode}`,
          gsi1sk: binding.fingerprint,
          gsi2pk: `SERIAL#${binding.issuerNameHash}#${binding.serial}`,
          gsi2sk: binding.fingerprint,
          ...(binding.status === 'active' ? { gsi3pk: EXPIRY_INDEX_PARTITION, gsi3sk: expiryIndexSortKey(binding.notAfter, binding.fingerprint) } : {}),
          ...binding,
        },
        { removeUndefinedValues: true },
      ),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}
