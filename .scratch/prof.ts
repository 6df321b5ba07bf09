import { certificateDer } from '../functions/pki/certificate.js';
import { parseCertificate } from '../functions/pki/der.js';
import { parseCrl, StaticRevocationSource } from '../functions/pki/revocation.js';
import { TrustStore, defaultProfile } from '../functions/pki/trust-store.js';
import { validatePath } from '../functions/pki/validate.js';
import { createRootCa, generateCrl, issueCertificate, issueIntermediateCa } from '../infra/local/openssl-ca.js';
import { tempDir } from '../test/helpers/pki.js';
const root = await createRootCa(await tempDir(), 'P Root', 'rsa');
const issuing = await issueIntermediateCa(root, await tempDir(), 'P Issuing', 'rsa');
const der = certificateDer(parseCertificate((await issueCertificate(issuing, { id: 'l', subject: '/CN=l', algorithm: 'rsa' })).certPem));
const profile = defaultProfile('p', 'p', [root.certPem]); profile.intermediates = [issuing.certPem];
const store = new TrustStore([profile], 1);
const revocation = new StaticRevocationSource([parseCrl(await generateCrl(root)), parseCrl(await generateCrl(issuing))]);
const at = new Date(Date.now() + 60000);
let t = performance.now(); let n = 0;
while (performance.now() - t < 3000) { await validatePath(parseCertificate(der), [], store, { at, usage: 'path', revocation, useIssuerCache: true }); n++; }
console.log('cached/s', n / 3);
t = performance.now(); n = 0;
while (performance.now() - t < 1000) { parseCertificate(der); n++; }
console.log('parse/s', n);
