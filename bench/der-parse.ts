/**
 * Certificate parsing with the canonical-DER walk against the check it
 * replaced (decode with asn1js, encode again, compare the bytes), run in
 * alternating rounds in one process so machine load affects both alike.
 *
 *   npx tsx bench/der-parse.ts [rounds]      (default 20 rounds of 0.5 s each)
 */
import { readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { clearParsedCertificates, parseCertificate } from '../functions/pki/der.js';

const ROUNDS = Number(process.argv[2] ?? 20);
const der = new Uint8Array(readFileSync('/work/shared/testdata/pkits/certs/GoodCACert.crt'));

/** Parse as the service did before: decode, re-encode and compare, then build the pkijs object. */
function parseWithReencoding(bytes: Uint8Array): pkijs.Certificate {
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset !== bytes.byteLength) throw new Error('trailing data');
  const reencoded = new Uint8Array(parsed.result.toBER(false));
  if (!Buffer.from(reencoded).equals(Buffer.from(bytes))) throw new Error('not canonical');
  return new pkijs.Certificate({ schema: parsed.result });
}

function parseNow(bytes: Uint8Array): pkijs.Certificate {
  clearParsedCertificates();
  return parseCertificate(bytes);
}

function countFor(milliseconds: number, parse: (bytes: Uint8Array) => unknown): number {
  const end = performance.now() + milliseconds;
  let count = 0;
  while (performance.now() < end) {
    parse(der);
    count += 1;
  }
  return count;
}

countFor(500, parseWithReencoding);
countFor(500, parseNow);
let before = 0;
let after = 0;
for (let round = 0; round < ROUNDS; round += 1) {
  before += countFor(500, parseWithReencoding);
  after += countFor(500, parseNow);
}
const seconds = (ROUNDS * 500) / 1000;
console.log(`decode, re-encode, compare   ${(before / seconds).toFixed(0)} certificates/s`);
console.log(`canonical-DER walk, decode   ${(after / seconds).toFixed(0)} certificates/s`);
console.log(`ratio                        ${(after / before).toFixed(2)}`);
