import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
});
afterAll(async () => {
  await service?.stop();
});

/** Send a request with node:http, which passes the path through unnormalised (fetch would resolve dot segments). */
function rawRequest(method: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(service.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local host static files', () => {
  it('serves GET and HEAD', async () => {
    const get = await rawRequest('GET', '/static/portal/index.html');
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(get.body).toContain('<html');
    const head = await rawRequest('HEAD', '/static/portal/index.html');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  for (const method of ['POST', 'DELETE', 'TRACE', 'PUT']) {
    it(`rejects ${method} with 405`, async () => {
      const response = await rawRequest(method, '/static/portal/index.html');
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD');
      expect(response.headers['content-type']).toBe('application/json');
      expect(JSON.parse(response.body).error).toBe('METHOD_NOT_ALLOWED');
      expect(response.body).not.toContain('<html');
    });
  }

  it('names the allowed methods on an API 405', async () => {
    const response = await rawRequest('PUT', '/api/challenges');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('POST');
    expect(JSON.parse(response.body).error).toBe('METHOD_NOT_ALLOWED');
  });

  for (const path of ['/static/..%2f..', '/static/..%2f..%2fpackage.json', '/static/%00', '/static/portal%2f..%2f..%2f..%2fpackage.json']) {
    it(`rejects ${path} with a JSON error`, async () => {
      const response = await rawRequest('GET', path);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toBe('application/json');
      expect(JSON.parse(response.body)).toMatchObject({ error: 'PATH_INVALID' });
    });
  }

  it('serves no source maps', async () => {
    const script = await rawRequest('GET', '/static/portal/main.js');
    expect(script.status).toBe(200);
    const map = await rawRequest('GET', '/static/portal/main.js.map');
    expect(map.status).toBe(404);
  });

  it('returns 404 for a missing file', async () => {
    const response = await rawRequest('GET', '/static/....//');
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body).message).toBe('no static file /static/....//');
  });
});

describe('local host errors', () => {
  it('rejects an unknown method with JSON', async () => {
    const response = await rawRequest('FOO', '/static/portal/index.html');
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body)).toMatchObject({ error: 'BAD_REQUEST' });
  });

  it('sends Allow on interaction 405', async () => {
    const response = await rawRequest('DELETE', '/interaction/abc/abort');
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe('POST');
  });

  it('serves the CA sync OpenAPI document', async () => {
    const response = await rawRequest('GET', '/api/ca/openapi.json');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).openapi).toMatch(/^3\./);
  });
});
