import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { readOidcPayload } from '../db/oidc-items.js';
import { config } from '../lib/config.js';
import { firstPartyClients } from '../services/first-party-clients.js';
import { loadProviderKeys } from '../../oidc/keys.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG } from '../../oidc/signing.js';
import { EndpointAddressError, postChecked } from './push-endpoint.js';

// OpenID Connect Back-Channel Logout 1.0, sent without oidc-provider so that
// the dispatcher function does not bundle it. The token matches what
// oidc-provider 9.13 issues from Client#backchannelLogout (lib/models/client.js
// and the 'logout' case of lib/models/id_token.js).

/** The event member of a logout token (Back-Channel Logout 1.0 section 2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Lifetime of a logout token in seconds, as oidc-provider sets it. */
const LOGOUT_TOKEN_SECONDS = 120;

/** Timeout of the logout request in milliseconds, the same as oidc-provider's for its outgoing requests. */
const LOGOUT_REQUEST_TIMEOUT_MS = 2500;

/** The registration values of a client that decide whether and how it gets logout tokens. */
export interface LogoutClient {
  clientId: string;
  backchannelLogoutUri?: string;
  /** Whether the token must carry `sid` (backchannel_logout_session_required; false unless registered). */
  sessionRequired: boolean;
  /** JWS algorithm: the client's id_token_signed_response_alg, or the provider's default. */
  alg: string;
}

/**
 * Read a client's back-channel logout settings: the service's own browser
 * clients from their static registration, platforms from their stored Client
 * item. Returns undefined for an unknown client.
 */
export async function findLogoutClient(clientId: string): Promise<LogoutClient | undefined> {
  const metadata: Record<string, unknown> | undefined =
    firstPartyClients().find((client) => client.client_id === clientId) ?? (await readOidcPayload('Client', clientId));
  if (!metadata) return undefined;
  const uri = metadata.backchannel_logout_uri;
  const alg = metadata.id_token_signed_response_alg;
  return {
    clientId,
    backchannelLogoutUri: typeof uri === 'string' && uri !== '' ? uri : undefined,
    sessionRequired: metadata.backchannel_logout_session_required === true,
    alg: typeof alg === 'string' && alg !== '' ? alg : DEFAULT_ID_TOKEN_SIGNING_ALG,
  };
}

let signingKeys: Promise<JWK[]> | undefined;

function providerSigningKeys(): Promise<JWK[]> {
  signingKeys ??= loadProviderKeys()
    .then((keys) => keys.jwks.keys)
    .catch((error) => {
      signingKeys = undefined;
      throw error;
    });
  return signingKeys;
}

/** Drop the cached provider keys, so the next token is signed with the keys loaded anew (after a rotation or in tests). */
export function resetLogoutSigningKeys(): void {
  signingKeys = undefined;
}

const KEY_TYPES: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  PS384: { kty: 'RSA' },
  PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  ES512: { kty: 'EC', crv: 'P-521' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

/**
 * Pick the provider key that signs with `alg`, by oidc-provider's rule: the
 * first key of the algorithm's key type and curve whose `alg`, `use` and
 * `key_ops`, where present, allow signing with it.
 */
export function selectSigningKey(keys: JWK[], alg: string): JWK {
  const type = KEY_TYPES[alg];
  if (!type) throw new Error(`logout tokens cannot be signed with ${alg}; register one of ${Object.keys(KEY_TYPES).join(', ')} as id_token_signed_response_alg`);
  const usable = keys.filter(
    (key) =>
      key.kty === type.kty &&
      (type.crv === undefined || key.crv === type.crv) &&
      (typeof key.alg !== 'string' || key.alg === alg) &&
      (typeof key.use !== 'string' || key.use === 'sig') &&
      (!Array.isArray(key.key_ops) || key.key_ops.includes('sign')),
  );
  // oidc-provider prefers keys that state their alg and use; among equals the first one wins.
  const score = (key: JWK) => (typeof key.alg === 'string' ? 1 : 0) + (typeof key.use === 'string' ? 1 : 0);
  const [chosen] = usable.sort((a, b) => score(b) - score(a));
  if (!chosen) throw new Error(`the provider has no ${alg} signing key (${type.kty}${type.crv ? ` ${type.crv}` : ''}); add one to the provider keys`);
  return chosen;
}

/**
 * Sign a logout token for `client` (Back-Channel Logout 1.0 section 2.4). The
 * header has `typ` logout+jwt and the key's `kid`. The claims are iss, aud,
 * iat, exp (iat + 120 s), jti, sub and the back-channel logout event, plus
 * `sid` when the client registered backchannel_logout_session_required.
 */
export async function signLogoutToken(client: LogoutClient, sub: string, sid: string | undefined): Promise<string> {
  const jwk = selectSigningKey(await providerSigningKeys(), client.alg);
  const key: CryptoKey | Uint8Array = await importJWK(jwk, client.alg);
  const claims: Record<string, unknown> = { sub, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, jti: randomBytes(16).toString('base64url') };
  if (client.sessionRequired) {
    if (!sid) throw new Error(`client ${client.clientId} requires sid in logout tokens but the session has none`);
    claims.sid = sid;
  }
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: client.alg, typ: 'logout+jwt', ...(jwk.kid ? { kid: jwk.kid } : {}) })
    .setIssuer(config().issuer)
    .setAudience(client.clientId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + LOGOUT_TOKEN_SECONDS)
    .sign(key);
}

/**
 * Send a logout token to the client's backchannel_logout_uri as the form
 * parameter `logout_token` (section 2.5). Redirects are not followed and the
 * request times out after 2.5 s. The host must resolve to public addresses,
 * except loopback receivers in local development. Throws unless the platform
 * responds with 200 or 204.
 */
export async function sendBackchannelLogout(client: LogoutClient, sub: string, sid: string | undefined): Promise<void> {
  if (!client.backchannelLogoutUri) throw new Error(`client ${client.clientId} has no backchannel_logout_uri`);
  const body = new URLSearchParams({ logout_token: await signLogoutToken(client, sub, sid) }).toString();
  let response: { status: number; text: string };
  try {
    response = await postChecked(new URL(client.backchannelLogoutUri), body, 'application/x-www-form-urlencoded', LOGOUT_REQUEST_TIMEOUT_MS);
  } catch (error) {
    if (error instanceof EndpointAddressError) throw new Error(`logout token for ${client.clientId} not sent: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
    throw new Error(`POST ${client.backchannelLogoutUri} failed: ${code}: ${(error as Error).message}`);
  }
  if (response.status !== 200 && response.status !== 204) {
    throw new Error(`expected 200 OK from ${client.backchannelLogoutUri}, got HTTP ${response.status}${response.text ? `: ${response.text.slice(0, 200)}` : ''}`);
  }
}
