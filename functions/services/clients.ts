import type { AdapterPayload } from 'oidc-provider';
import { DynamoDbAdapter } from '../../oidc/adapter.js';
import type { PlatformClient } from './client-lookup.js';

export { findPlatformClient, type PlatformClient } from './client-lookup.js';

/** Store (or replace) a platform's OIDC client registration, read by the provider through its adapter. */
export async function savePlatformClient(client: PlatformClient): Promise<void> {
  await new DynamoDbAdapter('Client').upsert(client.client_id, {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    // A platform's logins get the enterprise scopes only, unless its registration says otherwise.
    scope: 'openid enterprise',
    ...client,
  } as AdapterPayload);
}
