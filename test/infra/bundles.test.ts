import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS, REPO_ROOT } from '../../infra/aws/functions.js';
import { LAMBDA_BUNDLE_OPTIONS } from '../../infra/bundling.js';

/** Size goal of a function bundle in bytes: 1 MiB, because the benchmark table counts kB of 1,024 bytes. */
const SIZE_GOAL_BYTES = 1024 * 1024;

// Functions that do not serve OpenID Connect. Their bundles must not contain
// oidc-provider, whose code and MIME table alone are about as large as the bare
// provider bundle of the cold-start benchmark. The dispatcher ends provider
// sessions and sends logout tokens through the table and jose instead.
// The expiry function only marks bindings and records events.
const WITHOUT_PROVIDER = ['admin', 'ca-sync', 'feed', 'dispatcher', 'expiry'];

const built = new Map<string, Promise<{ bytes: number; inputs: string[] }>>();

/** Bundle a function with the production options, once per test file. */
function bundle(name: string): Promise<{ bytes: number; inputs: string[] }> {
  if (!built.has(name)) built.set(name, buildBundle(name));
  return built.get(name)!;
}

async function buildBundle(name: string) {
  const entry = FUNCTIONS.find((candidate) => candidate.name === name);
  if (!entry) throw new Error(`no function named ${name} in FUNCTIONS`);
  const result = await build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [resolve(REPO_ROOT, entry.entry)], write: false, metafile: true, absWorkingDir: REPO_ROOT });
  return { bytes: result.outputFiles[0].contents.length, inputs: Object.keys(result.metafile.inputs) };
}

describe('function bundles', () => {
  for (const name of WITHOUT_PROVIDER) {
    it(`${name} leaves out oidc-provider`, async () => {
      const { inputs } = await bundle(name);
      expect(inputs.filter((file) => file.includes('node_modules/oidc-provider/'))).toEqual([]);
      expect(inputs.filter((file) => file.includes('node_modules/koa/'))).toEqual([]);
    });

    it(`${name} stays within the size goal`, async () => {
      const { bytes } = await bundle(name);
      expect(bytes).toBeLessThanOrEqual(SIZE_GOAL_BYTES);
    });
  }
});
