import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildFunctions } from '../infra/build.js';
import { REPO_ROOT } from '../infra/aws/functions.js';
import { LAMBDA_BUNDLE_OPTIONS } from '../infra/bundling.js';

/**
 * Bundle size and cold import time of every function bundle next to a bare
 * oidc-provider handler bundled with the same options, in the same run.
 * Each sample is a fresh `node` process that imports one bundle and reports
 * how long the import took; bundles are sampled in turn so that machine load
 * affects all of them alike. Results: a table on stdout and JSON in
 * bench/results/cold-start.json.
 *
 * With --sdk-external, every function is also bundled with `@aws-sdk/*` left
 * out, as when a function uses the SDK of the Lambda runtime, and measured in
 * the same run. Those bundles import the SDK from this repository's
 * node_modules (the lockfile's version), which stands in for the runtime's copy.
 *
 * Usage: npx tsx bench/cold-start.ts [samples per bundle, default 21] [--sdk-external]
 */
const run = promisify(execFile);
const args = process.argv.slice(2);
const sdkExternal = args.includes('--sdk-external');
const samplesArgument = args.find((arg) => arg !== '--sdk-external');
const samples = Number(samplesArgument ?? 21);
if (!Number.isInteger(samples) || samples < 3) {
  console.error(`samples must be an integer of at least 3, got ${samplesArgument}; usage: npx tsx bench/cold-start.ts [samples] [--sdk-external]`);
  process.exit(2);
}

const outRoot = resolve(REPO_ROOT, 'bench/results/bundles');
const bundles = await buildFunctions(outRoot);
const bareFile = join(outRoot, 'bare-oidc', 'index.mjs');
await mkdir(join(outRoot, 'bare-oidc'), { recursive: true });
await build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [resolve(REPO_ROOT, 'bench/fixtures/bare-oidc-handler.ts')], outfile: bareFile });
// The same bare handler without this project's package replacements (BUNDLE_ALIASES), as esbuild's
// standard options bundle it. It is shown for comparison, and ratios stay relative to bare-oidc.
const plainBareFile = join(outRoot, 'bare-oidc-plain', 'index.mjs');
await mkdir(join(outRoot, 'bare-oidc-plain'), { recursive: true });
await build({ ...LAMBDA_BUNDLE_OPTIONS, alias: {}, entryPoints: [resolve(REPO_ROOT, 'bench/fixtures/bare-oidc-handler.ts')], outfile: plainBareFile });
const targets = [
  { name: 'bare-oidc', file: bareFile },
  { name: 'bare-oidc, standard options', file: plainBareFile },
  ...bundles.map(({ name, file }) => ({ name, file })),
];
if (sdkExternal) {
  const withoutSdk = await buildFunctions(join(outRoot, 'sdk-external'), { external: ['@aws-sdk/*'] });
  targets.push(...withoutSdk.map(({ name, file }) => ({ name: `${name}, SDK external`, file })));
}

// Import in a child with an empty environment apart from PATH, so that no
// configuration or credentials change what module initialisation does.
const probe = `const t = performance.now(); await import(process.argv[1]); console.log(performance.now() - t);`;
async function importMs(file: string): Promise<number> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '--no-warnings', '-e', probe, file], {
    env: { PATH: process.env.PATH ?? '' },
  });
  return Number(stdout.trim().split('\n').pop());
}

const times = new Map<string, number[]>(targets.map((target) => [target.name, []]));
for (const target of targets) await importMs(target.file); // warm the file cache once
for (let i = 0; i < samples; i += 1) {
  for (const target of targets) times.get(target.name)!.push(await importMs(target.file));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const bareMedian = median(times.get('bare-oidc')!);
const rows = [];
for (const target of targets) {
  const content = await readFile(target.file);
  const importMedian = median(times.get(target.name)!);
  rows.push({
    name: target.name,
    bytes: content.length,
    gzipBytes: gzipSync(content).length,
    importMedianMs: Number(importMedian.toFixed(1)),
    importRatio: Number((importMedian / bareMedian).toFixed(2)),
  });
}

console.log(`node ${process.version}, ${samples} samples per bundle, median cold import${sdkExternal ? ', with SDK-external variants' : ''}`);
console.log('| bundle | size (kB) | gzip (kB) | import median (ms) | import ratio to bare |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const row of rows) {
  console.log(`| ${row.name} | ${(row.bytes / 1024).toFixed(0)} | ${(row.gzipBytes / 1024).toFixed(0)} | ${row.importMedianMs} | ${row.importRatio} |`);
}
await writeFile(resolve(REPO_ROOT, 'bench/results/cold-start.json'), JSON.stringify({ node: process.version, samples, sdkExternal, rows }, null, 2));
