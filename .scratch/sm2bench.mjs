import { sm2 } from 'sm-crypto-v2';
const v = JSON.parse(await import('node:fs').then(f=>f.readFileSync('/work/shared/testdata/sm2/sm2_sign_vector_gmt0003.json','utf8')));
const ok = sm2.doVerifySignature('message digest', v.r+v.s, v.public_key_uncompressed, {hash:true, userId: v.user_id});
console.log('vector', ok);
let t=Date.now(); let n=0; while(Date.now()-t<2000){ sm2.doVerifySignature('message digest', v.r+v.s, v.public_key_uncompressed, {hash:true, userId: v.user_id}); n++;}
console.log('per s', n/2);
const pre = sm2.precomputePublicKey(v.public_key_uncompressed);
t=Date.now(); n=0; while(Date.now()-t<2000){ sm2.doVerifySignature('message digest', v.r+v.s, pre, {hash:true, userId: v.user_id}); n++;}
console.log('precomputed per s', n/2);
console.log(Object.keys(sm2));
