import { sm2, sm3 } from 'sm-crypto-v2';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
const v = JSON.parse(fs.readFileSync('/work/shared/testdata/sm2/sm2_sign_vector_gmt0003.json','utf8'));
const pre = sm2.precomputePublicKey(v.public_key_uncompressed);
const Z = sm2.getZ(v.public_key_uncompressed, v.user_id);
const msg = new Uint8Array(600).fill(7);
function bench(name, f){ let t=Date.now(), n=0; while(Date.now()-t<1500){f();n++;} console.log(name, Math.round(n/1.5)); }
bench('getZ', ()=>sm2.getZ(v.public_key_uncompressed, v.user_id));
bench('sm3 js 800B', ()=>sm3(new Uint8Array(800)));
bench('sm3 native 800B', ()=>createHash('sm3').update(new Uint8Array(800)).digest());
const e = createHash('sm3').update(Z).update(Buffer.from('message digest')).digest('hex');
console.log(sm2.doVerifySignature(sm2.hexToArray(e), v.r+v.s, pre, {hash:false}));
bench('verify prehashed precomputed', ()=>sm2.doVerifySignature(sm2.hexToArray(e), v.r+v.s, pre, {hash:false}));
