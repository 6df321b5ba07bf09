import { CLIENT_CACHE_SECONDS, clientCache } from '../db/oidc-client-cache.js';
import { readOidcPayload } from '../db/oidc-items.js';
import { FIRST_PARTY_CLIENT_NAMES } from './first-party-clients.js';

// This module does not import the provider's adapter (clients.ts does, to write
// registrations), so handlers that only read client metadata bundle without oidc-provider.

export interface PlatformClient {
  client_id: string;
  client_secret?: string;
  client_name: string;
  redirect_uris: string[];
  grant_types?: string[];
  response_types?: string[];
  token_endpoint_auth_method?: string;
  [key: string]: unknown;
}

/** Read a platform's client registration from the table, or undefined if there is none or it expired. */
export async function findPlatformClient(clientId: string): Promise<PlatformClient | undefined> {
  return (await readOidcPayload('Client', clientId)) as PlatformClient | undefined;
}

/**
 * Return the name a client shows on login pages: the static name of a
 * first-party client, or the registered client_name, read at most every
 * CLIENT_CACHE_SECONDS per instance. Falls back to the client id.
 */
export async function clientDisplayName(clientId: string): Promise<string> {
  if (FIRST_PARTY_CLIENT_NAMES[clientId]) return FIRST_PARTY_CLIENT_NAMES[clientId];
  let cached = clientCache.get(clientId);
  if (!cached || cached.until <= Date.now()) {
    cached = { payload: await readOidcPayload('Client', clientId), until: Date.now() + CLIENT_CACHE_SECONDS * 1000 };
    clientCache.set(clientId, cached);
  }
  const name = cached.payload?.client_name;
  return typeof name === 'string' && name ? name : clientId;
}
