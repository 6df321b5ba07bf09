import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Credential provider of the Lambda bundles, put in place of the SDK's default
 * chain (`@aws-sdk/credential-provider-node`) by the bundle alias in
 * `bundling.ts`. The Lambda runtime gives every function its role's
 * credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, so the chain's other sources (shared files, SSO, process,
 * web identity, instance metadata) and the STS and SSO clients they need are
 * never used there. Leaving them out makes each bundle about 130 kB smaller.
 * Code run from source (the local host, tests, CLIs) keeps the full chain.
 */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
