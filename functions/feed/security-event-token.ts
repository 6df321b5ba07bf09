import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { config } from '../lib/config.js';
import type { StoredEvent } from '../db/events.js';
import { loadProviderKeys } from '../../oidc/keys.js';

/** Media type of a Security Event Token (RFC 8417 section 2.3), sent as the JWS "typ" header and as content-type on push. */
export const SET_MEDIA_TYPE = 'application/secevent+jwt';

interface SigningKey {
  key: CryptoKey | Uint8Array;
  kid: string;
  alg: string;
}

let signingKey: Promise<SigningKey> | undefined;

/**
 * The key that signs Security Event Tokens: the provider's first signing key,
 * the one it also signs ID tokens with. Its public half is in the provider's
 * JWKS at /jwks, so a platform verifies events with the keys it already uses.
 */
async function currentSigningKey(): Promise<SigningKey> {
  signingKey ??= (async () => {
    const jwk = (await loadProviderKeys()).jwks.keys[0] as JWK;
    if (!jwk.kid || !jwk.alg) throw new Error('the first provider signing key has no kid or alg; regenerate the provider keys');
    return { key: await importJWK(jwk, jwk.alg), kid: jwk.kid, alg: jwk.alg };
  })().catch((error) => {
    signingKey = undefined;
    throw error;
  });
  return signingKey;
}

/** Drop the cached signing key, so the next token is signed with the keys loaded anew (after a key rotation or in tests). */
export function resetSigningKey(): void {
  signingKey = undefined;
}

/**
 * The subject of an event as an RFC 9493 subject identifier. Enterprises are
 * named by their credit code and CAs by their profile id, both public
 * identifiers, under the "opaque" format.
 */
function subjectId(event: StoredEvent): Record<string, string> | undefined {
  if (event.creditCode) return { format: 'opaque', id: event.creditCode };
  if (event.caId) return { format: 'opaque', id: event.caId };
  return undefined;
}

/**
 * Sign one feed event as a Security Event Token (RFC 8417) for the platform
 * `audience`. Besides the registered claims it carries `seq` (the feed cursor)
 * and, for enterprise events, `enterprise_seq` (the per-enterprise order).
 */
export async function signEvent(event: StoredEvent, audience: string): Promise<string> {
  const { key, kid, alg } = await currentSigningKey();
  const payload: Record<string, unknown> = {
    toe: Math.floor(Date.parse(event.time) / 1000),
    sub_id: subjectId(event),
    events: { [event.type]: event.data },
    seq: event.seq,
  };
  if (event.enterpriseSeq !== undefined) payload.enterprise_seq = event.enterpriseSeq;
  return new SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: 'secevent+jwt' })
    .setIssuer(config().issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setJti(event.jti)
    .sign(key);
}
