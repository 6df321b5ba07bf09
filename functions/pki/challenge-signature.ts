import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type * as pkijs from 'pkijs';
import { nameToString, serialHex } from './certificate.js';
import { CertificateRejected } from './reasons.js';

export type SignatureFormat = 'raw' | 'cms';

const EC_CURVE_HASH: Record<string, string> = { 'prime256v1': 'sha256', 'secp384r1': 'sha384', 'P-256': 'sha256', 'P-384': 'sha384' };

/**
 * Verify that `signature` is the certificate key's signature over exactly
 * `message`. Raw signatures: RSA PKCS#1 v1.5 or PSS with SHA-256, ECDSA with the
 * curve's hash (DER or IEEE P1363 encoding).
 */
export async function verifyChallengeSignature(
  cert: pkijs.Certificate,
  message: Uint8Array,
  signature: Uint8Array,
  format: SignatureFormat,
): Promise<void> {
  const fail = (rule: string) =>
    new CertificateRejected('SIGNATURE_INVALID', `certificate "${nameToString(cert.subject)}" (serial ${serialHex(cert)}): ${rule}`, {
      subject: nameToString(cert.subject),
      serial: serialHex(cert),
    });
  if (format !== 'raw') throw fail(`signature format ${JSON.stringify(format)} is not supported; use "raw"`);
  const key = publicKey(cert);
  if (!verifyRaw(key, message, signature)) throw fail('the signature does not verify over the challenge with this certificate’s key');
}

export function publicKey(cert: pkijs.Certificate): KeyObject {
  return createPublicKey({ key: Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER(false)), format: 'der', type: 'spki' });
}

function verifyRaw(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    return (
      safeVerify('sha256', message, { key }, signature) ||
      safeVerify('sha256', message, { key, padding: 2 /* RSA_PKCS1_PSS_PADDING */, saltLength: -2 /* auto */ }, signature)
    );
  }
  if (type === 'rsa-pss') return safeVerify('sha256', message, { key, saltLength: -2 }, signature);
  if (type === 'ec') {
    const hash = EC_CURVE_HASH[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!hash) return false;
    return safeVerify(hash, message, { key, dsaEncoding: 'der' }, signature) || safeVerify(hash, message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  }
  return false;
}

function safeVerify(hash: string, message: Uint8Array, key: Parameters<typeof verify>[2], signature: Uint8Array): boolean {
  try {
    return verify(hash, message, key, signature);
  } catch {
    return false;
  }
}
