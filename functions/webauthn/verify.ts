import {
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { PasskeyRejected, type PasskeyRejectionCode } from './reasons.js';

/** Requirements of one ceremony: the single-use challenge and this deployment's origins and RP IDs. */
export interface CeremonyPolicy {
  /** base64url challenge that this service issued for the ceremony. */
  expectedChallenge: string;
  origins: string[];
  rpIds: string[];
  requireUserVerification: boolean;
}

export interface RegistrationPolicy extends CeremonyPolicy {
  /** Authenticator models (AAGUIDs, lower case) accepted; undefined accepts any. */
  aaguidAllowList?: string[];
}

/** A credential as verified at registration, ready to store. */
export interface VerifiedCredential {
  credentialId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: AuthenticatorTransportFuture[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFormat: string;
  userVerified: boolean;
}

/** The stored part of a credential that an authentication is checked against. */
export interface StoredKey {
  credentialId: string;
  publicKey: string;
  counter: number;
  transports?: AuthenticatorTransportFuture[];
}

export interface VerifiedAuthentication {
  newCounter: number;
  userVerified: boolean;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
/** Maximum credential ID length accepted, in base64url characters (WebAuthn allows 1023 bytes). */
const MAX_CREDENTIAL_ID_LENGTH = 1400;
const MAX_FIELD_LENGTH = 64 * 1024;

const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

function invalid(message: string): PasskeyRejected {
  return new PasskeyRejected('PASSKEY_RESPONSE_INVALID', message, 400);
}

function base64urlField(container: Record<string, unknown>, name: string, path: string, optional = false): string | undefined {
  const value = container[name];
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw invalid(`${path} is missing; send the credential exactly as the browser returned it (base64url fields)`);
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD_LENGTH || !BASE64URL.test(value)) {
    throw invalid(`${path} must be a base64url string of at most ${MAX_FIELD_LENGTH} characters`);
  }
  return value;
}

function credentialEnvelope(body: unknown, what: string): { id: string; response: Record<string, unknown>; raw: Record<string, unknown> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`${what} must be a JSON object (a PublicKeyCredential in JSON form)`);
  const raw = body as Record<string, unknown>;
  const id = base64urlField(raw, 'id', `${what}.id`)!;
  if (id.length > MAX_CREDENTIAL_ID_LENGTH) throw invalid(`${what}.id has ${id.length} characters; credential IDs are at most ${MAX_CREDENTIAL_ID_LENGTH}`);
  if (raw.rawId !== id) throw invalid(`${what}.rawId must equal ${what}.id`);
  if (raw.type !== 'public-key') throw invalid(`${what}.type is ${JSON.stringify(raw.type)}; only "public-key" credentials exist`);
  const response = raw.response;
  if (typeof response !== 'object' || response === null || Array.isArray(response)) throw invalid(`${what}.response is missing`);
  return { id, response: response as Record<string, unknown>, raw };
}

/** Check the shape of a registration response from the browser and return it typed. */
export function parseRegistrationResponse(body: unknown): RegistrationResponseJSON {
  const { id, response } = credentialEnvelope(body, 'credential');
  base64urlField(response, 'clientDataJSON', 'credential.response.clientDataJSON');
  base64urlField(response, 'attestationObject', 'credential.response.attestationObject');
  const transports = response.transports ?? [];
  if (!Array.isArray(transports) || transports.some((t) => typeof t !== 'string' || !TRANSPORTS.has(t))) {
    throw invalid(`credential.response.transports must list only ${[...TRANSPORTS].join(', ')}`);
  }
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: response.clientDataJSON as string,
      attestationObject: response.attestationObject as string,
      transports: transports as AuthenticatorTransportFuture[],
    },
    clientExtensionResults: {},
  };
}

/** Check the shape of an authentication response from the browser and return it typed. */
export function parseAuthenticationResponse(body: unknown): AuthenticationResponseJSON {
  const { id, response } = credentialEnvelope(body, 'credential');
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: base64urlField(response, 'clientDataJSON', 'credential.response.clientDataJSON')!,
      authenticatorData: base64urlField(response, 'authenticatorData', 'credential.response.authenticatorData')!,
      signature: base64urlField(response, 'signature', 'credential.response.signature')!,
      userHandle: base64urlField(response, 'userHandle', 'credential.response.userHandle', true),
    },
    clientExtensionResults: {},
  };
}

/** The fields of clientDataJSON that decide which challenge and origin a response belongs to. */
export interface ClientData {
  type: string;
  challenge: string;
  origin: string;
}

/** Decode clientDataJSON (base64url JSON), rejecting anything that is not a WebAuthn client data object. */
export function readClientData(clientDataJSON: string): ClientData {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
  } catch {
    throw invalid('credential.response.clientDataJSON is not base64url-encoded JSON');
  }
  const data = value as Partial<ClientData>;
  if (typeof data?.type !== 'string' || typeof data.challenge !== 'string' || typeof data.origin !== 'string') {
    throw invalid('credential.response.clientDataJSON lacks type, challenge or origin');
  }
  return { type: data.type, challenge: data.challenge, origin: data.origin };
}

/**
 * Check the origin and challenge first, so that the two commonest mistakes get
 * a precise message, before the library checks everything else.
 */
function checkClientData(clientDataJSON: string, policy: CeremonyPolicy): void {
  const data = readClientData(clientDataJSON);
  if (data.challenge !== policy.expectedChallenge) {
    throw new PasskeyRejected('PASSKEY_CHALLENGE_INVALID', `the passkey response carries challenge ${data.challenge}, which is not the one issued for this request; start again`, 400);
  }
  if (!policy.origins.includes(data.origin)) {
    throw new PasskeyRejected(
      'PASSKEY_ORIGIN_INVALID',
      `the passkey response was made on origin ${data.origin}, but this service accepts only ${policy.origins.join(', ')}; open the page at that address`,
    );
  }
}

/** Translate an error thrown by @simplewebauthn/server into a rejection with a stable code. */
function fromLibrary(error: unknown, ceremony: 'registration' | 'authentication'): PasskeyRejected {
  const message = error instanceof Error ? error.message : String(error);
  const rules: [RegExp, PasskeyRejectionCode][] = [
    [/challenge/i, 'PASSKEY_CHALLENGE_INVALID'],
    [/origin/i, 'PASSKEY_ORIGIN_INVALID'],
    [/RP ID/i, 'PASSKEY_RP_ID_INVALID'],
    [/user could not be verified|user verification/i, 'PASSKEY_USER_NOT_VERIFIED'],
    [/signature/i, 'PASSKEY_SIGNATURE_INVALID'],
  ];
  const code = rules.find(([pattern]) => pattern.test(message))?.[1] ?? 'PASSKEY_RESPONSE_INVALID';
  return new PasskeyRejected(code, `the passkey ${ceremony} response was rejected: ${message}`, code === 'PASSKEY_RESPONSE_INVALID' ? 400 : 422);
}

/**
 * Verify a registration (attestation) response under this deployment's policy.
 * With an AAGUID allow-list the response must carry an attestation statement
 * ("none" is rejected) and name an allowed model.
 */
export async function verifyPasskeyRegistration(response: RegistrationResponseJSON, policy: RegistrationPolicy): Promise<VerifiedCredential> {
  checkClientData(response.response.clientDataJSON, policy);
  let result;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge: policy.expectedChallenge,
      expectedOrigin: policy.origins,
      expectedRPID: policy.rpIds,
      requireUserVerification: policy.requireUserVerification,
    });
  } catch (error) {
    throw fromLibrary(error, 'registration');
  }
  if (!result.verified || !result.registrationInfo) {
    throw new PasskeyRejected('PASSKEY_SIGNATURE_INVALID', 'the attestation signature of the passkey registration does not verify');
  }
  const info = result.registrationInfo;
  const aaguid = info.aaguid.toLowerCase();
  if (policy.aaguidAllowList) {
    // NOTE: attestation chains are not checked against FIDO metadata roots here. The
    // allow-list therefore keeps out models that report themselves honestly, but not a forged authenticator.
    if (info.fmt === 'none') {
      throw new PasskeyRejected('PASSKEY_AUTHENTICATOR_NOT_ALLOWED', 'this deployment accepts only listed authenticator models, and the response carries no attestation statement ("none")');
    }
    if (!policy.aaguidAllowList.includes(aaguid)) {
      throw new PasskeyRejected('PASSKEY_AUTHENTICATOR_NOT_ALLOWED', `authenticator model ${aaguid} is not on this deployment's allow-list`);
    }
  }
  return {
    credentialId: info.credential.id,
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    counter: info.credential.counter,
    transports: response.response.transports ?? [],
    aaguid,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    attestationFormat: info.fmt,
    userVerified: info.userVerified,
  };
}

/**
 * Verify an authentication (assertion) response against the stored key. The
 * signature is verified before the signature counter is compared, so only an
 * authentic response can report a counter regression: a counter that does not
 * increase is rejected unless the authenticator reports 0 every time.
 */
export async function verifyPasskeyAuthentication(
  response: AuthenticationResponseJSON,
  stored: StoredKey,
  policy: CeremonyPolicy,
): Promise<VerifiedAuthentication> {
  checkClientData(response.response.clientDataJSON, policy);
  if (response.id !== stored.credentialId) {
    throw new PasskeyRejected('PASSKEY_RESPONSE_INVALID', `the response is from credential ${response.id}, not ${stored.credentialId}`, 400);
  }
  let result;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: policy.expectedChallenge,
      expectedOrigin: policy.origins,
      expectedRPID: policy.rpIds,
      requireUserVerification: policy.requireUserVerification,
      // The library compares counters before it verifies the signature; counter 0 defers
      // the comparison to the check below.
      credential: { id: stored.credentialId, publicKey: Buffer.from(stored.publicKey, 'base64url'), counter: 0, transports: stored.transports },
    });
  } catch (error) {
    throw fromLibrary(error, 'authentication');
  }
  if (!result.verified) throw new PasskeyRejected('PASSKEY_SIGNATURE_INVALID', `the signature of credential ${stored.credentialId} does not verify`);
  const info = result.authenticationInfo;
  if ((info.newCounter > 0 || stored.counter > 0) && info.newCounter <= stored.counter) {
    throw new PasskeyRejected(
      'PASSKEY_COUNTER_REGRESSION',
      `credential ${stored.credentialId} reported signature counter ${info.newCounter}, but ${stored.counter} was already seen; the authenticator may have been cloned`,
    );
  }
  return { newCounter: info.newCounter, userVerified: info.userVerified, deviceType: info.credentialDeviceType, backedUp: info.credentialBackedUp };
}
