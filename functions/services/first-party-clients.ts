import type { ClientMetadata } from 'oidc-provider';
import { config } from '../lib/config.js';

/** The enterprise portal: a public client (PKCE, no secret) served from this service's origin. */
export const PORTAL_CLIENT_ID = 'enterprise-portal';
/** The admin console: operators only, passkey login only. */
export const ADMIN_CONSOLE_CLIENT_ID = 'admin-console';

export const FIRST_PARTY_CLIENT_NAMES: Record<string, string> = {
  [PORTAL_CLIENT_ID]: '企业门户 Enterprise portal',
  [ADMIN_CONSOLE_CLIENT_ID]: '管理控制台 Admin console',
};

/**
 * Registrations of the service's own browser clients, given to oidc-provider
 * as static clients. Both are public clients (authorization code with PKCE)
 * whose redirect URIs are their pages on this service's origin.
 */
export function firstPartyClients(): ClientMetadata[] {
  const origin = config().origin;
  return [
    {
      client_id: PORTAL_CLIENT_ID,
      client_name: FIRST_PARTY_CLIENT_NAMES[PORTAL_CLIENT_ID],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${origin}/static/portal/index.html`],
      post_logout_redirect_uris: [`${origin}/static/portal/index.html`],
      scope: 'openid enterprise',
      id_token_signed_response_alg: 'ES256',
    },
    {
      client_id: ADMIN_CONSOLE_CLIENT_ID,
      client_name: FIRST_PARTY_CLIENT_NAMES[ADMIN_CONSOLE_CLIENT_ID],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${origin}/static/admin/index.html`],
      post_logout_redirect_uris: [`${origin}/static/admin/index.html`],
      scope: 'openid admin',
      id_token_signed_response_alg: 'ES256',
    },
  ];
}
