import { createPublicKey, verify as nodeVerify, constants, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { spkiBytes } from './der.js';
import { SM2_N, sm2PublicKey, verifySm2Signature, type Sm2PublicKey } from './sm2.js';

/** Signature, digest, key and curve OIDs that this service verifies. */
export const ALGORITHM_OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRSA: '1.2.840.113549.1.1.5',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  sha384WithRSA: '1.2.840.113549.1.1.12',
  sha512WithRSA: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha1: '1.2.840.10045.4.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  dsa: '1.2.840.10040.4.1',
  dsaWithSha1: '1.2.840.10040.4.3',
  dsaWithSha256: '2.16.840.1.101.3.4.3.2',
  sm2WithSm3: '1.2.156.10197.1.501',
  /** SM2 signature scheme OID that some CMS producers put in SignerInfo.signatureAlgorithm. */
  sm2Sign: '1.2.156.10197.1.301.1',
  sm2Curve: '1.2.156.10197.1.301',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  sm3: '1.2.156.10197.1.401',
} as const;

/** The GM/T 0009 default SM2 signer ID. */
export const DEFAULT_SM2_SIGNER_ID = '1234567812345678';

const DIGEST_BY_OID: Record<string, string> = {
  [ALGORITHM_OID.sha1]: 'sha1',
  [ALGORITHM_OID.sha256]: 'sha256',
  [ALGORITHM_OID.sha384]: 'sha384',
  [ALGORITHM_OID.sha512]: 'sha512',
  [ALGORITHM_OID.sm3]: 'sm3',
};

/** Signature algorithms whose OID names the digest; the key type decides RSA, ECDSA or DSA. */
const SIGNATURE_DIGEST: Record<string, { digest: string; key: 'rsa' | 'ec' | 'dsa' | 'sm2' }> = {
  [ALGORITHM_OID.sha1WithRSA]: { digest: 'sha1', key: 'rsa' },
  [ALGORITHM_OID.sha256WithRSA]: { digest: 'sha256', key: 'rsa' },
  [ALGORITHM_OID.sha384WithRSA]: { digest: 'sha384', key: 'rsa' },
  [ALGORITHM_OID.sha512WithRSA]: { digest: 'sha512', key: 'rsa' },
  [ALGORITHM_OID.ecdsaWithSha1]: { digest: 'sha1', key: 'ec' },
  [ALGORITHM_OID.ecdsaWithSha256]: { digest: 'sha256', key: 'ec' },
  [ALGORITHM_OID.ecdsaWithSha384]: { digest: 'sha384', key: 'ec' },
  [ALGORITHM_OID.ecdsaWithSha512]: { digest: 'sha512', key: 'ec' },
  [ALGORITHM_OID.dsaWithSha1]: { digest: 'sha1', key: 'dsa' },
  [ALGORITHM_OID.dsaWithSha256]: { digest: 'sha256', key: 'dsa' },
  [ALGORITHM_OID.sm2WithSm3]: { digest: 'sm3', key: 'sm2' },
  [ALGORITHM_OID.sm2Sign]: { digest: 'sm3', key: 'sm2' },
};

export class UnsupportedAlgorithm extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedAlgorithm';
  }
}

/** A parsed public key, cached by its SubjectPublicKeyInfo DER so repeated verifications skip the import. */
type PreparedKey =
  | { kind: 'node'; key: KeyObject; type: string; curve?: string }
  | { kind: 'sm2'; key: Sm2PublicKey };

const MAX_CACHED_KEYS = 4096;
const keyCache = new Map<string, PreparedKey>();

/**
 * Build an SM2 key's multiplication table once the key has verified this
 * many signatures. Issuer keys recur on every path and leaf keys mostly do
 * not. `npx tsx bench/sm2-verify.ts` (Node 20, 2-core Xeon VM under load)
 * measured 60 ms to build a table and 3.8 ms against 0.7 ms per verification
 * without and with one, so a table pays for itself after about 20 uses.
 * Building it on the second use made every validation in a fresh process
 * pay for it.
 */
const SM2_PRECOMPUTE_AFTER_USES = 16;

export function spkiDer(spki: pkijs.PublicKeyInfo): Uint8Array {
  return spkiBytes(spki) ?? new Uint8Array(spki.toSchema().toBER(false));
}

let keyByObject = new WeakMap<pkijs.PublicKeyInfo, PreparedKey>();

function prepareKey(spki: pkijs.PublicKeyInfo): PreparedKey {
  let prepared = keyByObject.get(spki);
  if (!prepared) {
    prepared = prepareKeyFromDer(spki);
    keyByObject.set(spki, prepared);
  }
  return prepared;
}

function prepareKeyFromDer(spki: pkijs.PublicKeyInfo): PreparedKey {
  const der = spkiDer(spki);
  const cacheKey = Buffer.from(der).toString('base64');
  const cached = keyCache.get(cacheKey);
  if (cached) return cached;
  let prepared: PreparedKey;
  const curve = ecCurveOid(spki);
  // SM2 keys come as id-ecPublicKey on the SM2 curve, or (older encoders) with the curve OID as the key algorithm.
  const isSm2 = (spki.algorithm.algorithmId === ALGORITHM_OID.ecPublicKey && curve === ALGORITHM_OID.sm2Curve) || spki.algorithm.algorithmId === ALGORITHM_OID.sm2Curve;
  if (isSm2) {
    const point = spki.subjectPublicKey.valueBlock.valueHexView;
    if (point.length !== 65 || point[0] !== 4) throw new UnsupportedAlgorithm('the SM2 public key is not an uncompressed 65-byte point');
    prepared = { kind: 'sm2', key: sm2PublicKey(new Uint8Array(point)) };
  } else {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    } catch (error) {
      throw new UnsupportedAlgorithm(`the public key cannot be imported (${(error as Error).message})`);
    }
    prepared = { kind: 'node', key, type: key.asymmetricKeyType ?? 'unknown', curve };
  }
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
  keyCache.set(cacheKey, prepared);
  return prepared;
}

function ecCurveOid(spki: pkijs.PublicKeyInfo): string | undefined {
  const params = spki.algorithm.algorithmParams as { idBlock?: { tagNumber: number; tagClass: number }; valueBlock?: { toString(): string } } | undefined;
  if (params?.idBlock?.tagClass === 1 && params.idBlock.tagNumber === 6) return params.valueBlock?.toString();
  return undefined;
}

export interface SignatureCheck {
  data: Uint8Array;
  signature: Uint8Array;
  spki: pkijs.PublicKeyInfo;
  /** The signature algorithm identifier as it appears in the signed object. */
  algorithm: pkijs.AlgorithmIdentifier;
  /** Digest for algorithm identifiers that name only the key type (CMS rsaEncryption, ecPublicKey). */
  digestOid?: string;
  /** SM2 signer ID; the GM/T 0009 default when omitted. */
  sm2SignerId?: string;
}

/**
 * Verify a signature with Node's crypto for RSA (PKCS#1 v1.5 and PSS), ECDSA
 * and DSA, and with functions/pki/sm2.ts for SM2 with SM3 under the given
 * signer ID.
 * Returns false for a signature that does not verify; throws UnsupportedAlgorithm
 * for an algorithm, key or parameter set that this service does not verify.
 */
export function verifySignature(check: SignatureCheck): boolean {
  const key = prepareKey(check.spki);
  const oid = check.algorithm.algorithmId;
  if (oid === ALGORITHM_OID.rsassaPss) return verifyPss(key, check);
  let spec = SIGNATURE_DIGEST[oid];
  if (!spec && (oid === ALGORITHM_OID.rsaEncryption || oid === ALGORITHM_OID.ecPublicKey)) {
    const digest = check.digestOid ? DIGEST_BY_OID[check.digestOid] : undefined;
    if (!digest) throw new UnsupportedAlgorithm(`digest algorithm ${check.digestOid ?? '(none)'} is not supported`);
    let keyType: 'rsa' | 'ec' | 'sm2' = 'ec';
    if (oid === ALGORITHM_OID.rsaEncryption) keyType = 'rsa';
    else if (key.kind === 'sm2') keyType = 'sm2';
    spec = { digest, key: keyType };
  }
  if (!spec) throw new UnsupportedAlgorithm(`signature algorithm ${oid} is not supported`);
  if (spec.key === 'sm2') {
    if (key.kind !== 'sm2') throw new UnsupportedAlgorithm(`signature algorithm ${oid} needs an SM2 key, but the key is not on the SM2 curve`);
    return verifySm2(key.key, check.data, check.signature, check.sm2SignerId ?? DEFAULT_SM2_SIGNER_ID);
  }
  if (key.kind !== 'node' || key.type !== spec.key) {
    throw new UnsupportedAlgorithm(`signature algorithm ${oid} does not match the ${key.kind === 'sm2' ? 'SM2' : key.type} key`);
  }
  if (spec.key === 'ec' && key.curve !== ALGORITHM_OID.p256 && key.curve !== ALGORITHM_OID.p384) {
    throw new UnsupportedAlgorithm(`elliptic curve ${key.curve ?? '(unnamed)'} is not supported; use P-256 or P-384`);
  }
  return safeVerify(spec.digest, check.data, { key: key.key, dsaEncoding: 'der' }, check.signature);
}

function verifyPss(key: PreparedKey, check: SignatureCheck): boolean {
  if (key.kind !== 'node' || (key.type !== 'rsa' && key.type !== 'rsa-pss')) throw new UnsupportedAlgorithm('RSASSA-PSS needs an RSA key');
  const params = check.algorithm.algorithmParams
    ? new pkijs.RSASSAPSSParams({ schema: check.algorithm.algorithmParams })
    : new pkijs.RSASSAPSSParams();
  const hashOid = params.hashAlgorithm?.algorithmId ?? ALGORITHM_OID.sha1;
  const digest = DIGEST_BY_OID[hashOid];
  if (!digest || digest === 'sm3') throw new UnsupportedAlgorithm(`RSASSA-PSS hash ${hashOid} is not supported`);
  const mgf = params.maskGenAlgorithm;
  if (mgf?.algorithmId && mgf.algorithmId !== ALGORITHM_OID.mgf1) throw new UnsupportedAlgorithm(`RSASSA-PSS mask generation ${mgf.algorithmId} is not supported`);
  const mgfHash = mgf?.algorithmParams ? new pkijs.AlgorithmIdentifier({ schema: mgf.algorithmParams }).algorithmId : ALGORITHM_OID.sha1;
  if (mgfHash !== hashOid) throw new UnsupportedAlgorithm(`RSASSA-PSS with MGF1 hash ${mgfHash} different from the message hash ${hashOid} is not supported`);
  const saltLength = typeof params.saltLength === 'number' ? params.saltLength : 20;
  return safeVerify(digest, check.data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, check.signature);
}

function safeVerify(digest: string, data: Uint8Array, key: Parameters<typeof nodeVerify>[2], signature: Uint8Array): boolean {
  try {
    return nodeVerify(digest, data, key, signature);
  } catch {
    return false;
  }
}

/** Parse a DER ECDSA/SM2 signature (SEQUENCE of two INTEGERs) strictly, or a 64-byte r||s. */
export function parseSm2Signature(signature: Uint8Array): { r: bigint; s: bigint } | undefined {
  if (signature.length === 64) {
    return { r: BigInt('0x' + Buffer.from(signature.subarray(0, 32)).toString('hex')), s: BigInt('0x' + Buffer.from(signature.subarray(32)).toString('hex')) };
  }
  const parsed = asn1js.fromBER(signature);
  if (parsed.offset !== signature.length || !(parsed.result instanceof asn1js.Sequence)) return undefined;
  const items = parsed.result.valueBlock.value;
  if (items.length !== 2 || !items.every((item) => item instanceof asn1js.Integer)) return undefined;
  const reencoded = new Uint8Array(parsed.result.toBER(false));
  if (!Buffer.from(reencoded).equals(Buffer.from(signature))) return undefined;
  const [r, s] = items.map((item) => {
    const bytes = (item as asn1js.Integer).valueBlock.valueHexView;
    if (bytes.length > 0 && bytes[0] & 0x80) return -1n;
    return BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  });
  return { r, s };
}

/** Parse the signature, range-check r and s (@noble/curves leaves that to the caller), and verify. */
function verifySm2(key: Sm2PublicKey, data: Uint8Array, signature: Uint8Array, signerId: string): boolean {
  const rs = parseSm2Signature(signature);
  if (!rs) return false;
  if (rs.r < 1n || rs.r >= SM2_N || rs.s < 1n || rs.s >= SM2_N) return false;
  return verifySm2Signature(key, data, rs.r, rs.s, signerId, SM2_PRECOMPUTE_AFTER_USES);
}

/** Key type and size, for the CA profile's key rules: RSA modulus bits, or the named curve OID. */
export function publicKeyDetails(spki: pkijs.PublicKeyInfo): { type: 'rsa' | 'ec' | 'sm2' | 'dsa' | 'other'; bits?: number; curve?: string } {
  const key = prepareKey(spki);
  if (key.kind === 'sm2') return { type: 'sm2', curve: ALGORITHM_OID.sm2Curve };
  if (key.type === 'rsa' || key.type === 'rsa-pss') return { type: 'rsa', bits: key.key.asymmetricKeyDetails?.modulusLength };
  if (key.type === 'ec') return { type: 'ec', curve: key.curve };
  if (key.type === 'dsa') return { type: 'dsa', bits: key.key.asymmetricKeyDetails?.modulusLength };
  return { type: 'other' };
}

/** Drop cached keys (for benchmarks that measure a cold start). */
export function clearKeyCache(): void {
  keyCache.clear();
  keyByObject = new WeakMap();
}

/**
 * pkijs crypto engine that verifies through verifySignature, so certificate
 * and CRL signatures in SM2 with SM3 verify with the CA profile's signer ID.
 * One engine exists per signer ID.
 */
export class TrustCryptoEngine extends pkijs.CryptoEngine {
  constructor(readonly sm2SignerId: string) {
    super({ name: `trading-identity-${sm2SignerId || 'empty-id'}`, crypto: globalThis.crypto as Crypto });
  }

  override async verifyWithPublicKey(
    data: BufferSource,
    signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo,
    signatureAlgorithm: pkijs.AlgorithmIdentifier,
  ): Promise<boolean> {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (signature instanceof asn1js.BitString && signature.valueBlock.unusedBits !== 0) return false;
    return verifySignature({
      data: bytes,
      signature: signature.valueBlock.valueHexView,
      spki: publicKeyInfo,
      algorithm: signatureAlgorithm,
      sm2SignerId: this.sm2SignerId,
    });
  }
}

const engines = new Map<string, TrustCryptoEngine>();

export function cryptoEngine(sm2SignerId: string = DEFAULT_SM2_SIGNER_ID): TrustCryptoEngine {
  let engine = engines.get(sm2SignerId);
  if (!engine) {
    engine = new TrustCryptoEngine(sm2SignerId);
    engines.set(sm2SignerId, engine);
  }
  return engine;
}

pkijs.setEngine('trading-identity', cryptoEngine());
