import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { readFileSync } from 'node:fs';
const der = new Uint8Array(readFileSync('/work/shared/testdata/pkits/certs/GoodCACert.crt'));
const bench = (name: string, f: () => void) => { let t = performance.now(), n = 0; while (performance.now() - t < 1000) { f(); n++; } console.log(name, n); };
bench('fromBER', () => asn1js.fromBER(der));
const r = asn1js.fromBER(der).result;
bench('toBER', () => r.toBER(false));
bench('new Certificate', () => new pkijs.Certificate({ schema: asn1js.fromBER(der).result }));
