import { isIP } from 'node:net';

/** Deployment settings, read from the environment once per process. */
export interface ServiceConfig {
  /** Public origin of this service (scheme, host, port), e.g. https://id.example.gov.cn. */
  origin: string;
  /** OIDC issuer identifier; the origin unless configured otherwise. */
  issuer: string;
  /** Lifetime of certificate challenges, in seconds. */
  challengeTtlSeconds: number;
}

export function config(): ServiceConfig {
  const origin = (process.env.PUBLIC_ORIGIN ?? 'http://localhost:3000').replace(/\/$/, '');
  return {
    origin,
    issuer: (process.env.OIDC_ISSUER ?? origin).replace(/\/$/, ''),
    challengeTtlSeconds: Number(process.env.CHALLENGE_TTL_SECONDS ?? 300),
  };
}

/** WebAuthn relying party settings of this deployment. */
export interface WebAuthnConfig {
  /** RP ID: a registrable domain, never an IP address (WEBAUTHN_RP_ID; default the origin's host name). */
  rpId: string;
  /** Name shown by authenticators (WEBAUTHN_RP_NAME). */
  rpName: string;
  /** Origins on which passkeys may be created and used (WEBAUTHN_ORIGINS, comma-separated; default the public origin). */
  origins: string[];
  /** AAGUIDs of the authenticator models that may be registered (WEBAUTHN_AAGUIDS); undefined accepts any model. */
  aaguidAllowList?: string[];
  /** Maximum age, in seconds, of the certificate login from which a passkey may be added (PASSKEY_REGISTRATION_WINDOW_SECONDS). */
  registrationWindowSeconds: number;
  /** Time the browser gives the user for a ceremony, in milliseconds. */
  ceremonyTimeoutMs: number;
}

/** Raised at start or on first use when the WebAuthn settings cannot work. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const AAGUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Read and check the WebAuthn settings. Browsers reject IP addresses as RP
 * IDs, and they require every origin's host to be the RP ID or a subdomain of
 * it, over https (http only for localhost). Settings that break these rules are
 * rejected here, naming the rule, rather than failing later in the browser.
 */
export function webauthnConfig(): WebAuthnConfig {
  const { origin } = config();
  const rpId = (process.env.WEBAUTHN_RP_ID ?? new URL(origin).hostname).trim().toLowerCase();
  if (isIP(rpId.replace(/^\[|\]$/g, '')) !== 0) {
    throw new ConfigError(`WEBAUTHN_RP_ID ${JSON.stringify(rpId)} is an IP address; WebAuthn needs a domain name (use "localhost" on a developer machine)`);
  }
  if (!/^[a-z0-9.-]+$/.test(rpId) || rpId.startsWith('.') || rpId.endsWith('.')) {
    throw new ConfigError(`WEBAUTHN_RP_ID ${JSON.stringify(rpId)} is not a domain name`);
  }
  const origins = (process.env.WEBAUTHN_ORIGINS ?? origin)
    .split(',')
    .map((value) => value.trim().replace(/\/$/, ''))
    .filter(Boolean);
  if (origins.length === 0) throw new ConfigError('WEBAUTHN_ORIGINS is empty; list at least the public origin of this service');
  for (const value of origins) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(`WEBAUTHN_ORIGINS entry ${JSON.stringify(value)} is not a URL origin such as https://id.example.gov.cn`);
    }
    if (url.origin !== value) throw new ConfigError(`WEBAUTHN_ORIGINS entry ${JSON.stringify(value)} is not an origin; use only scheme, host and port (${url.origin})`);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === 'localhost')) {
      throw new ConfigError(`WEBAUTHN_ORIGINS entry ${value} uses ${url.protocol}; browsers allow WebAuthn only on https origins and on http://localhost`);
    }
    if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) {
      throw new ConfigError(`WEBAUTHN_ORIGINS entry ${value} is not on RP ID ${rpId}; its host must be ${rpId} or a subdomain of it`);
    }
  }
  let aaguidAllowList: string[] | undefined;
  if (process.env.WEBAUTHN_AAGUIDS?.trim()) {
    aaguidAllowList = process.env.WEBAUTHN_AAGUIDS.split(',').map((value) => value.trim().toLowerCase()).filter(Boolean);
    const bad = aaguidAllowList.find((value) => !AAGUID.test(value));
    if (bad) throw new ConfigError(`WEBAUTHN_AAGUIDS entry ${JSON.stringify(bad)} is not an AAGUID (8-4-4-4-12 hexadecimal digits)`);
  }
  const window = Number(process.env.PASSKEY_REGISTRATION_WINDOW_SECONDS ?? 300);
  if (!Number.isInteger(window) || window < 30 || window > 3600) {
    throw new ConfigError(`PASSKEY_REGISTRATION_WINDOW_SECONDS=${process.env.PASSKEY_REGISTRATION_WINDOW_SECONDS} must be a whole number of seconds from 30 to 3600`);
  }
  return {
    rpId,
    rpName: process.env.WEBAUTHN_RP_NAME ?? '公共资源交易统一身份认证 Trading Identity',
    origins,
    aaguidAllowList,
    registrationWindowSeconds: window,
    ceremonyTimeoutMs: 120_000,
  };
}

/**
 * Check whether the handlers run on a developer's or test machine (the local
 * host) rather than on AWS Lambda, which sets AWS_LAMBDA_FUNCTION_NAME in
 * every function. Only local development lets the service send requests to loopback
 * addresses, where receivers under test listen.
 */
export function isLocalDevelopment(): boolean {
  return !process.env.AWS_LAMBDA_FUNCTION_NAME;
}
