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
  status: 'active' | 'revoked';
  revokedAt?: string;
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

export async function getBinding(fingerprint: string): Promise<CertificateBinding | undefined> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(certificateKey(fingerprint)), ConsistentRead: true }));
  return result.Item ? fromItem(result.Item) : undefined;
}

export async function listBindings(creditCode: string): Promise<CertificateBinding[]> {
  return (await queryIndex('gsi1', `ENTCERT#${creditCode}`)).map(fromItem);
}

function fromItem(item: Record<string, any>): CertificateBinding {
  const { pk, sk, kind, gsi1pk, gsi1sk, gsi2pk, gsi2sk, ...binding } = unmarshall(item);
  return binding as CertificateBinding;
}

/** Transaction item that stores a new binding; fails if the certificate is already bound. */
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
          ...binding,
        },
        { removeUndefinedValues: true },
      ),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}
