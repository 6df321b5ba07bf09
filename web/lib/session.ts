import { ServiceError } from './api.js';

/**
 * Sign-in of the service's own pages (portal, admin console) through its
 * OpenID Connect provider: authorization code flow with PKCE as a public
 * client. Tokens are kept in sessionStorage, so they end with the tab.
 */
export interface Session {
  accessToken: string;
  expiresAt: number;
  scope: string;
}

interface Pending {
  verifier: string;
  state: string;
  redirectUri: string;
}

const base64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

async function discovery(): Promise<{ authorization_endpoint: string; token_endpoint: string; userinfo_endpoint: string }> {
  const response = await fetch('/.well-known/openid-configuration');
  if (!response.ok) throw new ServiceError(response.status, 'NETWORK', `discovery returned ${response.status}`);
  return response.json();
}

/** Send the browser to the provider to sign in; `extra` adds parameters such as prompt or acr_values. */
export async function beginSignIn(clientId: string, scope: string, extra: Record<string, string> = {}): Promise<void> {
  const metadata = await discovery();
  const redirectUri = `${location.origin}${location.pathname}`;
  const pending: Pending = { verifier: random(), state: random(), redirectUri };
  sessionStorage.setItem(`${clientId}:pending`, JSON.stringify(pending));
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(pending.verifier))));
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    state: pending.state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  location.assign(url.href);
}

/**
 * Finish a sign-in when the page was opened by the provider's redirect: check
 * the state, exchange the code with the PKCE verifier and store the session.
 * Returns undefined when the page was not opened by a redirect.
 */
export async function finishSignIn(clientId: string): Promise<Session | undefined> {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return undefined;
  history.replaceState(null, '', location.pathname);
  const pending = JSON.parse(sessionStorage.getItem(`${clientId}:pending`) ?? 'null') as Pending | null;
  sessionStorage.removeItem(`${clientId}:pending`);
  if (params.has('error')) throw new ServiceError(400, params.get('error')!, params.get('error_description') ?? 'the sign-in was not completed');
  if (!pending || params.get('state') !== pending.state) throw new ServiceError(400, 'INTERACTION_EXPIRED', 'the sign-in response does not match a sign-in started in this tab');
  const metadata = await discovery();
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code')!, redirect_uri: pending.redirectUri, client_id: clientId, code_verifier: pending.verifier }),
  });
  const body = await response.json();
  if (!response.ok) throw new ServiceError(response.status, body.error ?? 'INVALID_TOKEN', body.error_description ?? 'the code exchange failed');
  const session: Session = { accessToken: body.access_token, expiresAt: Date.now() + Number(body.expires_in) * 1000, scope: body.scope };
  sessionStorage.setItem(`${clientId}:session`, JSON.stringify(session));
  return session;
}

export function currentSession(clientId: string): Session | undefined {
  const session = JSON.parse(sessionStorage.getItem(`${clientId}:session`) ?? 'null') as Session | null;
  if (!session || session.expiresAt <= Date.now()) return undefined;
  return session;
}

export function endSession(clientId: string): void {
  sessionStorage.removeItem(`${clientId}:session`);
}

/**
 * Sign out for real: revoke the access token, forget it, and end the
 * provider's session (RP-initiated logout), which returns to this page. Without
 * the last step the next sign-in would reuse the provider session silently,
 * which matters on a shared computer.
 */
export async function signOut(clientId: string): Promise<void> {
  const session = currentSession(clientId);
  endSession(clientId);
  const metadata = (await discovery()) as { revocation_endpoint?: string; end_session_endpoint?: string };
  if (session && metadata.revocation_endpoint) {
    await fetch(metadata.revocation_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: session.accessToken, token_type_hint: 'access_token', client_id: clientId }),
    }).catch(() => undefined);
  }
  if (!metadata.end_session_endpoint) return;
  const url = new URL(metadata.end_session_endpoint);
  url.search = new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: `${location.origin}${location.pathname}` }).toString();
  location.assign(url.href);
}

/** Fetch the signed-in user's claims from the userinfo endpoint. */
export async function userinfo(session: Session): Promise<Record<string, any>> {
  const metadata = await discovery();
  const response = await fetch(metadata.userinfo_endpoint, { headers: { authorization: `Bearer ${session.accessToken}` } });
  if (!response.ok) throw new ServiceError(response.status, 'INVALID_TOKEN', 'the session is no longer valid; sign in again');
  return response.json();
}
