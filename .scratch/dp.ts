import { readFileSync } from 'node:fs';
import { parseCertificate } from '../functions/pki/der.js';
import { extension } from '../functions/pki/certificate.js';
const c = parseCertificate(new Uint8Array(readFileSync('/work/shared/testdata/pkits/certs/ValiddistributionPointTest4EE.crt')));
const e: any = extension(c, '2.5.29.31');
console.log(e.parsingError, e.parsedValue?.constructor?.name, e.parsedValue?.distributionPoints?.length, e.parsedValue?.distributionPoints?.[0]);
