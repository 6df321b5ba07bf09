import { resolve } from 'node:path';
import type { BuildOptions } from 'esbuild';

/** Node.js version of the Lambda runtime (nodejs22.x); bundles target its syntax. */
export const LAMBDA_NODE_TARGET = 'node22';

/**
 * Defines `require` inside the ESM bundle. Some CommonJS dependencies call
 * require() for Node built-ins, which esbuild's ESM output cannot do unless a
 * real require exists at run time.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/**
 * Import paths redirected in every bundle:
 * - mime-db, the table of about 2,500 media types that koa reads through
 *   mime-types and accepts, becomes `bundle-mime-db.json`: the entries of the
 *   types the OIDC function sends and accepts (JSON, HTML, text, form bodies,
 *   JWTs, JWK sets), copied unchanged. Building mime-types' maps from the
 *   whole table took about 13 ms of each cold import of the OIDC function
 *   (measured on 2026-12-04, see docs/benchmarks.md), and the table is 147 kB
 *   of every bundle that contains the provider. A test checks the copy against
 *   mime-db and runs a login through the bundled functions.
 * - the AWS SDK clients' default credential chain becomes the environment
 *   provider of `lambda-credentials.ts`, which is where Lambda puts the role's
 *   credentials.
 */
export const BUNDLE_ALIASES: Record<string, string> = {
  'mime-db': resolve(import.meta.dirname, 'bundle-mime-db.json'),
  '@aws-sdk/credential-provider-node': resolve(import.meta.dirname, 'lambda-credentials.ts'),
};

/**
 * esbuild options shared by `npm run build`, the CDK functions and the
 * cold-start benchmark, so that all three measure and ship the same bundle:
 * one minified, tree-shaken ESM file with every dependency (the AWS SDK too)
 * inside, so the deployed code does not depend on the SDK version of the runtime.
 */
export const LAMBDA_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: LAMBDA_NODE_TARGET,
  minify: true,
  // oidc-provider names each model's storage after its class (Interaction, Session, Grant, ...), and other
  // functions read those items by name, so minification must keep class and function names.
  keepNames: true,
  treeShaking: true,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  alias: BUNDLE_ALIASES,
  legalComments: 'none',
  logLevel: 'warning',
} satisfies BuildOptions;
