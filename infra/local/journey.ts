import { sign, createPrivateKey } from 'node:crypto';
import * as client from 'openid-client';

/**
 * The certificate holder's and the platform's side of the main journey,
 * driven over HTTP exactly as a signing client and a relying party would.
 * Used by `npm run demo`, the end-to-end tests and the benchmarks.
 */

export interface Holder {
  certPem: string;
  keyPem: string;
  chainPems?: string[];
  /** Signs a challenge (base64 result) for keys that signChallenge does not handle, such as SM2. */
  sign?: (text: string) => Promise<string>;
}

/** Sign `text` with the holder's key, as a signing client does (raw signature, base64). */
export function signChallenge(keyPem: string, text: string): string {
  const key = createPrivateKey(keyPem);
  const data = Buffer.from(text, 'utf8');
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return sign(curve === 'secp384r1' ? 'sha384' : 'sha256', data, key).toString('base64');
  }
  if (type === 'rsa') return sign('sha256', data, key).toString('base64');
  throw new Error(`signing with a ${type} key is not supported by this helper`);
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Register an enterprise; returns the HTTP status and body (201, or 409 when it exists). */
export async function register(base: string, details: { creditCode: string; name: string; legalRepresentative: string; contact: { name: string; phone: string; email?: string } }) {
  return postJson(`${base}/api/enterprises`, details);
}

/** Obtain a binding challenge, sign it and bind the holder's certificate. */
export async function bind(base: string, creditCode: string, holder: Holder, extra: Record<string, unknown> = {}) {
  const challenge = await postJson(`${base}/api/challenges`, { purpose: 'bind', creditCode });
  if (challenge.status !== 201) return challenge;
  return postJson(`${base}/api/enterprises/${creditCode}/certificates`, {
    certificate: holder.certPem,
    chain: holder.chainPems ?? [],
    challenge: challenge.body.challenge,
    signature: signChallenge(holder.keyPem, challenge.body.challenge),
    ...extra,
  });
}

/** A minimal cookie jar for driving the provider's pages without a browser. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export interface PlatformSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export async function discoverPlatform(settings: PlatformSettings): Promise<client.Configuration> {
  const configuration = await client.discovery(new URL(settings.issuer), settings.clientId, undefined, client.ClientSecretBasic(settings.clientSecret), {
    execute: [client.allowInsecureRequests],
  });
  return configuration;
}

export interface LoginOutcome {
  tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  claims: client.IDToken;
  userinfo: client.UserInfoResponse;
}

/**
 * Run one authorization code + PKCE login as a platform would. `authenticate`
 * plays the user on the login interaction and returns its JSON response. Its
 * `redirectTo` is the provider's finish step, which the browser follows with
 * the redirects after it. The platform then exchanges the code and reads userinfo.
 */
async function codeFlowLogin(
  configuration: client.Configuration,
  settings: PlatformSettings,
  method: string,
  authenticate: (interactionUrl: string, jar: CookieJar) => Promise<Response>,
  extraParams: Record<string, string>,
  jar: CookieJar,
): Promise<LoginOutcome> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(configuration, {
    redirect_uri: settings.redirectUri,
    scope: 'openid enterprise',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extraParams,
  });
  const interactionUrl = await followUntil(authUrl.href, jar, (url) => url.pathname.startsWith('/interaction/'));

  const submitted = await authenticate(interactionUrl, jar);
  jar.store(submitted.headers);
  const result = await submitted.json();
  if (submitted.status !== 200) {
    throw Object.assign(new Error(`${method} login rejected: ${result.error}: ${result.message}`), { response: result, status: submitted.status });
  }

  const callback = await followUntil(new URL(result.redirectTo, settings.issuer).href, jar, (url) => url.href.startsWith(settings.redirectUri));
  const tokens = await client.authorizationCodeGrant(configuration, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  const claims = tokens.claims()!;
  const userinfo = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
  return { tokens, claims, userinfo };
}

/** Log in with a certificate: the holder signs the challenge of the login interaction. */
export async function certificateLogin(configuration: client.Configuration, settings: PlatformSettings, holder: Holder, extraParams: Record<string, string> = {}): Promise<LoginOutcome> {
  return codeFlowLogin(configuration, settings, 'certificate', async (interactionUrl, jar) => {
    const challenge = await getJson(`${interactionUrl}/challenge`, jar);
    const signature = holder.sign ? await holder.sign(challenge.challenge) : signChallenge(holder.keyPem, challenge.challenge);
    return fetch(`${interactionUrl}/certificate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: jar.header() },
      body: JSON.stringify({ certificate: holder.certPem, chain: holder.chainPems ?? [], challenge: challenge.challenge, signature }),
    });
  }, extraParams, new CookieJar());
}

/**
 * Log in with a passkey: `answer` plays the authenticator on the options the
 * login page receives. A `jar` that already contains a session cookie
 * continues that browser session.
 */
export async function passkeyLogin(
  configuration: client.Configuration,
  settings: PlatformSettings,
  answer: (options: any) => unknown | Promise<unknown>,
  extraParams: Record<string, string> = {},
  jar = new CookieJar(),
): Promise<LoginOutcome> {
  return codeFlowLogin(configuration, settings, 'passkey', async (interactionUrl) => {
    const options = await getJson(`${interactionUrl}/passkey-options`, jar);
    return fetch(`${interactionUrl}/passkey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: jar.header() },
      body: JSON.stringify({ credential: await answer(options) }),
    });
  }, extraParams, jar);
}

async function getJson(url: string, jar: CookieJar): Promise<any> {
  const response = await fetch(url, { headers: { cookie: jar.header(), accept: 'application/json' } });
  jar.store(response.headers);
  const body = await response.json();
  if (response.status !== 200) throw new Error(`GET ${url} returned ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Follow redirects by hand (keeping cookies) until `done` matches the next location. */
export async function followUntil(start: string, jar: CookieJar, done: (url: URL) => boolean): Promise<string> {
  let url = start;
  for (let hop = 0; hop < 10; hop += 1) {
    const current = new URL(url);
    if (done(current)) return url;
    // The redirect URI of a platform is never fetched: an OAuth error there is reported to the caller.
    if (!['localhost', '127.0.0.1', '[::1]'].includes(current.hostname)) {
      const error = current.searchParams.get('error');
      throw Object.assign(new Error(`redirected to ${current.origin}${current.pathname}${error ? ` with error ${error}` : ''}; not following a non-local address`), {
        error: error ?? undefined,
        error_description: current.searchParams.get('error_description') ?? undefined,
      });
    }
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response.headers);
    const location = response.headers.get('location');
    if (!location) {
      throw Object.assign(new Error(`expected a redirect from ${url}, got ${response.status}: ${(await response.text()).slice(0, 500)}`), { status: response.status });
    }
    await response.arrayBuffer().catch(() => undefined);
    url = new URL(location, url).href;
  }
  throw new Error(`too many redirects from ${start}`);
}
