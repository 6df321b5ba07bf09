import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, badRequest } from './errors.js';
import { log } from './log.js';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export interface RouteContext {
  event: HttpEvent;
  params: Record<string, string>;
}

export interface Route {
  method: string;
  /** Path pattern with {name} placeholders, e.g. /api/enterprises/{creditCode}. */
  path: string;
  handler: (ctx: RouteContext) => Promise<HttpResult>;
}

const MAX_BODY_BYTES = 256 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

const tooLarge = (bytes: number) =>
  new ApiError(413, 'BODY_TOO_LARGE', `the JSON request body has ${bytes} bytes; the limit is ${MAX_BODY_BYTES}; send less per request (for example fewer CA sync items, or a CRL as application/pkix-crl)`);

/**
 * Return the byte offset where the first ill-formed UTF-8 sequence starts
 * (RFC 3629 section 4), or -1 when the bytes are well-formed UTF-8.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let offset = 0;
  while (offset < bytes.length) {
    const lead = bytes[offset];
    if (lead < 0x80) {
      offset += 1;
      continue;
    }
    let length: number;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) length = 3;
    else if (lead >= 0xf0 && lead <= 0xf4) length = 4;
    else return offset;
    if (offset + length > bytes.length) return offset;
    // The second byte has a narrower range after E0, ED, F0 and F4: this rules out
    // overlong forms, UTF-16 surrogates and code points above U+10FFFF.
    const second = bytes[offset + 1];
    let low = 0x80;
    let high = 0xbf;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xed) high = 0x9f;
    if (lead === 0xf4) high = 0x8f;
    if (second < low || second > high) return offset;
    for (let k = 2; k < length; k += 1) {
      if ((bytes[offset + k] & 0xc0) !== 0x80) return offset;
    }
    offset += length;
  }
  return -1;
}

const hexByte = (byte: number) => byte.toString(16).toUpperCase().padStart(2, '0');

/** Decode the request body as strict UTF-8, rejecting a byte order mark and ill-formed bytes. */
function bodyText(event: HttpEvent): string {
  // NOTE: a body that API Gateway passes as text (isBase64Encoded false) was already
  // decoded before it reached this function, so only its BOM can be checked here.
  if (!event.isBase64Encoded) {
    if (event.body!.startsWith('\uFEFF')) throw invalidBody('the request body starts with a byte order mark (U+FEFF); remove the byte order mark and send plain UTF-8 JSON');
    return event.body!;
  }
  const bytes = Buffer.from(event.body!, 'base64');
  if (bytes.length > MAX_BODY_BYTES) {
    throw tooLarge(bytes.length);
  }
  if (UTF8_BOM.every((byte, index) => bytes[index] === byte)) {
    throw invalidBody('the request body starts with a UTF-8 byte order mark (bytes EF BB BF); remove the byte order mark and send plain UTF-8 JSON');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    const shown = Array.from(bytes.subarray(offset, offset + 4), hexByte).join(' ');
    throw invalidBody(`the request body is not valid UTF-8: the bytes at offset ${offset} (${shown}) do not form a UTF-8 character; encode the JSON text as UTF-8`, { offset });
  }
}

const invalidBody = (message: string, details?: Record<string, unknown>) => badRequest('INVALID_BODY', message, details);

const unsupportedMediaType = (message: string, details: Record<string, unknown>) => new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', message, details);

/**
 * Require content-type application/json, optionally with charset=utf-8 or other
 * parameters, and no content-encoding. Browsers send text/plain and form types
 * cross-site without a CORS preflight, so accepting only JSON keeps those
 * requests out of every JSON endpoint.
 */
function requireJsonMediaType(event: HttpEvent): void {
  const received = event.headers?.['content-type'];
  if (!received) {
    throw unsupportedMediaType('the request has no content-type; send the JSON body with content-type application/json', { contentType: null });
  }
  const [mediaType, ...parameters] = received.split(';').map((part) => part.trim());
  if (mediaType.toLowerCase() !== 'application/json') {
    throw unsupportedMediaType(`content-type ${JSON.stringify(received)} is not supported; send the JSON body with content-type application/json`, { contentType: received });
  }
  for (const parameter of parameters) {
    const separator = parameter.indexOf('=');
    if (separator < 0 || parameter.slice(0, separator).trim().toLowerCase() !== 'charset') continue;
    const charset = parameter.slice(separator + 1).trim().replace(/^"(.*)"$/, '$1');
    if (charset.toLowerCase() !== 'utf-8') {
      throw unsupportedMediaType(`charset ${JSON.stringify(charset)} in content-type ${JSON.stringify(received)} is not supported; encode the JSON body as UTF-8 and send charset=utf-8 or no charset`, { contentType: received });
    }
  }
  const encoding = event.headers?.['content-encoding']?.trim();
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw unsupportedMediaType(`content-encoding ${JSON.stringify(encoding)} is not supported; send the JSON body uncompressed, without a content-encoding header`, { contentEncoding: encoding });
  }
}

/** Return the media type of the request (content-type without parameters, lower case), or undefined without one. */
export function requestMediaType(event: HttpEvent): string | undefined {
  const received = event.headers?.['content-type'];
  return received ? received.split(';')[0].trim().toLowerCase() : undefined;
}

/**
 * Return the request body as bytes, for a route that accepts a binary media
 * type. API Gateway passes such bodies base64-encoded. The body must be
 * uncompressed and at most `maxBytes` long.
 */
export function binaryBody(event: HttpEvent, maxBytes: number): Uint8Array {
  if (!event.body) throw badRequest('BODY_MISSING', `the request has no body; send the ${requestMediaType(event)} data as the body`);
  const encoding = event.headers?.['content-encoding']?.trim();
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw unsupportedMediaType(`content-encoding ${JSON.stringify(encoding)} is not supported; send the body uncompressed, without a content-encoding header`, { contentEncoding: encoding });
  }
  // API Gateway decodes a body as UTF-8 text only for text media types, which the callers of this function do not accept.
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.length > maxBytes) {
    throw new ApiError(413, 'BODY_TOO_LARGE', `the request body has ${bytes.length} bytes; the limit for ${requestMediaType(event)} is ${maxBytes}`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Parse the request body as a JSON object: 415 unless it is sent as
 * application/json, 400 when it is not a well-formed UTF-8 JSON object.
 */
export function jsonBody(event: HttpEvent): Record<string, unknown> {
  requireJsonMediaType(event);
  if (!event.body) throw badRequest('BODY_MISSING', 'the request has no body; send a JSON object with content-type application/json');
  const text = bodyText(event);
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw tooLarge(Buffer.byteLength(text));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest('BODY_NOT_JSON', `the request body is not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('BODY_NOT_OBJECT', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function compile(path: string): RegExp {
  const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)');
  return new RegExp(`^${pattern}$`);
}

/**
 * Build an API Gateway HTTP API (payload v2) handler from a route table. Errors
 * become JSON bodies {error, message, details}; unexpected ones are logged and
 * answered with a generic 500 that reveals nothing internal.
 */
export function router(routes: Route[]): (event: HttpEvent) => Promise<HttpResult> {
  const compiled = routes.map((route) => ({ ...route, regex: compile(route.path) }));
  return async (event) => {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath;
    const matching = compiled.filter((route) => route.regex.test(path));
    if (matching.length === 0) return json(404, { error: 'NOT_FOUND', message: `no API route matches ${path}` });
    const route = matching.find((candidate) => candidate.method === method);
    if (!route) {
      const allowed = [...new Set(matching.map((r) => r.method))];
      return json(405, { error: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${path}; use ${allowed.join(' or ')}` }, { allow: allowed.join(', ') });
    }
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(
        Object.entries(route.regex.exec(path)?.groups ?? {}).map(([key, value]) => [key, decodeURIComponent(value)]),
      );
    } catch {
      return json(400, { error: 'PATH_INVALID', message: `the path ${path} has an invalid percent-encoding; encode each path segment as UTF-8` });
    }
    try {
      return await route.handler({ event, params });
    } catch (error) {
      if (error instanceof ApiError) {
        const { wwwAuthenticate, ...details } = error.details ?? {};
        const headers: Record<string, string> = typeof wwwAuthenticate === 'string' ? { 'www-authenticate': wwwAuthenticate } : {};
        return json(error.status, { error: error.code, message: error.message, ...(Object.keys(details).length ? { details } : {}) }, headers);
      }
      log.error('request failed', { method, path, requestId: event.requestContext.requestId, error });
      return json(500, { error: 'INTERNAL', message: 'the request failed inside the service; it has been logged, try again later' });
    }
  };
}
