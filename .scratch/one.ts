import { pkitsVectors, runPkitsVector } from '../test/conformance/pkits.js';
for (const v of pkitsVectors().filter(v => /^4\.(5\.4|5\.6|14\.4|14\.8) /.test(v.Name))) console.log(v.Name, await runPkitsVector(v));
