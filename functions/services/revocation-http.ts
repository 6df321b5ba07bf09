import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { checkedLookup, checkLiteralHost, type OutboundTarget } from '../feed/push-endpoint.js';

/**
 * The address rule for OCSP requests and CRL downloads. Their URLs come from
 * operators and from CA certificates, so a request must not reach instance
 * metadata or internal services.
 */
export const OCSP_TARGET: OutboundTarget = {
  noun: 'OCSP responder',
  rule: 'revocation data is fetched only from public addresses',
  loopbackListeners: 'loopback servers',
};
export const CRL_TARGET: OutboundTarget = { ...OCSP_TARGET, noun: 'CRL distribution point' };

export interface RevocationRequest {
  method: 'GET' | 'POST';
  body?: Uint8Array;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Maximum size of the response body in bytes. */
  maxBytes: number;
}

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * Send an OCSP request or a CRL download without following redirects and
 * return the response body. Every address the host resolves to must be
 * public, or loopback in local development, and this is checked when the
 * connection opens. Throws EndpointAddressError for a forbidden address and
 * an Error whose message states what failed otherwise: network error,
 * timeout, non-2xx status (redirects included) or a body over `maxBytes`.
 */
export async function fetchRevocationData(url: URL, target: OutboundTarget, options: RevocationRequest): Promise<Uint8Array> {
  checkLiteralHost(url, target);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${url.protocol} URLs are not supported; use http or https`);
  const https = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(url, {
      method: options.method,
      agent: https ? agents.https : agents.http,
      lookup: checkedLookup(url, target),
      headers: { ...options.headers, ...(options.body ? { 'content-length': options.body.byteLength } : {}) },
    });
    const timer = setTimeout(() => request.destroy(new Error(`no complete response within ${options.timeoutMs} ms`)), options.timeoutMs);
    let settled = false;
    const fail = (error: Error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(error);
    };
    request.on('error', (error: NodeJS.ErrnoException) => {
      // The address policy's own error passes through unchanged so callers can tell it apart.
      if (error.name === 'EndpointAddressError' || !error.code) fail(error);
      else fail(new Error(`request failed (${error.code})`));
    });
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        response.resume();
        request.destroy();
        fail(new Error(`HTTP ${status}`));
        return;
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) {
        request.destroy();
        fail(new Error(`the response has ${declared} bytes; the limit is ${options.maxBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          request.destroy();
          fail(new Error(`the response exceeds the limit of ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve(new Uint8Array(Buffer.concat(chunks)));
      });
    });
    request.end(options.body ? Buffer.from(options.body) : undefined);
  });
}
