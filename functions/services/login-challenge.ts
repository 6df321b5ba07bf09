import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { config } from '../lib/config.js';
import { providerCookieKeys } from '../lib/provider-secrets.js';
import { CertificateRejected } from '../pki/reasons.js';

/**
 * Login challenges are stateless: the text the certificate holder signs
 * carries an HMAC of its own lines, so issuing one writes nothing. Single use
 * is enforced where the login is recorded (a conditional put keyed by the
 * interaction uid), not here.
 */
const HEADER = 'trading-identity challenge v3';
/** HKDF info that separates this key from every other use of the cookie keys. */
const HKDF_INFO = 'trading-identity login challenge hmac v1';
const PURPOSE = 'login';
const FIELDS = ['purpose', 'origin', 'context', 'client', 'scope', 'nonce', 'expires'] as const;

/**
 * The login interaction a challenge is for. The client and the requested scope
 * travel inside the authenticated text, so the submission can be checked and
 * recorded without reading the interaction again.
 */
export interface LoginTarget {
  uid: string;
  clientId: string;
  scope: string;
}

export interface LoginChallenge {
  text: string;
  /** Expiry in seconds since the epoch. */
  expiresAt: number;
}

/** Overrides for tests: the clock, and cookie keys in place of the provider's. */
export interface ChallengeOptions {
  now?: Date;
  cookieKeys?: string[];
}

let derived: { cookieKeys: string[]; macKeys: Buffer[] } | undefined;

/** HMAC keys derived from the cookie keys, first one signing; the others still verify, so a rotation keeps issued challenges valid. */
async function macKeys(options: ChallengeOptions): Promise<Buffer[]> {
  const cookieKeys = options.cookieKeys ?? (await providerCookieKeys());
  if (derived?.cookieKeys !== cookieKeys) {
    derived = { cookieKeys, macKeys: cookieKeys.map((key) => Buffer.from(hkdfSync('sha256', Buffer.from(key, 'utf8'), Buffer.alloc(0), HKDF_INFO, 32))) };
  }
  return derived.macKeys;
}

const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(body, 'utf8').digest('base64url');

/**
 * Issue a login challenge for an interaction: purpose, service origin,
 * interaction, client, requested scope, a random nonce and an expiry
 * `challengeTtlSeconds` from `now`, authenticated with an HMAC line.
 */
export async function issueLoginChallenge(target: LoginTarget, options: ChallengeOptions = {}): Promise<LoginChallenge> {
  for (const [name, value] of Object.entries(target)) {
    // A line break would let a value pose as another line of the text.
    if (/[\r\n]/.test(value)) throw new RangeError(`the interaction's ${name} contains a line break, so no challenge can carry it`);
  }
  const [signingKey] = await macKeys(options);
  const expiresAt = Math.floor((options.now ?? new Date()).getTime() / 1000) + config().challengeTtlSeconds;
  const body = [
    HEADER,
    `purpose=${PURPOSE}`,
    `origin=${config().origin}`,
    `context=${target.uid}`,
    `client=${target.clientId}`,
    `scope=${target.scope}`,
    `nonce=${randomBytes(32).toString('base64url')}`,
    `expires=${new Date(expiresAt * 1000).toISOString()}`,
  ].join('\n');
  return { text: `${body}\nmac=${mac(signingKey, body)}`, expiresAt };
}

const invalid = (message: string) => new CertificateRejected('CHALLENGE_INVALID', message);

/** Tell whether `text` has the form of a login challenge (its first line), without checking its MAC. */
export function looksLikeLoginChallenge(text: string): boolean {
  return text.split('\n', 1)[0] === HEADER;
}

/**
 * Check that `text` is a login challenge this service issued for interaction
 * `uid` and that it has not expired, and return the interaction it names.
 * Throws CertificateRejected with code CHALLENGE_INVALID and the reason otherwise.
 */
export async function checkLoginChallenge(text: string, uid: string, options: ChallengeOptions = {}): Promise<LoginTarget> {
  const lines = text.split('\n');
  if (lines[0] !== HEADER) {
    // A stored challenge (binding, passkey) names its purpose in a line of its own.
    const purpose = /^purpose=(.+)$/m.exec(text)?.[1];
    if (purpose && purpose !== PURPOSE) throw invalid(`the challenge was issued for ${purpose}, not ${PURPOSE}; request a new challenge from the login page`);
    throw invalid('the challenge text is not one this service issued for a login; request a new challenge from the login page');
  }
  const macLine = lines.at(-1) ?? '';
  const body = lines.slice(0, -1).join('\n');
  const given = Buffer.from(macLine.startsWith('mac=') ? macLine.slice(4) : '', 'utf8');
  const keys = await macKeys(options);
  const authentic = keys.some((key) => {
    const expected = Buffer.from(mac(key, body), 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (lines.length !== FIELDS.length + 2 || !authentic) {
    throw invalid('the challenge text was altered or was not issued by this service; sign the text exactly as issued');
  }
  const fields = Object.fromEntries(lines.slice(1, -1).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  if (fields.purpose !== PURPOSE) throw invalid(`the challenge was issued for ${fields.purpose}, not ${PURPOSE}; request a new challenge from the login page`);
  if (fields.origin !== config().origin) throw invalid(`the challenge was issued for origin ${fields.origin}, not ${config().origin}`);
  if (fields.context !== uid) throw invalid(`the challenge was issued for sign-in ${fields.context}, not ${uid}; request a new challenge on this page`);
  const expiresAt = Date.parse(fields.expires ?? '');
  if (!(expiresAt > (options.now ?? new Date()).getTime())) throw invalid(`the challenge expired at ${fields.expires}; request a new one`);
  return { uid, clientId: fields.client, scope: fields.scope };
}
