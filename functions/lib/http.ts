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

/** Parse the request body as a JSON object, with a clear 400 when it is not one. */
export function jsonBody(event: HttpEvent): Record<string, unknown> {
  if (!event.body) throw badRequest('BODY_MISSING', 'the request has no body; send a JSON object with content-type application/json');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw badRequest('BODY_TOO_LARGE', `the request body has ${Buffer.byteLength(text)} bytes; the limit is ${MAX_BODY_BYTES}`);
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
      return json(405, { error: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${path}; use ${matching.map((r) => r.method).join(' or ')}` });
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
