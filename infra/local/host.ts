import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { log } from '../../functions/lib/log.js';

export type LambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** Select the handler for a request's method and path, as API Gateway selects a route; undefined means 404. */
export type HandlerSelector = (method: string, path: string) => LambdaHandler | undefined;

/**
 * Largest request body the local host reads. On AWS, Lambda accepts request
 * events of up to 6 MB, and a binary body arrives base64-encoded in the event,
 * a third larger, so about 4.5 MB of binary body fit. The handlers set lower
 * limits of their own (256 KiB of JSON, 4,000,000 bytes of pushed CRL).
 */
const MAX_BODY_BYTES = 4_500_000;
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Headers for static files. Static hosting elsewhere should send the same (for example through a CloudFront response headers policy). */
const STATIC_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The local stand-in for API Gateway: each request becomes an HTTP API
 * payload v2 event for the same Lambda handler code that runs in AWS.
 * Files under `staticDir` are served at /static/.
 */
export function createHost(select: HandlerSelector, options: { staticDir?: string } = {}): Server {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (options.staticDir && url.pathname.startsWith('/static/')) return await serveStatic(options.staticDir, req.method ?? 'GET', url.pathname, res);
      const handler = select(req.method ?? 'GET', url.pathname);
      if (!handler) return sendError(res, 404, 'NOT_FOUND', `nothing is served at ${url.pathname}`);
      const event = await toEvent(req, url);
      // The rest of the body is left unread, so the connection closes after the response instead of being reused.
      if (!event) return sendError(res, 413, 'BODY_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes, the most the service accepts; JSON bodies may have 262,144 bytes and CRLs sent as application/pkix-crl 4,000,000`, { connection: 'close' });
      const result = await handler(event, lambdaContext());
      writeResult(res, result);
    } catch (error) {
      log.error('local host request failed', { url: req.url, error });
      if (!res.headersSent) return sendError(res, 500, 'INTERNAL', 'the local host failed to handle the request');
      res.end();
    }
  });
  // Node's HTTP parser rejects some requests (an unknown method such as FOO, a malformed request line) before the
  // request handler runs. Its default reply is a bare 400, so this sends the JSON error body that other errors have.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const body = JSON.stringify({ error: 'BAD_REQUEST', message: `the request could not be parsed as HTTP/1.1 (${error.code ?? error.message}); check the method and the request line` });
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ error: code, message }));
}

/** Convert a request to an HTTP API payload v2 event; undefined when the body is over the size limit. */
async function toEvent(req: IncomingMessage, url: URL): Promise<APIGatewayProxyEventV2 | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') {
      cookies.push(...String(value).split(/;\s*/).filter(Boolean));
      continue;
    }
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '127.0.0.1';
  const method = req.method ?? 'GET';
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: cookies.length ? cookies : undefined,
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: body.length ? body.toString('base64') : undefined,
    isBase64Encoded: body.length > 0,
  };
}

function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  res.writeHead(result.statusCode ?? 200, headers);
  if (result.body === undefined) return void res.end();
  res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:local',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Serve a file under `dir` for GET and HEAD; any path that leaves `dir` or names no file gets a JSON error. */
async function serveStatic(dir: string, method: string, pathname: string, res: ServerResponse): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') {
    return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}; static files accept GET and HEAD`, { allow: 'GET, HEAD' });
  }
  let relative: string;
  try {
    relative = decodeURIComponent(pathname.slice('/static/'.length));
  } catch {
    return sendError(res, 400, 'PATH_INVALID', `the path ${pathname} has an invalid percent-encoding`);
  }
  const root = resolve(dir);
  const file = resolve(root, relative);
  if (relative.includes('\0') || !file.startsWith(root + sep)) {
    return sendError(res, 400, 'PATH_INVALID', `the path ${pathname} does not name a file under /static/`);
  }
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch {
    return sendError(res, 404, 'NOT_FOUND', `no static file ${pathname}`);
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache', ...STATIC_SECURITY_HEADERS });
  res.end(content);
}
