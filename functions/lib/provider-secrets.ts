import { loadProviderKeys } from '../../oidc/keys.js';

let cookieKeys: Promise<string[]> | undefined;

/**
 * Return the provider's cookie keys (the first one signs), loaded once per
 * instance from the same place as the provider's own: Secrets Manager in AWS,
 * the keys file locally. Functions without the provider use them to check the
 * interaction cookie and to derive the login challenge key.
 */
export function providerCookieKeys(): Promise<string[]> {
  cookieKeys ??= loadProviderKeys()
    .then((keys) => keys.cookieKeys)
    .catch((error) => {
      cookieKeys = undefined;
      throw error;
    });
  return cookieKeys;
}

