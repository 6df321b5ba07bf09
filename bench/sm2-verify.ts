/**
 * SM2 signature verification: sm-crypto-v2 (constant-time multiplication)
 * against functions/pki/sm2.ts (@noble/curves, variable time), each with and
 * without the public key's multiplication table, in alternating 0.3 s rounds
 * in one process so machine load affects all four alike. Also times building
 * one key's table.
 *
 *   npx tsx bench/sm2-verify.ts [rounds]      (default 10)
 */
import { sm2, sm3 } from 'sm-crypto-v2';
import { sm2PublicKey, verifySm2Signature } from '../functions/pki/sm2.js';

const ROUNDS = Number(process.argv[2] ?? 10);
const SIGNER_ID = '1234567812345678';
const keys = sm2.generateKeyPairHex();
const message = new Uint8Array(300).fill(7);
const signatureHex = sm2.doSignature(message, keys.privateKey, { hash: true, userId: SIGNER_ID });
const r = BigInt('0x' + signatureHex.slice(0, 64));
const s = BigInt('0x' + signatureHex.slice(64));
const point = new Uint8Array(Buffer.from(keys.publicKey, 'hex'));
const z = sm2.getZ(keys.publicKey, SIGNER_ID);

/** e = SM3(Z || M), computed per call as the service does. */
function digest(): Uint8Array {
  const input = new Uint8Array(z.length + message.length);
  input.set(z);
  input.set(message, z.length);
  return new Uint8Array(Buffer.from(sm3(input), 'hex'));
}

const precomputedPoint = sm2.precomputePublicKey(keys.publicKey);
const keyWithoutTable = sm2PublicKey(point);
const keyWithTable = sm2PublicKey(point);
verifySm2Signature(keyWithTable, message, r, s, SIGNER_ID, 1);

const variants: [string, () => boolean][] = [
  ['sm-crypto-v2, no table', () => sm2.doVerifySignature(digest(), signatureHex, keys.publicKey, { hash: false })],
  ['sm-crypto-v2, table', () => sm2.doVerifySignature(digest(), signatureHex, precomputedPoint, { hash: false })],
  ['@noble/curves variable time, no table', () => verifySm2Signature(keyWithoutTable, message, r, s, SIGNER_ID, Infinity)],
  ['@noble/curves variable time, table', () => verifySm2Signature(keyWithTable, message, r, s, SIGNER_ID, Infinity)],
];
const counts = variants.map(() => 0);
for (let round = 0; round < ROUNDS; round += 1) {
  variants.forEach(([name, verify], i) => {
    const end = performance.now() + 300;
    while (performance.now() < end) {
      if (!verify()) throw new Error(`${name}: the signature did not verify`);
      counts[i] += 1;
    }
  });
}
const seconds = ROUNDS * 0.3;
for (const [i, [name]] of variants.entries()) {
  console.log(`${name.padEnd(40)} ${(counts[i] / seconds).toFixed(0).padStart(6)} verifications/s`);
}
console.log(`without table, @noble/curves / sm-crypto-v2  ${(counts[2] / counts[0]).toFixed(2)}`);
console.log(`with table, @noble/curves / sm-crypto-v2     ${(counts[3] / counts[1]).toFixed(2)}`);

const fresh = sm2PublicKey(point);
verifySm2Signature(fresh, message, r, s, SIGNER_ID, Infinity);
const start = performance.now();
fresh.decoded!.precompute(8, false);
console.log(`building one key's table (window 8)          ${(performance.now() - start).toFixed(1)} ms`);
