import { ADMIN_CONSOLE_CLIENT_ID } from './first-party-clients.js';

// Rules shared by the functions that verify logins and the provider's finish step; no storage access.

/** Kind of account a login interaction accepts: enterprises (platforms, portal) or operators (admin console). */
export type Audience = 'enterprise' | 'operator';

/** Scopes an account of each kind may be granted, whatever the client may request. */
const GRANTABLE_SCOPES: Record<Audience, Set<string>> = {
  enterprise: new Set(['openid', 'enterprise', 'offline_access']),
  operator: new Set(['openid', 'admin']),
};

/** Return the kind of account that the login interaction of `clientId` accepts. */
export const audienceOf = (clientId: string): Audience => (clientId === ADMIN_CONSOLE_CLIENT_ID ? 'operator' : 'enterprise');

/** Return the requested scopes of an authorization request that an account of `audience` may not be granted. */
export function refusedScopes(audience: Audience, params: Record<string, unknown>): string[] {
  return requestedScopes(params).filter((scope) => !GRANTABLE_SCOPES[audience].has(scope));
}

export const requestedScopes = (params: Record<string, unknown>): string[] => String(params.scope ?? 'openid').split(' ').filter(Boolean);
