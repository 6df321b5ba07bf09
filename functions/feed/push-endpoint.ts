import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isLocalDevelopment } from '../lib/config.js';
import { badRequest } from '../lib/errors.js';
import { nonPublicRange, type SpecialRange } from '../lib/ip-ranges.js';
import { SET_MEDIA_TYPE } from './security-event-token.js';

/** Resolves a host name to every IP address it has, as the operating system's resolver does. */
export type HostResolver = (hostname: string) => Promise<string[]>;

const systemResolver: HostResolver = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

let resolveHost: HostResolver = systemResolver;

/**
 * Replace the resolver of every outgoing request under the address policy:
 * push endpoints, logout receivers, OCSP responders and CRL downloads.
 * Passing undefined restores the system resolver.
 */
export function setHostResolver(resolver: HostResolver | undefined): void {
  resolveHost = resolver ?? systemResolver;
}

/** Raised when the host of an outgoing request cannot be resolved or has an address that the service must not reach. */
export class EndpointAddressError extends Error {
  constructor(
    readonly code: 'ENDPOINT_NOT_PUBLIC' | 'ENDPOINT_NOT_RESOLVED',
    message: string,
    readonly address?: string,
    readonly range?: SpecialRange,
  ) {
    super(message);
    this.name = 'EndpointAddressError';
  }
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/** Wording of address errors for one kind of outgoing request: its URL's name and the rule it breaks. */
export interface OutboundTarget {
  /** Noun placed before the URL, for example "endpoint" or "OCSP responder". */
  noun: string;
  /** The rule, stated as a full clause. */
  rule: string;
  /** Servers on loopback addresses that local development accepts, for example "loopback receivers". */
  loopbackListeners: string;
}

const PUSH_TARGET: OutboundTarget = { noun: 'endpoint', rule: 'a push endpoint must resolve only to public addresses', loopbackListeners: 'loopback receivers' };

/**
 * Return the special-purpose range that forbids sending to `address`, or
 * undefined when it may be reached. Public addresses may always be reached,
 * and loopback addresses only in local development, where test receivers listen.
 */
export function forbiddenRange(address: string): SpecialRange | undefined {
  const range = nonPublicRange(address);
  if (range && isLocalDevelopment() && range.kind.endsWith('loopback')) return undefined;
  return range;
}

function notPublic(url: URL, address: string, range: SpecialRange, target: OutboundTarget): EndpointAddressError {
  const literal = hostOf(url) === address;
  const loopbackNote = range.kind.endsWith('loopback') ? `; ${target.loopbackListeners} are accepted only in local development` : '';
  return new EndpointAddressError(
    'ENDPOINT_NOT_PUBLIC',
    `${target.noun} ${url.href} ${literal ? 'is' : 'resolves to'} ${address} (${range.kind}, ${range.cidr}); ` +
      `${target.rule}${loopbackNote}`,
    address,
    range,
  );
}

/**
 * Resolve the host of a push endpoint and check every address it has. All of
 * them must be public (loopback is also accepted in local development),
 * because the address a connection uses is chosen later and may be any of
 * them. Throws EndpointAddressError naming the URL and the first address that
 * fails, or saying why the host could not be resolved.
 */
export async function resolvePushAddresses(url: URL, target: OutboundTarget = PUSH_TARGET): Promise<string[]> {
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolveHost(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new EndpointAddressError('ENDPOINT_NOT_RESOLVED', `the host ${host} of ${target.noun} ${url.href} could not be resolved (${code}); check the host name and its DNS records`);
    }
    if (addresses.length === 0) {
      throw new EndpointAddressError('ENDPOINT_NOT_RESOLVED', `the host ${host} of ${target.noun} ${url.href} has no IP address; check its DNS records`);
    }
  }
  for (const address of addresses) {
    const range = forbiddenRange(address);
    if (range) throw notPublic(url, address, range, target);
  }
  return addresses;
}

/** Check whether plain http may be used for this URL, which is true for loopback receivers in local development only. */
function httpAllowed(url: URL): boolean {
  if (!isLocalDevelopment()) return false;
  const host = hostOf(url);
  if (host === 'localhost') return true;
  if (!isIP(host)) return false;
  return nonPublicRange(host)?.kind.endsWith('loopback') ?? false;
}

/**
 * Check the syntax of a push endpoint URL from a platform: HTTPS, no
 * credentials or fragment. Plain HTTP is accepted only in local development
 * and only for loopback receivers (localhost, 127.0.0.0/8, ::1). The host's
 * addresses are checked separately by `checkPushEndpoint`.
 */
export function parsePushEndpoint(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw badRequest('FIELD_MISSING', 'endpoint is missing; send the HTTPS URL that receives Security Event Tokens', { field: 'endpoint' });
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw badRequest('FIELD_INVALID', `endpoint ${JSON.stringify(value)} is not an absolute URL`, { field: 'endpoint' });
  }
  if (url.username || url.password) {
    throw badRequest('FIELD_INVALID', 'endpoint must not carry a user name or password; the receiver verifies each SET signature instead', { field: 'endpoint' });
  }
  if (url.hash) throw badRequest('FIELD_INVALID', `endpoint ${url.href} has a fragment; remove it`, { field: 'endpoint' });
  if (url.protocol === 'http:' && !httpAllowed(url)) {
    const rule = isLocalDevelopment() ? ' (plain http is accepted only for loopback test receivers)' : '';
    throw badRequest('FIELD_INVALID', `endpoint ${url.href} uses http; use https${rule}`, { field: 'endpoint' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw badRequest('FIELD_INVALID', `endpoint ${url.href} uses ${url.protocol}; use https`, { field: 'endpoint' });
  }
  if (url.href.length > 2000) throw badRequest('FIELD_INVALID', `endpoint has ${url.href.length} characters; at most 2000 are allowed`, { field: 'endpoint' });
  return url.href;
}

/**
 * Check that a registered endpoint's host resolves only to addresses push may
 * reach, and raise a 400 error naming the URL and the address otherwise.
 * Delivery checks the addresses again on every new connection, because DNS
 * answers can change after registration.
 */
export async function checkPushEndpoint(endpoint: string): Promise<void> {
  try {
    await resolvePushAddresses(new URL(endpoint));
  } catch (error) {
    if (!(error instanceof EndpointAddressError)) throw error;
    throw badRequest(error.code, error.message, { field: 'endpoint', ...(error.address ? { address: error.address, range: error.range?.cidr } : {}) });
  }
}

/**
 * Return a lookup for outgoing push connections to `url` that resolves with
 * the configured resolver and fails when any address is forbidden. Node calls
 * it when it opens a connection, so the address checked is the address
 * connected to, even if DNS changed since registration or the last request.
 */
export function checkedLookup(url: URL, target: OutboundTarget = PUSH_TARGET): LookupFunction {
  return (hostname, options, callback) => {
    resolvePushAddresses(url, target).then(
      (addresses) => {
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = addresses.filter((address) => family === 0 || isIP(address) === family);
        if (usable.length === 0) {
          callback(Object.assign(new Error(`the host ${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          // With `all` set, Node expects every address as { address, family } in one list.
          const all = usable.map((address) => ({ address, family: isIP(address) }));
          (callback as unknown as (error: null, addresses: typeof all) => void)(null, all);
        } else {
          callback(null, usable[0], isIP(usable[0]));
        }
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

/**
 * Throw EndpointAddressError when the URL's host is an IP literal the policy
 * forbids. Node does no lookup for such a host, so checkedLookup is never called for it.
 */
export function checkLiteralHost(url: URL, target: OutboundTarget = PUSH_TARGET): void {
  const host = hostOf(url);
  if (!isIP(host)) return;
  const range = forbiddenRange(host);
  if (range) throw notPublic(url, host, range, target);
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** Maximum number of bytes of a receiver's response body read and kept for error messages. */
const MAX_RESPONSE_BYTES = 4096;

/** Maximum number of characters of a receiver's reply put into an error (and so into logs). */
const MAX_LOGGED_REPLY_CHARACTERS = 200;

/**
 * POST `body` to `url` without following redirects. The host's addresses are
 * checked when a connection opens (see checkedLookup). Node does no lookup
 * for an IP literal host, so such a host is checked here before connecting.
 * Throws EndpointAddressError for a forbidden address and the network error
 * for a failed or timed-out request; any HTTP status is returned.
 */
export async function postChecked(url: URL, body: string, contentType: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  checkLiteralHost(url);
  const https = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      agent: https ? agents.https : agents.http,
      lookup: checkedLookup(url),
      headers: { 'content-type': contentType, accept: 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => request.destroy(Object.assign(new Error(`no response within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    request.on('error', fail);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES) });
      });
    });
    request.end(body);
  });
}

export type PushResult = { outcome: 'accepted' } | { outcome: 'rejected'; error: string } | { outcome: 'failed'; error: string };

/**
 * Deliver one SET by HTTP POST (RFC 8935 section 2). Any 2xx is accepted.
 * A 400 means the receiver found the SET invalid (RFC 8935 section 2.3): sending
 * it again cannot help, so it is reported as rejected. Every other status
 * (redirects included, which are never followed), a timeout, a network error
 * or a forbidden address is a failure to be retried.
 */
export async function pushSet(endpoint: string, token: string, timeoutMs: number): Promise<PushResult> {
  let response: { status: number; text: string };
  try {
    response = await postChecked(new URL(endpoint), token, SET_MEDIA_TYPE, timeoutMs);
  } catch (error) {
    if (error instanceof EndpointAddressError) return { outcome: 'failed', error: `POST ${endpoint} not sent: ${error.message}` };
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
    return { outcome: 'failed', error: `POST ${endpoint} failed: ${code}: ${(error as Error).message}` };
  }
  if (response.status >= 200 && response.status < 300) return { outcome: 'accepted' };
  // Only the start of the reply goes into logs and the consumer's stored error, because the receiver controls its length.
  const detail = response.text.length > MAX_LOGGED_REPLY_CHARACTERS ? `${response.text.slice(0, MAX_LOGGED_REPLY_CHARACTERS)}…` : response.text;
  if (response.status === 400) return { outcome: 'rejected', error: `receiver rejected the SET: ${detail}` };
  return { outcome: 'failed', error: `POST ${endpoint} returned HTTP ${response.status}${detail ? `: ${detail}` : ''}` };
}
