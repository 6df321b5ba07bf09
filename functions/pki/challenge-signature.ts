import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { extension, nameToString, OID, serialHex } from './certificate.js';
import { MalformedInput, parseSingleDer } from './der.js';
import { namesEqual } from './names.js';
import { CertificateRejected } from './reasons.js';
import { ALGORITHM_OID, DEFAULT_SM2_SIGNER_ID, UnsupportedAlgorithm, publicKeyDetails, verifySignature } from './signature.js';

export type SignatureFormat = 'raw' | 'cms';

const CMS_OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  /** GM/T 0010 signedData and data content types used by Chinese signing clients. */
  gmSignedData: '1.2.156.10197.6.1.4.2.2',
  gmData: '1.2.156.10197.6.1.4.2.1',
  contentTypeAttribute: '1.2.840.113549.1.9.3',
  messageDigestAttribute: '1.2.840.113549.1.9.4',
} as const;

/** Digests accepted in CMS signatures over a challenge. */
const CMS_DIGESTS: Record<string, (data: Uint8Array) => Uint8Array> = {
  [ALGORITHM_OID.sha256]: (data) => createHash('sha256').update(data).digest(),
  [ALGORITHM_OID.sha384]: (data) => createHash('sha384').update(data).digest(),
  [ALGORITHM_OID.sha512]: (data) => createHash('sha512').update(data).digest(),
  [ALGORITHM_OID.sm3]: (data) => createHash('sm3').update(data).digest(),
};

/** Signature algorithm used for a raw signature, by key type and curve. */
function rawAlgorithm(cert: pkijs.Certificate): { algorithm: string; digest?: string }[] {
  const key = publicKeyDetails(cert.subjectPublicKeyInfo);
  if (key.type === 'sm2') return [{ algorithm: ALGORITHM_OID.sm2WithSm3 }];
  if (key.type === 'rsa') return [{ algorithm: ALGORITHM_OID.sha256WithRSA }, { algorithm: 'pss-sha256' }];
  if (key.type === 'ec' && key.curve === ALGORITHM_OID.p384) return [{ algorithm: ALGORITHM_OID.ecdsaWithSha384 }];
  if (key.type === 'ec') return [{ algorithm: ALGORITHM_OID.ecdsaWithSha256 }];
  return [];
}

/**
 * Verify that `signature` is the certificate key's signature over exactly
 * `message` (the challenge text as UTF-8).
 * raw: RSA PKCS#1 v1.5 or PSS with SHA-256; ECDSA with SHA-256 (P-256) or
 * SHA-384 (P-384), DER or r||s; SM2 with SM3 under `sm2SignerId`, DER or r||s.
 * cms: a detached (or attached, over the same text) CMS SignedData with one
 * signer, this certificate, and SHA-2 or SM3 digests.
 */
export async function verifyChallengeSignature(
  cert: pkijs.Certificate,
  message: Uint8Array,
  signature: Uint8Array,
  format: SignatureFormat,
  sm2SignerId: string = DEFAULT_SM2_SIGNER_ID,
): Promise<void> {
  const fail = (code: 'SIGNATURE_INVALID' | 'MALFORMED', rule: string) =>
    new CertificateRejected(code, `certificate "${nameToString(cert.subject)}" (serial ${serialHex(cert)}): ${rule}`, {
      subject: nameToString(cert.subject),
      serial: serialHex(cert),
    });
  try {
    if (format === 'raw') {
      if (!verifyRaw(cert, message, signature, sm2SignerId)) {
        throw fail('SIGNATURE_INVALID', `the signature does not verify over the challenge with this certificate’s key${signerIdNote(cert, sm2SignerId)}`);
      }
      return;
    }
    if (format === 'cms') {
      const problem = verifyCms(cert, message, signature, sm2SignerId);
      if (problem) throw fail('SIGNATURE_INVALID', problem);
      return;
    }
    throw fail('SIGNATURE_INVALID', `signature format ${JSON.stringify(format)} is not supported; use "raw" or "cms"`);
  } catch (error) {
    if (error instanceof MalformedInput) throw fail('MALFORMED', error.message);
    if (error instanceof UnsupportedAlgorithm) throw fail('SIGNATURE_INVALID', error.message);
    throw error;
  }
}

/** Name the SM2 signer ID that was used when the key is an SM2 key, because a signature under another ID fails like a wrong signature. */
function signerIdNote(cert: pkijs.Certificate, sm2SignerId: string): string {
  try {
    return publicKeyDetails(cert.subjectPublicKeyInfo).type === 'sm2' ? ` (checked as SM2 with SM3 under signer ID "${sm2SignerId}")` : '';
  } catch (error) {
    if (error instanceof UnsupportedAlgorithm) return '';
    throw error;
  }
}

function verifyRaw(cert: pkijs.Certificate, message: Uint8Array, signature: Uint8Array, sm2SignerId: string): boolean {
  const spki = cert.subjectPublicKeyInfo;
  for (const { algorithm } of rawAlgorithm(cert)) {
    const identifier =
      algorithm === 'pss-sha256'
        ? pssSha256()
        : new pkijs.AlgorithmIdentifier({ algorithmId: algorithm });
    const candidates = algorithm.startsWith('1.2.840.10045') ? [signature, p1363ToDer(signature)].filter((s): s is Uint8Array => Boolean(s)) : [signature];
    for (const candidate of candidates) {
      if (verifySignature({ data: message, signature: candidate, spki, algorithm: identifier, sm2SignerId })) return true;
    }
  }
  return false;
}

/** RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, the parameters signing clients use. */
function pssSha256(): pkijs.AlgorithmIdentifier {
  const sha256 = new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sha256 });
  const params = new pkijs.RSASSAPSSParams({
    hashAlgorithm: sha256,
    maskGenAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.mgf1, algorithmParams: sha256.toSchema() }),
    saltLength: 32,
  });
  return new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.rsassaPss, algorithmParams: params.toSchema() });
}

/** Convert an IEEE P1363 (r||s) ECDSA signature to DER; undefined when the length is not that of a P-256 or P-384 signature. */
function p1363ToDer(signature: Uint8Array): Uint8Array | undefined {
  if (signature.length !== 64 && signature.length !== 96) return undefined;
  const half = signature.length / 2;
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
    const trimmed = bytes.subarray(start);
    return new asn1js.Integer({ valueHex: trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed });
  };
  return new Uint8Array(new asn1js.Sequence({ value: [integer(signature.subarray(0, half)), integer(signature.subarray(half))] }).toBER(false));
}

/** Check a CMS SignedData over `message`; returns the broken rule, or undefined when it verifies. */
function verifyCms(cert: pkijs.Certificate, message: Uint8Array, der: Uint8Array, sm2SignerId: string): string | undefined {
  const schema = parseSingleDer(der, 'CMS signature');
  let signedData: pkijs.SignedData;
  try {
    const contentInfo = new pkijs.ContentInfo({ schema });
    if (contentInfo.contentType !== CMS_OID.signedData && contentInfo.contentType !== CMS_OID.gmSignedData) {
      return `the CMS content type is ${contentInfo.contentType}, not signedData`;
    }
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (error) {
    throw new MalformedInput('CMS signature', `not a CMS SignedData (${(error as Error).message})`);
  }
  const content = signedData.encapContentInfo.eContent?.getValue();
  if (content && !Buffer.from(content).equals(Buffer.from(message))) return 'the CMS signature carries content other than the challenge text';
  if (signedData.signerInfos.length !== 1) return `the CMS signature has ${signedData.signerInfos.length} signers; exactly one is expected`;
  const signer = signedData.signerInfos[0];
  if (!signerMatches(signer, cert)) return 'the CMS signer is not this certificate';

  const digestOid = signer.digestAlgorithm.algorithmId;
  const digest = CMS_DIGESTS[digestOid];
  if (!digest) return `CMS digest algorithm ${digestOid} is not accepted; use SHA-256, SHA-384, SHA-512 or SM3`;
  let signedBytes: Uint8Array = message;
  if (signer.signedAttrs) {
    const attribute = (oid: string) => signer.signedAttrs!.attributes.filter((a) => a.type === oid);
    const contentTypes = attribute(CMS_OID.contentTypeAttribute);
    const digests = attribute(CMS_OID.messageDigestAttribute);
    if (contentTypes.length !== 1 || digests.length !== 1) return 'the CMS signed attributes must hold exactly one content type and one message digest';
    const contentType = (contentTypes[0].values[0] as asn1js.ObjectIdentifier | undefined)?.valueBlock?.toString();
    if (contentType !== CMS_OID.data && contentType !== CMS_OID.gmData) return `the signed content type is ${contentType}, not data`;
    const messageDigest = (digests[0].values[0] as asn1js.OctetString | undefined)?.valueBlock?.valueHexView;
    if (!messageDigest || !Buffer.from(messageDigest).equals(Buffer.from(digest(message)))) return 'the CMS message digest does not match the challenge text';
    signedBytes = new Uint8Array(signer.signedAttrs.encodedValue);
  }
  const valid = verifySignature({
    data: signedBytes,
    signature: signer.signature.valueBlock.valueHexView,
    spki: cert.subjectPublicKeyInfo,
    algorithm: signer.signatureAlgorithm,
    digestOid,
    sm2SignerId,
  });
  return valid ? undefined : `the CMS signature does not verify with this certificate’s key${signerIdNote(cert, sm2SignerId)}`;
}

function signerMatches(signer: pkijs.SignerInfo, cert: pkijs.Certificate): boolean {
  const sid = signer.sid as pkijs.IssuerAndSerialNumber | asn1js.Constructed;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return namesEqual(sid.issuer, cert.issuer) && Buffer.from(sid.serialNumber.valueBlock.valueHexView).equals(Buffer.from(cert.serialNumber.valueBlock.valueHexView));
  }
  const keyId = (sid as { valueBlock?: { value?: { valueBlock?: { valueHexView?: Uint8Array } }[]; valueHexView?: Uint8Array } }).valueBlock;
  const bytes = keyId?.valueHexView?.length ? keyId.valueHexView : keyId?.value?.[0]?.valueBlock?.valueHexView;
  const ski = (extension(cert, OID.subjectKeyIdentifier)?.parsedValue as { valueBlock?: { valueHexView: Uint8Array } } | undefined)?.valueBlock?.valueHexView;
  return Boolean(bytes && ski && Buffer.from(bytes).equals(Buffer.from(ski)));
}
