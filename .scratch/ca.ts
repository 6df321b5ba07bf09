import { createRootCa, issueCertificate } from '../infra/local/openssl-ca.js';
import { tempDir } from '../test/helpers/pki.js';
for (const a of ['rsa','ec','ec384','sm2'] as const) {
const ca = await createRootCa(await tempDir(), `Sig ${a} CA`, a);
try { await issueCertificate(ca, { id: 'holder', subject: '/C=CN/O=Holder/CN=Holder', algorithm: a }); console.log(a,'ok') } catch (e) { console.log(a, e); }
}
