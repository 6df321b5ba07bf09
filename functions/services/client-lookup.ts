import { readOidcPayload } from '../db/oidc-items.js';

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
