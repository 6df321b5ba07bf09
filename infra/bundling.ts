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
 * - koa pulls in mime-db twice (1.52 through accepts, 1.54 through
 *   mime-types); 1.54 is a superset of the same data, so one copy saves about
 *   140 kB per bundle that contains oidc-provider.
 * - the AWS SDK clients' default credential chain becomes the environment
 *   provider of `lambda-credentials.ts`, which is where Lambda puts the role's
 *   credentials.
 */
export const BUNDLE_ALIASES: Record<string, string> = {
  'mime-db': 'mime-db',
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
  treeShaking: true,
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  alias: BUNDLE_ALIASES,
  legalComments: 'none',
  logLevel: 'warning',
} satisfies BuildOptions;
