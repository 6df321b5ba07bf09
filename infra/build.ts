import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { deployableFunctions, FUNCTIONS, REPO_ROOT } from './aws/functions.js';
import { LAMBDA_BUNDLE_OPTIONS } from './bundling.js';
import { buildWeb } from './build-web.js';

export { buildWeb };

/**
 * `npm run build`: bundle the browser pages into dist/web and every function whose handler exists into
 * dist/functions/<name>/index.mjs with the options the CDK stack deploys, and
 * write the esbuild metafile next to it (index.meta.json) for size analysis.
 * `overrides` replace shared options; only the cold-start benchmark passes them, to compare variants.
 */
export async function buildFunctions(
  outRoot = resolve(REPO_ROOT, 'dist/functions'),
  overrides: BuildOptions = {},
): Promise<{ name: string; file: string; bytes: number }[]> {
  const built: { name: string; file: string; bytes: number }[] = [];
  for (const entry of deployableFunctions()) {
    const outdir = join(outRoot, entry.name);
    await mkdir(outdir, { recursive: true });
    const file = join(outdir, 'index.mjs');
    const result = await build({ ...LAMBDA_BUNDLE_OPTIONS, ...overrides, entryPoints: [resolve(REPO_ROOT, entry.entry)], outfile: file, metafile: true });
    await writeFile(join(outdir, 'index.meta.json'), JSON.stringify(result.metafile));
    built.push({ name: entry.name, file, bytes: result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].bytes });
  }
  return built;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const built = await buildFunctions();
  for (const { name, file, bytes } of built) console.log(`${name.padEnd(12)} ${(bytes / 1024).toFixed(0).padStart(6)} kB  ${file}`);
  const skipped = FUNCTIONS.filter((entry) => !built.some((b) => b.name === entry.name));
  if (skipped.length) console.log(`not built (handler file missing): ${skipped.map((entry) => entry.entry).join(', ')}`);
  console.log(`pages built into ${await buildWeb()}`);
}
