import { writeOidcPayload } from '../db/oidc-writes.js';
import type { PlatformClient } from './client-lookup.js';

export { findPlatformClient, type PlatformClient } from './client-lookup.js';

/**
 * Store (or replace) a platform's OIDC client registration, read by the
 * provider through its adapter. It is written directly, so functions that
 * register clients do not bundle the provider.
 */
export async function savePlatformClient(client: PlatformClient): Promise<void> {
  await writeOidcPayload('Client', client.client_id, {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    // A platform's logins get the enterprise scopes only, unless its registration says otherwise.
    scope: 'openid enterprise',
    ...client,
  });
}
