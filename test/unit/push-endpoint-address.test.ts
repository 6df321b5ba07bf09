import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkPushEndpoint, parsePushEndpoint, pushSet, resolvePushAddresses, setHostResolver } from '../../functions/feed/push-endpoint.js';
import { ApiError } from '../../functions/lib/errors.js';
import { isLoopbackAddress, nonPublicRange } from '../../functions/lib/ip-ranges.js';

/** Run `body` as the handlers run on AWS Lambda, where loopback receivers are forbidden. */
async function inProduction<T>(body: () => Promise<T> | T): Promise<T> {
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'trading-identity-test-feed';
  try {
    return await body();
  } finally {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  }
}

/** Resolve names from a fixed table, so no query leaves the machine. */
function resolveFrom(table: Record<string, string[]>) {
  const requested: string[] = [];
  setHostResolver(async (hostname) => {
    requested.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses;
  });
  return requested;
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

afterEach(() => {
  setHostResolver(undefined);
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
});

describe('address classification', () => {
  it.each([
    ['0.0.0.0', '0.0.0.0/8'],
    ['10.20.30.40', '10.0.0.0/8'],
    ['100.64.0.1', '100.64.0.0/10'],
    ['127.0.0.1', '127.0.0.0/8'],
    ['127.255.0.9', '127.0.0.0/8'],
    ['169.254.169.254', '169.254.0.0/16'],
    ['172.16.0.1', '172.16.0.0/12'],
    ['172.31.255.255', '172.16.0.0/12'],
    ['192.0.0.8', '192.0.0.0/24'],
    ['192.0.2.10', '192.0.2.0/24'],
    ['192.168.1.1', '192.168.0.0/16'],
    ['198.18.0.1', '198.18.0.0/15'],
    ['224.0.0.251', '224.0.0.0/4'],
    ['239.255.255.250', '224.0.0.0/4'],
    ['255.255.255.255', '240.0.0.0/4'],
    ['::', '::/128'],
    ['::1', '::1/128'],
    ['fe80::1', 'fe80::/10'],
    ['fd12:3456::1', 'fc00::/7'],
    ['ff02::1', 'ff00::/8'],
    ['2001:db8::1', '2001:db8::/32'],
    ['::ffff:127.0.0.1', '::ffff:0:0/96 embedding 127.0.0.0/8'],
    ['::ffff:a9fe:a9fe', '::ffff:0:0/96 embedding 169.254.0.0/16'],
    ['64:ff9b::10.0.0.1', '64:ff9b::/96 embedding 10.0.0.0/8'],
    ['1::1', 'outside 2000::/3'],
  ])('classifies %s as non-public', (address, cidr) => {
    expect(nonPublicRange(address)?.cidr).toBe(cidr);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '223.255.255.255', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'classifies %s as public',
    (address) => {
      expect(nonPublicRange(address)).toBeUndefined();
    },
  );

  it('recognises loopback forms', () => {
    expect(isLoopbackAddress('127.0.0.2')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('::ffff:7f00:1')).toBe(true);
    expect(isLoopbackAddress('10.0.0.1')).toBe(false);
  });

  it('rejects text that is no address', () => {
    expect(() => nonPublicRange('localhost')).toThrow(/not an IP address/);
  });
});

describe('push endpoint resolution', () => {
  it('rejects a name with a private address', async () => {
    const requested = resolveFrom({ 'push.platform.test': ['10.0.0.5'] });
    const error = await rejection(checkPushEndpoint('https://push.platform.test/events'));
    expect(requested).toEqual(['push.platform.test']);
    expect(error.status).toBe(400);
    expect(error.code).toBe('ENDPOINT_NOT_PUBLIC');
    expect(error.message).toContain('https://push.platform.test/events');
    expect(error.message).toContain('10.0.0.5');
    expect(error.details).toMatchObject({ field: 'endpoint', address: '10.0.0.5', range: '10.0.0.0/8' });
  });

  it('rejects a name with one bad address among public ones', async () => {
    resolveFrom({ 'push.platform.test': ['203.0.114.7', '169.254.169.254'] });
    const error = await rejection(checkPushEndpoint('https://push.platform.test/events'));
    expect(error.message).toContain('169.254.169.254 (link-local, 169.254.0.0/16)');
  });

  it('accepts a name with public addresses only', async () => {
    resolveFrom({ 'push.platform.test': ['203.0.114.7', '2606:4700:4700::1111'] });
    await expect(resolvePushAddresses(new URL('https://push.platform.test/events'))).resolves.toEqual(['203.0.114.7', '2606:4700:4700::1111']);
  });

  it('rejects IP literal hosts without resolving', async () => {
    const requested = resolveFrom({});
    for (const endpoint of ['https://192.168.0.10/events', 'https://[fd00::1]/events', 'https://[::ffff:10.0.0.1]/events', 'https://0x0a000001/events']) {
      const error = await rejection(checkPushEndpoint(endpoint));
      expect(error.code, endpoint).toBe('ENDPOINT_NOT_PUBLIC');
    }
    expect(requested).toEqual([]);
  });

  it('reports a host that does not resolve', async () => {
    resolveFrom({});
    const error = await rejection(checkPushEndpoint('https://missing.platform.test/events'));
    expect(error.code).toBe('ENDPOINT_NOT_RESOLVED');
    expect(error.message).toContain('missing.platform.test');
    expect(error.message).toContain('ENOTFOUND');
  });

  it('accepts loopback in local development only', async () => {
    resolveFrom({ localhost: ['127.0.0.1', '::1'] });
    await expect(checkPushEndpoint('https://localhost/events')).resolves.toBeUndefined();
    const error = await inProduction(() => rejection(checkPushEndpoint('https://localhost/events')));
    expect(error.code).toBe('ENDPOINT_NOT_PUBLIC');
    expect(error.message).toContain('resolves to 127.0.0.1 (loopback');
    expect(error.message).toContain('accepted only in local development');
  });

  it('accepts http for loopback in local development only', async () => {
    expect(parsePushEndpoint('http://127.0.0.1:8080/events')).toBe('http://127.0.0.1:8080/events');
    expect(parsePushEndpoint('http://localhost:8080/events')).toBe('http://localhost:8080/events');
    expect(parsePushEndpoint('http://[::1]:8080/events')).toBe('http://[::1]:8080/events');
    expect(() => parsePushEndpoint('http://10.0.0.1/events')).toThrow(/uses http; use https/);
    await inProduction(() => {
      expect(() => parsePushEndpoint('http://localhost:8080/events')).toThrow(/uses http; use https$/);
      expect(() => parsePushEndpoint('http://127.0.0.1:8080/events')).toThrow(/uses http; use https$/);
    });
  });
});

describe('push delivery addresses', () => {
  let server: Server;
  let port = 0;
  const bodies: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        // Closing every connection makes each push open a new one, which is when addresses are checked.
        if (request.url === '/redirect') response.writeHead(307, { location: `http://127.0.0.1:${port}/events`, connection: 'close' }).end();
        else if (request.url === '/long-rejection') response.writeHead(400, { connection: 'close' }).end(`R${'r'.repeat(3000)}`);
        else if (request.url === '/long-failure') response.writeHead(503, { connection: 'close' }).end(`F${'f'.repeat(3000)}`);
        else response.writeHead(202, { connection: 'close' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('connects to the address the resolver returns', async () => {
    const requested = resolveFrom({ localhost: ['127.0.0.1'] });
    bodies.length = 0;
    const result = await pushSet(`http://localhost:${port}/events`, 'token-1', 2000);
    expect(result).toEqual({ outcome: 'accepted' });
    expect(requested).toContain('localhost');
    expect(bodies).toEqual(['token-1']);
  });

  it('resolves again at delivery and stops at a private address', async () => {
    resolveFrom({ localhost: ['127.0.0.1'] });
    await checkPushEndpoint(`http://localhost:${port}/events`);
    // The DNS answer changes after registration, and the next connection must use the new answer.
    resolveFrom({ localhost: ['10.0.0.7'] });
    bodies.length = 0;
    const result = await pushSet(`http://localhost:${port}/events?rebound`, 'token-2', 2000);
    expect(result.outcome).toBe('failed');
    if (result.outcome !== 'failed') return;
    expect(result.error).toContain('10.0.0.7 (private, 10.0.0.0/8)');
    expect(result.error).toContain(`http://localhost:${port}/events?rebound`);
    expect(bodies).toEqual([]);
  });

  it('does not send to loopback in production', async () => {
    bodies.length = 0;
    const result = await inProduction(() => pushSet(`http://127.0.0.1:${port}/events`, 'token-3', 2000));
    expect(result.outcome).toBe('failed');
    if (result.outcome !== 'failed') return;
    expect(result.error).toContain('is 127.0.0.1 (loopback, 127.0.0.0/8)');
    expect(bodies).toEqual([]);
  });

  it('keeps 200 characters of a reply', async () => {
    const rejected = await pushSet(`http://127.0.0.1:${port}/long-rejection`, 'token-5', 2000);
    expect(rejected.outcome).toBe('rejected');
    if (rejected.outcome !== 'rejected') return;
    expect(rejected.error).toBe(`receiver rejected the SET: R${'r'.repeat(199)}…`);
    const failed = await pushSet(`http://127.0.0.1:${port}/long-failure`, 'token-6', 2000);
    expect(failed.outcome).toBe('failed');
    if (failed.outcome !== 'failed') return;
    expect(failed.error).toBe(`POST http://127.0.0.1:${port}/long-failure returned HTTP 503: F${'f'.repeat(199)}…`);
  });

  it('does not follow redirects', async () => {
    bodies.length = 0;
    const result = await pushSet(`http://127.0.0.1:${port}/redirect`, 'token-4', 2000);
    expect(result).toMatchObject({ outcome: 'failed', error: expect.stringContaining('returned HTTP 307') });
    expect(bodies).toEqual(['token-4']);
  });
});
