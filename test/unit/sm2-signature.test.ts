import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sm2 } from 'sm-crypto-v2';
import { describe, expect, it } from 'vitest';
import { parseCertificate } from '../../functions/pki/der.js';
import { ALGORITHM_OID, cryptoEngine, verifySignature } from '../../functions/pki/signature.js';
import { SM2_N, Sm2Point, affineXMatches, sm2PublicKey, verifySm2Signature } from '../../functions/pki/sm2.js';
import { testDataPath } from '../helpers/testdata.js';

const SM2_DATA = testDataPath('sm2');
const vector = JSON.parse(readFileSync(join(SM2_DATA, 'sm2_sign_vector_gmt0003.json'), 'utf8'));

function sm2Spki(pointHex: string): pkijs.PublicKeyInfo {
  const schema = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ALGORITHM_OID.ecPublicKey }), new asn1js.ObjectIdentifier({ value: ALGORITHM_OID.sm2Curve })] }),
      new asn1js.BitString({ valueHex: Buffer.from(pointHex, 'hex') }),
    ],
  });
  return new pkijs.PublicKeyInfo({ schema: asn1js.fromBER(schema.toBER(false)).result });
}

function derSignature(rHex: string, sHex: string): Uint8Array {
  const integer = (hex: string) => {
    let bytes = Buffer.from(hex, 'hex');
    while (bytes.length > 1 && bytes[0] === 0 && !(bytes[1] & 0x80)) bytes = bytes.subarray(1);
    if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return new asn1js.Integer({ valueHex: bytes });
  };
  return new Uint8Array(new asn1js.Sequence({ value: [integer(rHex), integer(sHex)] }).toBER(false));
}

const verifyVector = (overrides: { user_id?: string; message_ascii?: string; r?: string; s?: string }) =>
  verifySignature({
    data: new TextEncoder().encode(overrides.message_ascii ?? vector.message_ascii),
    signature: derSignature(overrides.r ?? vector.r, overrides.s ?? vector.s),
    spki: sm2Spki(vector.public_key_uncompressed),
    algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm2WithSm3 }),
    sm2SignerId: overrides.user_id ?? vector.user_id,
  });

describe('SM2 with SM3 (GM/T 0003.5 Annex A)', () => {
  it('verifies the standard signature', () => {
    expect(verifyVector({})).toBe(true);
  });

  it('accepts the DER encoding from the standard', () => {
    const signature = new Uint8Array(Buffer.from(vector.signature_der, 'hex'));
    const ok = verifySignature({
      data: new TextEncoder().encode(vector.message_ascii),
      signature,
      spki: sm2Spki(vector.public_key_uncompressed),
      algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm2WithSm3 }),
    });
    expect(ok).toBe(true);
  });

  const negativeCases: [string, Record<string, string>][] = vector.negative_cases.map((c: Record<string, string>) => [c.name, c]);
  it.each(negativeCases)('rejects variant: %s', (_name, variant) => {
    expect(verifyVector(variant)).toBe(false);
  });

  it('rejects trailing bytes after the DER signature', () => {
    const signature = new Uint8Array([...Buffer.from(vector.signature_der, 'hex'), 0]);
    const ok = verifySignature({
      data: new TextEncoder().encode(vector.message_ascii),
      signature,
      spki: sm2Spki(vector.public_key_uncompressed),
      algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm2WithSm3 }),
    });
    expect(ok).toBe(false);
  });
});

/** Rows of signature_check.tsv: file, subject, notAfter, then issuer results such as "x.pem:OK". */
const checks = readFileSync(join(SM2_DATA, 'signature_check.tsv'), 'utf8')
  .split('\n')
  .filter((line) => /^(gmsm|tongsuo)\//.test(line))
  .flatMap((line) => {
    const [file, , , results] = line.split('\t');
    return (results ?? '')
      .split(' ')
      .filter((r) => r.includes(':'))
      .map((result) => {
        const [issuer, verdict] = result.split(':');
        return { file, issuer, verdict };
      });
  });

describe('real SM2 certificates', () => {
  it('has signature checks to run', () => {
    expect(checks.length).toBeGreaterThan(15);
  });

  it.each(checks.map((c) => [`${c.file} by ${c.issuer}: ${c.verdict}`, c] as const))('%s', async (_name, check) => {
    const { file, issuer, verdict } = check;
    const cert = parseCertificate(readFileSync(join(SM2_DATA, file), 'utf8'));
    const issuerCert = parseCertificate(readFileSync(join(SM2_DATA, issuer), 'utf8'));
    const withDefaultId = await cert.verify(issuerCert, cryptoEngine('1234567812345678'));
    const withEmptyId = await cert.verify(issuerCert, cryptoEngine(''));
    if (verdict === 'OK') {
      expect(withDefaultId).toBe(true);
      expect(withEmptyId).toBe(false);
    } else if (verdict.startsWith('OK-empty-ID')) {
      expect(withDefaultId).toBe(false);
      expect(withEmptyId).toBe(true);
    } else {
      expect(withDefaultId).toBe(false);
      expect(withEmptyId).toBe(false);
    }
  });
});

describe('real SM2 chain through path validation', () => {
  const pem = (file: string) => readFileSync(join(SM2_DATA, file), 'utf8');
  const validate = async (signerId: string) => {
    const { TrustStore, defaultProfile } = await import('../../functions/pki/trust-store.js');
    const { validatePath } = await import('../../functions/pki/validate.js');
    const { StaticRevocationSource } = await import('../../functions/pki/revocation.js');
    const profile = { ...defaultProfile('tongsuo', 'Tongsuo test root', [pem('tongsuo/008_284087551c1a.pem')]), sm2SignerId: signerId };
    profile.revocation = { ...profile.revocation, failPolicy: 'open' as const };
    const leaf = parseCertificate(pem('tongsuo/012_2680928939d7.pem'));
    const chain = [parseCertificate(pem('tongsuo/009_ce47c534de91.pem'))];
    return validatePath(leaf, chain, new TrustStore([profile], 1), { at: new Date('2024-06-01T00:00:00Z'), usage: 'path', revocation: new StaticRevocationSource([]) });
  };

  it('validates with the default signer ID', async () => {
    const validated = await validate('1234567812345678');
    expect(validated.path).toHaveLength(3);
  });

  it('fails when the profile sets the empty signer ID', async () => {
    await expect(validate('')).rejects.toMatchObject({ code: 'PATH_INVALID' });
  });
});

describe('SM2 variable-time verification', () => {
  const signerId = '1234567812345678';
  const pointOf = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

  it('derives the standard public key from its private key', () => {
    const derived = Sm2Point.BASE.multiply(BigInt('0x' + vector.private_key));
    expect(Buffer.from(derived.toBytes(false)).toString('hex').toUpperCase()).toBe(vector.public_key_uncompressed);
  });

  it('has a generator of order n', () => {
    expect(Sm2Point.BASE.multiplyUnsafe(SM2_N - 1n).add(Sm2Point.BASE).is0()).toBe(true);
  });

  it('agrees with sm-crypto-v2 before and after the key table', () => {
    const keys = sm2.generateKeyPairHex();
    const key = sm2PublicKey(pointOf(keys.publicKey));
    const precomputeAfterUses = 4;
    for (let i = 0; i < 12; i += 1) {
      const message = new TextEncoder().encode(`message ${i}`);
      const signatureHex = sm2.doSignature(message, keys.privateKey, { hash: true, userId: signerId });
      const r = BigInt('0x' + signatureHex.slice(0, 64));
      const s = BigInt('0x' + signatureHex.slice(64));
      const expected = sm2.doVerifySignature(message, signatureHex, keys.publicKey, { hash: true, userId: signerId });
      expect(expected).toBe(true);
      expect(verifySm2Signature(key, message, r, s, signerId, precomputeAfterUses)).toBe(true);
      const tampered = (s % (SM2_N - 1n)) + 1n;
      const tamperedHex = r.toString(16).padStart(64, '0') + tampered.toString(16).padStart(64, '0');
      const expectedTampered = sm2.doVerifySignature(message, tamperedHex, keys.publicKey, { hash: true, userId: signerId });
      expect(verifySm2Signature(key, message, r, tampered, signerId, precomputeAfterUses)).toBe(expectedTampered);
      expect(verifySm2Signature(key, message, r, s, '', precomputeAfterUses)).toBe(false);
    }
    expect(key.uses).toBeGreaterThan(precomputeAfterUses);
  });

  it('compares affine x without inverting Z', () => {
    // Projective coordinates with x1 = X / Z chosen directly, including x1 >= n, which a real
    // signature reaches with a probability below 2^-128 (p - n < 2^128).
    const p = Sm2Point.Fp.ORDER;
    const z = 0x1234567n;
    const pointWithX = (x1: bigint) => new Sm2Point((x1 * z) % p, 1n, z);
    expect(affineXMatches(pointWithX(5n), 5n)).toBe(true);
    expect(affineXMatches(pointWithX(5n), 6n)).toBe(false);
    expect(affineXMatches(pointWithX(SM2_N + 5n), 5n)).toBe(true);
    expect(affineXMatches(pointWithX(SM2_N + 5n), 6n)).toBe(false);
    expect(affineXMatches(pointWithX(p - 1n), p - 1n - SM2_N)).toBe(true);
    expect(affineXMatches(pointWithX(SM2_N - 1n), SM2_N - 1n)).toBe(true);
    // x1 = target + n must not match when target + n >= p, because no affine x is that large.
    expect(affineXMatches(pointWithX(p - SM2_N), SM2_N - 1n)).toBe(false);
  });

  it('rejects a public key that is not on the curve', () => {
    const point = pointOf(vector.public_key_uncompressed);
    point[64] ^= 1;
    const key = sm2PublicKey(point);
    expect(verifySm2Signature(key, new TextEncoder().encode(vector.message_ascii), BigInt('0x' + vector.r), BigInt('0x' + vector.s), signerId, 16)).toBe(false);
    expect(key.decoded).toBeNull();
  });
});
