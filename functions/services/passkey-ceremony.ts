import { randomBytes } from 'node:crypto';
import { generateAuthenticationOptions, generateRegistrationOptions, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { consumeChallenge, createChallenge, type ChallengePurpose } from '../db/challenges.js';
import { config, webauthnConfig } from '../lib/config.js';
import { badRequest } from '../lib/errors.js';
import { jsonTypeOf } from '../lib/json-type.js';
import { readClientData, type CeremonyPolicy } from '../webauthn/verify.js';
import { PasskeyRejected } from '../webauthn/reasons.js';

/** COSE algorithms accepted for new credentials: ES256 and RS256, which every platform authenticator offers. */
const ALGORITHMS = [-7, -257];

/**
 * Create registration options whose challenge is a fresh single-use challenge
 * stored in DynamoDB for `context`. Discoverable credentials are preferred and
 * user verification is required.
 */
export async function registrationOptions(input: {
  context: string;
  userHandle: string;
  userName: string;
  userDisplayName: string;
  exclude: { id: string; transports?: string[] }[];
}): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const settings = webauthnConfig();
  const challenge = await createChallenge('webauthn-register', config().origin, config().challengeTtlSeconds, input.context);
  return generateRegistrationOptions({
    rpName: settings.rpName,
    rpID: settings.rpId,
    userID: Buffer.from(input.userHandle, 'base64url'),
    userName: input.userName,
    userDisplayName: input.userDisplayName,
    challenge: Buffer.from(challenge.nonce, 'base64url'),
    timeout: settings.ceremonyTimeoutMs,
    attestationType: settings.aaguidAllowList ? 'direct' : 'none',
    excludeCredentials: input.exclude.map((credential) => ({ id: credential.id, transports: credential.transports as never })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

/** Create options for a usernameless sign-in: no credential list, so the authenticator offers its discoverable credentials. */
export async function authenticationOptions(context: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const settings = webauthnConfig();
  const challenge = await createChallenge('webauthn-login', config().origin, config().challengeTtlSeconds, context);
  return generateAuthenticationOptions({
    rpID: settings.rpId,
    challenge: Buffer.from(challenge.nonce, 'base64url'),
    timeout: settings.ceremonyTimeoutMs,
    userVerification: 'required',
  });
}

/** A new random user handle (16 bytes, base64url). */
export const newUserHandle = () => randomBytes(16).toString('base64url');

/** Validate the user handle that the browser sends back with a registration: user.id of the options. */
export function parseUserHandle(value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(value)) {
    throw badRequest('FIELD_INVALID', 'userHandle must be user.id of the registration options (22 base64url characters)', { field: 'userHandle' });
  }
  return value;
}

/**
 * Take the challenge that a response answers out of storage (single use) and
 * check that it was issued for `purpose` and `context`; return the policy to
 * verify the response with. A second use of the same challenge finds nothing.
 */
export async function claimCeremonyChallenge(clientDataJSON: string, purpose: ChallengePurpose, context: string): Promise<CeremonyPolicy> {
  const { challenge } = readClientData(clientDataJSON);
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    throw new PasskeyRejected('PASSKEY_CHALLENGE_INVALID', 'the response answers a challenge that this service did not issue; start again', 400);
  }
  const consumed = await consumeChallenge(challenge);
  if (!consumed.ok) {
    throw new PasskeyRejected(
      'PASSKEY_CHALLENGE_INVALID',
      consumed.reason === 'expired' ? 'the passkey challenge has expired; start again' : 'the passkey challenge is unknown or was already used; start again',
      400,
    );
  }
  const issued = consumed.challenge;
  if (issued.purpose !== purpose || (issued.context ?? '') !== context || issued.origin !== config().origin) {
    throw new PasskeyRejected('PASSKEY_CHALLENGE_INVALID', `the challenge was issued for ${issued.purpose} of ${issued.context || 'another request'}, not for ${purpose} of ${context}; start again`, 400);
  }
  const settings = webauthnConfig();
  return { expectedChallenge: challenge, origins: settings.origins, rpIds: [settings.rpId], requireUserVerification: true };
}

/** The names an enterprise gives a credential, validated. */
export interface CredentialLabels {
  displayName: string;
  holderName: string;
  holderRole: string;
}

/** Purpose of each label, added to its error messages. */
const LABEL_HINTS: Record<string, string> = {
  displayName: 'name the key so that it can be told apart from other keys later, for example "财务部手机" or "Office YubiKey"',
  holderName: 'send the name of the person who holds the key',
  holderRole: 'send the role of the person who holds the key, for example "投标专员"',
};

/**
 * Characters that display as nothing: whitespace, format characters (Unicode
 * category Cf, such as U+200B ZERO WIDTH SPACE and U+FEFF) and the Hangul fillers.
 */
const INVISIBLE = /[\s\p{Cf}\u115f\u1160\u3164\uffa0]/gu;

function label(body: Record<string, unknown>, field: string, max: number): string {
  const value = body[field];
  const hint = LABEL_HINTS[field] ?? 'it is required';
  if (value === undefined || value === null) throw badRequest('FIELD_MISSING', `${field} is missing; ${hint}`, { field });
  if (typeof value !== 'string') throw badRequest('FIELD_INVALID', `${field} must be a string, got ${jsonTypeOf(value)}; ${hint}`, { field });
  if (value.replace(INVISIBLE, '') === '') {
    const shown = value === '' ? 'is empty' : `${JSON.stringify(value)} contains only spaces or invisible characters`;
    throw badRequest('FIELD_MISSING', `${field} ${shown}; ${hint}`, { field });
  }
  const trimmed = value.trim();
  if (trimmed.length > max) throw badRequest('FIELD_INVALID', `${field} has ${trimmed.length} characters; at most ${max} are allowed`, { field });
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw badRequest('FIELD_INVALID', `${field} contains control characters`, { field });
  return trimmed;
}

export function parseLabels(body: Record<string, unknown>): CredentialLabels {
  return { displayName: label(body, 'displayName', 64), holderName: label(body, 'holderName', 64), holderRole: label(body, 'holderRole', 64) };
}
