import type { HttpEvent } from './http.js';
import { ApiError } from './errors.js';
import { readOidcPayload } from '../db/oidc-items.js';

/** The authenticated caller of an API: a client (platform, CA firm or automation, by client credentials), an enterprise user or an operator. */
export interface Caller {
  kind: 'client' | 'enterprise' | 'operator';
  clientId: string;
  /** OIDC subject of the enterprise or operator, for user tokens. */
  accountId?: string;
  /** OIDC grant of a user token; its login context records how the user logged in. */
  grantId?: string;
  scopes: Set<string>;
}

/**
 * Authenticate a bearer access token issued by this service's own provider.
 * Tokens are opaque, so they are looked up in the provider's storage: a revoked
 * or expired token is refused at once. `scope` must be granted to the token.
 */
export async function authenticate(event: HttpEvent, requiredScope: string): Promise<Caller> {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const match = header ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header) : null;
  if (!match) {
    throw new ApiError(401, 'UNAUTHENTICATED', `send an access token with the "${requiredScope}" scope as "Authorization: Bearer <token>"`, {
      wwwAuthenticate: `Bearer scope="${requiredScope}"`,
    });
  }
  const token = match[1];
  const payload = (await readOidcPayload('ClientCredentials', token)) ?? (await readOidcPayload('AccessToken', token));
  if (!payload || typeof payload.exp !== 'number' || payload.exp <= Math.floor(Date.now() / 1000)) {
    throw new ApiError(401, 'INVALID_TOKEN', 'the access token is unknown, expired or revoked; obtain a new one from the token endpoint');
  }
  const scopes = new Set(String(payload.scope ?? '').split(' ').filter(Boolean));
  if (!scopes.has(requiredScope)) {
    throw new ApiError(403, 'INSUFFICIENT_SCOPE', `this endpoint needs the "${requiredScope}" scope; the token has ${scopes.size ? [...scopes].join(' ') : 'no scope'}`);
  }
  const accountId = payload.accountId as string | undefined;
  const kind = payload.kind === 'ClientCredentials' ? 'client' : accountId?.startsWith('op_') ? 'operator' : 'enterprise';
  // The provider grants "admin" to operator logins only; this guards against a token that got it otherwise.
  if (requiredScope === 'admin' && kind === 'enterprise') {
    throw new ApiError(403, 'INSUFFICIENT_SCOPE', 'this endpoint is for operators; an enterprise session cannot use it');
  }
  // Machine scopes belong to client-credentials tokens only, whatever a login managed to request.
  if (payload.kind !== 'ClientCredentials' && (requiredScope === 'ca:sync' || requiredScope === 'feed:read')) {
    throw new ApiError(403, 'INSUFFICIENT_SCOPE', `the "${requiredScope}" scope is for client-credentials tokens of CA firms and platforms, not for a user login`);
  }
  return {
    kind,
    clientId: String(payload.clientId),
    accountId,
    grantId: payload.grantId as string | undefined,
    scopes,
  };
}

/** Name of the caller for audit events: the operator's subject for operator logins, else the client id. */
export function actorOf(caller: Caller): string {
  return caller.kind === 'operator' && caller.accountId ? caller.accountId : caller.clientId;
}
