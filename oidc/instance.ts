import type Provider from 'oidc-provider';
import { config } from '../functions/lib/config.js';
import { loadProviderKeys } from './keys.js';
import { createProvider } from './provider.js';

let provider: Promise<Provider> | undefined;

/**
 * Return this instance's provider, built once on first use: the OIDC handler
 * serves it, and the feed's session revocation uses its client and session models.
 */
export function getProvider(): Promise<Provider> {
  provider ??= (async () => createProvider(config().issuer, await loadProviderKeys()))().catch((error) => {
    provider = undefined;
    throw error;
  });
  return provider;
}
