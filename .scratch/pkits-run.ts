import { pkitsVectors, runPkitsVector } from '../test/conformance/pkits.js';
let pass = 0;
for (const v of pkitsVectors()) {
  const out = await runPkitsVector(v);
  const ok = out.valid === v.ShouldValidate;
  if (ok) pass++;
  else console.log(`${v.Name}\texpected=${v.ShouldValidate}\tgot=${out.valid}\t${out.code ?? ''}\t${(out.message ?? '').slice(0, 200)}`);
}
console.log('pass', pass);
