import { normalizeZ, wNAF } from '@noble/curves/abstract/curve';
import { Field } from '@noble/curves/abstract/modular';
import { weierstrassN, type WeierstrassPoint } from '@noble/curves/abstract/weierstrass';
import { createHash } from 'node:crypto';

/**
 * The SM2 recommended curve sm2p256v1 (GM/T 0003.5-2012, GB/T 32918.5-2016),
 * defined here with @noble/curves so that verification can multiply in
 * variable time. sm-crypto-v2 builds the same curve but does not
 * export it, and its verification multiplies in constant time.
 */
const SM2_CURVE = {
  p: BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF'),
  a: BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC'),
  b: BigInt('0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93'),
  n: BigInt('0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123'),
  h: 1n,
  Gx: BigInt('0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7'),
  Gy: BigInt('0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0'),
} as const;

export const SM2_N = SM2_CURVE.n;

/**
 * The field of sm2p256v1 coordinates. @noble/curves 1.9.7 reduces every sum
 * and difference with a BigInt division (`%`). Operands here are already
 * reduced, so one comparison and at most one subtraction or addition of p
 * give the same result. Anything still out of range takes the division.
 */
const Fp = (() => {
  const field = Field(SM2_CURVE.p);
  const p = SM2_CURVE.p;
  const add = (lhs: bigint, rhs: bigint): bigint => {
    const sum = lhs + rhs;
    if (sum < p) return sum >= 0n ? sum : field.create(sum);
    const reduced = sum - p;
    return reduced < p ? reduced : field.create(reduced);
  };
  const sub = (lhs: bigint, rhs: bigint): bigint => {
    const difference = lhs - rhs;
    if (difference >= 0n) return difference < p ? difference : field.create(difference);
    const raised = difference + p;
    return raised >= 0n ? raised : field.create(raised);
  };
  return Object.freeze({ ...field, add, sub });
})();

export const Sm2Point = weierstrassN(SM2_CURVE, { Fp });
export type Sm2Point = WeierstrassPoint<bigint>;

/**
 * Multiplier that walks a point's table in variable time. multiplyUnsafe in
 * @noble/curves 1.9.7 walks a table in constant time, and verification with
 * the variable-time walk measured about 1.2 times faster (bench/sm2-verify.ts).
 */
const windowedMultiplier = new wNAF(Sm2Point, 256);
const normalizeTable = (points: Sm2Point[]) => normalizeZ(Sm2Point, points);

/** Return [scalar]point + accumulator without constant-time measures, with the point's table where it has one. */
function multiplyPublic(point: Sm2Point, scalar: bigint, accumulator?: Sm2Point): Sm2Point {
  if (windowedMultiplier.hasCache(point)) return windowedMultiplier.unsafe(point, scalar, normalizeTable, accumulator);
  const product = point.multiplyUnsafe(scalar);
  return accumulator ? accumulator.add(product) : product;
}

/**
 * Window size of the multiplication table that a frequently used key gets.
 * The generator has a table of this size from the start.
 */
const TABLE_WINDOW_BITS = 8;

/**
 * A public key prepared for SM2 verification: the curve point, once decoded,
 * the Z values by signer ID, and a use count that decides when the key gets
 * its own multiplication table.
 */
export interface Sm2PublicKey {
  /** The uncompressed point (04 || x || y), 65 bytes. */
  point: Uint8Array;
  /** The decoded point, or null when the bytes are not a point on the curve. */
  decoded: Sm2Point | null | undefined;
  uses: number;
  z: Map<string, Uint8Array>;
}

export function sm2PublicKey(point: Uint8Array): Sm2PublicKey {
  return { point, decoded: undefined, uses: 0, z: new Map() };
}

function decodePoint(key: Sm2PublicKey): Sm2Point | null {
  if (key.decoded === undefined) {
    try {
      key.decoded = Sm2Point.fromBytes(key.point);
    } catch {
      // fromBytes rejects a point that is not on the curve; such a key verifies nothing.
      key.decoded = null;
    }
  }
  return key.decoded;
}

/** Encode a field element as the 32 bytes that Z hashes. */
const fieldBytes = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');

/** Parameters hashed into every Z value: a, b and the generator's coordinates. */
const CURVE_BYTES = Buffer.concat([SM2_CURVE.a, SM2_CURVE.b, SM2_CURVE.Gx, SM2_CURVE.Gy].map(fieldBytes));

/**
 * Compute Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0003.2-2012
 * section 5.5), where ENTL is the bit length of the UTF-8 signer ID in two bytes.
 * SM3 comes from Node's OpenSSL, which verifies SM2 itself only with an empty ID.
 */
function zValue(key: Sm2PublicKey, point: Sm2Point, signerId: string): Uint8Array {
  let z = key.z.get(signerId);
  if (!z) {
    const id = Buffer.from(signerId, 'utf8');
    const bits = id.length * 8;
    const { x, y } = point.toAffine();
    z = createHash('sm3').update(Buffer.from([(bits >> 8) & 0xff, bits & 0xff])).update(id).update(CURVE_BYTES).update(fieldBytes(x)).update(fieldBytes(y)).digest();
    key.z.set(signerId, z);
  }
  return z;
}

/**
 * Verify an SM2 signature (GM/T 0003.2-2012): e = SM3(Z || M),
 * t = r + s (mod n), (x1, y1) = [s]G + [t]P, and accept when
 * r = e + x1 (mod n). r and s must already be in [1, n - 1].
 *
 * The multiplications run in variable time: verification handles only
 * public values (key, message and signature), so timing reveals nothing
 * secret. A key gets its own multiplication table once it has verified
 * `precomputeAfterUses` signatures.
 */
export function verifySm2Signature(key: Sm2PublicKey, data: Uint8Array, r: bigint, s: bigint, signerId: string, precomputeAfterUses: number): boolean {
  const publicPoint = decodePoint(key);
  if (!publicPoint) return false;
  const z = zValue(key, publicPoint, signerId);
  const e = BigInt('0x' + createHash('sm3').update(z).update(data).digest('hex'));
  const t = (r + s) % SM2_N;
  if (t === 0n) return false;
  key.uses += 1;
  if (key.uses === precomputeAfterUses) publicPoint.precompute(TABLE_WINDOW_BITS, false);
  const sum = multiplyPublic(publicPoint, t, multiplyPublic(Sm2Point.BASE, s));
  if (sum.is0()) return false;
  return affineXMatches(sum, (((r - e) % SM2_N) + SM2_N) % SM2_N);
}

/**
 * Check (e + x1) mod n = r for the point's affine x1 = X / Z without
 * inverting Z, given target = (r - e) mod n. Because x1 < p < 2n, the check
 * is true exactly when x1 is target or target + n, so X is compared with
 * target * Z and, where target + n < p, with (target + n) * Z.
 */
export function affineXMatches(point: Sm2Point, target: bigint): boolean {
  if (Fp.eql(point.X, Fp.mul(target, point.Z))) return true;
  const higher = target + SM2_N;
  return higher < SM2_CURVE.p && Fp.eql(point.X, Fp.mul(higher, point.Z));
}
