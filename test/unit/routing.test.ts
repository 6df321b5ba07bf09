import { describe, expect, it } from 'vitest';
import { deployableFunctions, type FunctionEntry } from '../../infra/aws/functions.js';
import { httpRoutes, selectFunction, type RouteTarget } from '../../infra/routing.js';

const target = (name: string, method: RouteTarget['route']['method'], path: string): RouteTarget => ({ name, route: { method, path } });

// One route of each kind: literal, path variable, greedy variable, ANY with a greedy variable, $default.
const GUIDE_ROUTES = [
  target('exact', 'GET', '/pets/dog/1'),
  target('variable', 'GET', '/pets/dog/{id}'),
  target('greedy', 'GET', '/pets/{proxy+}'),
  target('any-greedy', 'ANY', '/{proxy+}'),
  target('default', 'ANY', '$default'),
];

describe('route selection', () => {
  it('prefers a full literal match', () => {
    expect(selectFunction(GUIDE_ROUTES, 'GET', '/pets/dog/1')).toBe('exact');
  });

  it('prefers a path variable to a greedy variable', () => {
    expect(selectFunction(GUIDE_ROUTES, 'GET', '/pets/dog/2')).toBe('variable');
  });

  it('prefers the longer greedy prefix', () => {
    expect(selectFunction(GUIDE_ROUTES, 'GET', '/pets/cat/1')).toBe('greedy');
  });

  it('matches the method before the path', () => {
    expect(selectFunction(GUIDE_ROUTES, 'POST', '/pets/dog/1')).toBe('any-greedy');
  });

  it('falls back to $default', () => {
    expect(selectFunction(GUIDE_ROUTES, 'GET', '/')).toBe('default');
  });

  it('prefers the request method to ANY', () => {
    const routes = [target('any', 'ANY', '/a/{b}'), target('get', 'GET', '/a/{b}')];
    expect(selectFunction(routes, 'GET', '/a/x')).toBe('get');
    expect(selectFunction(routes, 'POST', '/a/x')).toBe('any');
  });

  it('needs a segment for a greedy variable', () => {
    const routes = [target('greedy', 'ANY', '/api/{proxy+}')];
    expect(selectFunction(routes, 'GET', '/api/')).toBeUndefined();
    expect(selectFunction(routes, 'GET', '/api')).toBeUndefined();
    expect(selectFunction(routes, 'GET', '/api/x/y')).toBe('greedy');
  });
});

describe('service routes', () => {
  const routes = httpRoutes(deployableFunctions());
  const cases: [string, string, string][] = [
    ['GET', '/interaction/abc/challenge', 'api'],
    ['POST', '/interaction/abc/certificate', 'api'],
    ['GET', '/interaction/abc/passkey-options', 'passkeys'],
    ['POST', '/interaction/abc/passkey', 'passkeys'],
    ['GET', '/interaction/abc/finish', 'oidc'],
    ['GET', '/interaction/abc', 'oidc'],
    ['POST', '/interaction/abc/abort', 'oidc'],
    ['GET', '/auth', 'oidc'],
    ['POST', '/token', 'oidc'],
    ['POST', '/api/enterprises', 'api'],
    ['POST', '/api/challenges', 'api'],
    ['GET', '/api/enterprises/914403001922038216/certificates', 'api'],
    ['POST', '/api/enterprises/914403001922038216/passkeys/registration-options', 'passkeys'],
    ['POST', '/api/enterprises/914403001922038216/passkeys', 'passkeys'],
    ['GET', '/api/enterprises/914403001922038216/passkeys', 'passkeys'],
    ['PATCH', '/api/enterprises/914403001922038216/passkeys/cred-1', 'passkeys'],
    ['DELETE', '/api/enterprises/914403001922038216/passkeys/cred-1', 'passkeys'],
    ['GET', '/api/enterprises/914403001922038216/logins', 'passkeys'],
    ['POST', '/api/operator-enrollment/options', 'passkeys'],
    ['POST', '/api/operator-enrollment', 'passkeys'],
    ['GET', '/api/admin/ca-profiles', 'admin'],
    ['POST', '/api/ca/certificates', 'ca-sync'],
    ['GET', '/api/feed/events', 'feed'],
  ];
  for (const [method, path, name] of cases) {
    it(`sends ${method} ${path} to ${name}`, () => {
      expect(selectFunction(routes, method, path)).toBe(name);
    });
  }

  it('sends every declared route to its function', () => {
    const entries: FunctionEntry[] = deployableFunctions();
    for (const { name, route } of httpRoutes(entries)) {
      if (route.path === '$default') continue;
      const path = route.path.replace(/\{\w+\+\}/, 'x/y').replace(/\{\w+\}/g, 'x');
      const method = route.method === 'ANY' ? 'PUT' : route.method;
      expect(selectFunction(routes, method, path), `${route.method} ${route.path}`).toBe(name);
    }
  });
});
