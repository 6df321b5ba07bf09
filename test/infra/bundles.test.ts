import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS, REPO_ROOT } from '../../infra/aws/functions.js';
import { LAMBDA_BUNDLE_OPTIONS } from '../../infra/bundling.js';

/** Size goal of a function bundle in bytes: 1 MiB, because the benchmark table counts kB of 1,024 bytes. */
const SIZE_GOAL_BYTES = 1024 * 1024;

// Packages each function's bundle must leave out. oidc-provider (with koa)
// is about as large as the bare provider bundle of the cold-start benchmark.
// pkijs with asn1js (certificate checking) and @simplewebauthn/server with its
// ASN.1 packages (passkeys) add about 380 and 230 kB, so a bundle of 1 MB has
// room for only one of the three.
const PROVIDER = ['oidc-provider', 'koa'];
const CERTIFICATES = ['pkijs', 'asn1js'];
const PASSKEYS = ['@simplewebauthn/server'];
const LEFT_OUT: Record<string, string[]> = {
  oidc: [...CERTIFICATES, ...PASSKEYS],
  api: [...PROVIDER, ...PASSKEYS],
  // @simplewebauthn/server's ASN.1 packages use asn1js themselves, so only pkijs is left out here.
  passkeys: [...PROVIDER, 'pkijs'],
  admin: PROVIDER,
  'ca-sync': PROVIDER,
  feed: PROVIDER,
  // The dispatcher ends provider sessions and sends logout tokens through the table and jose.
  dispatcher: [...PROVIDER, ...CERTIFICATES, ...PASSKEYS],
  // The expiry run only marks bindings and records events.
  expiry: [...PROVIDER, ...CERTIFICATES, ...PASSKEYS],
  'crl-refresh': [...PROVIDER, ...PASSKEYS],
};

// Every bundle takes credentials from the environment, where Lambda puts them,
// instead of the SDK's default chain with its STS and SSO clients.
const DEFAULT_CREDENTIAL_CHAIN = ['@aws-sdk/credential-provider-node', '@aws-sdk/nested-clients'];

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
  for (const [name, provided] of Object.entries(LEFT_OUT)) {
    const packages = [...provided, ...DEFAULT_CREDENTIAL_CHAIN];
    it(`${name} leaves out ${packages.join(', ')}`, async () => {
      const { inputs } = await bundle(name);
      for (const pkg of packages) {
        expect(inputs.filter((file) => file.includes(`node_modules/${pkg}/`)), pkg).toEqual([]);
      }
    });

    it(`${name} stays within the size goal`, async () => {
      const { bytes } = await bundle(name);
      expect(bytes).toBeLessThanOrEqual(SIZE_GOAL_BYTES);
    });
  }
});
