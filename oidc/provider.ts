import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { getCreditCodeBySubject, getEnterpriseForClaims, trustedName } from '../functions/db/enterprises.js';
import { getLoginContext } from '../functions/db/login-context.js';
import { getOperator, isOperatorSubject } from '../functions/db/operators.js';
import { log } from '../functions/lib/log.js';
import { firstPartyClients } from '../functions/services/first-party-clients.js';
import { interactionPolicyWithAcr } from './acr.js';
import { DynamoDbAdapter } from './adapter.js';
import { ACR, ENTERPRISE_CLAIMS, OPERATOR_CLAIMS } from './claims.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG } from './signing.js';
import { GRANT_TTL_SECONDS } from './ttl.js';
import type { ProviderKeys } from './keys.js';


/**
 * Create the OpenID Connect provider: authorization code flow with PKCE (S256)
 * for every client, DynamoDB storage, certificate (and passkey) login through
 * this service's own interaction pages, and verified enterprise claims.
 */
export function createProvider(issuer: string, keys: ProviderKeys): Provider {
  const issuerOrigin = new URL(issuer).origin;
  const configuration: Configuration = {
    adapter: DynamoDbAdapter,
    jwks: keys.jwks as Configuration['jwks'],
    cookies: {
      keys: keys.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    pkce: { required: () => true },
    acrValues: [ACR.certificate, ACR.passkey],
    scopes: ['openid', 'enterprise', 'offline_access', 'admin', 'ca:sync', 'feed:read'],
    claims: { sid: null, iss: null, openid: ['sub', 'acr', 'amr', 'auth_time'], enterprise: [...ENTERPRISE_CLAIMS], admin: [...OPERATOR_CLAIMS] },
    clients: firstPartyClients(),
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    extraClientMetadata: {
      properties: ['ca_profiles'],
      validator: (_ctx, key, value) => {
        if (key === 'ca_profiles' && value !== undefined && !(Array.isArray(value) && value.every((id) => typeof id === 'string'))) {
          throw new errors.InvalidClientMetadata('ca_profiles must be an array of CA profile ids');
        }
      },
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: DEFAULT_ID_TOKEN_SIGNING_ALG,
    },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      // Platforms that register backchannel_logout_uri receive a logout token when a session ends here.
      // When the feed ends sessions after a revocation, functions/feed/backchannel-logout.ts sends the same token.
      backchannelLogout: { enabled: true },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 900,
      Session: 8 * 3600,
      Grant: GRANT_TTL_SECONDS,
      ClientCredentials: 600,
      RefreshToken: 24 * 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: interactionPolicyWithAcr() },
    // Claims are loaded only when oidc-provider requests them, so the login resume
    // step (which only needs the account id) costs no reads.
    findAccount: async (ctx: KoaContextWithOIDC, sub: string, token) => ({
      accountId: sub,
      claims: async () => {
        const grantId = (token as { grantId?: string } | undefined)?.grantId ?? ctx.oidc?.entities?.Grant?.jti;
        const login = grantId ? await getLoginContext(grantId) : undefined;
        if (isOperatorSubject(sub)) {
          const operator = await getOperator(sub);
          if (!operator || login?.operatorSub !== sub) return { sub };
          return { sub, name: operator.name, role: operator.role, auth_method: login.method, amr: login.amr, acr: login.acr };
        }
        // The login context names the enterprise already; the subject mapping is the fallback.
        const creditCode = login?.creditCode ?? (await getCreditCodeBySubject(sub));
        const enterprise = creditCode ? await getEnterpriseForClaims(creditCode) : undefined;
        if (!enterprise || enterprise.sub !== sub) return { sub };
        return {
          sub,
          credit_code: enterprise.creditCode,
          enterprise_name: trustedName(enterprise) ?? null,
          verification_status: enterprise.status,
          ...(login?.x5tS256 ? { 'x5t#S256': login.x5tS256 } : {}),
          ...(login ? { auth_method: login.method, amr: login.amr, acr: login.acr } : {}),
        };
      },
    }),
    // Platforms are server-side relying parties, and the portal and admin console are served from the
    // issuer's own origin. So client-authenticated endpoints (token, userinfo at /me, introspection,
    // revocation) accept browser calls from that origin only, and reject every cross-origin call.
    clientBasedCORS: (_ctx, origin) => origin === issuerOrigin,
    fetch: loopbackAwareFetch,
    renderError: async (ctx, out, error) => {
      log.warn('oidc error page', { error: out.error, description: out.error_description });
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description ?? '');
      void error;
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.proxy = true;
  provider.on('server_error', (_ctx, error) => log.error('oidc server error', { error }));
  provider.use(async (ctx, next) => {
    await next();
    // Pages of this provider must never be framed by another site (clickjacking).
    if (ctx.response.is('html')) {
      if (!ctx.response.get('content-security-policy')) ctx.set('content-security-policy', "frame-ancestors 'none'; object-src 'none'; base-uri 'none'");
      ctx.set('x-frame-options', 'DENY');
      ctx.set('x-content-type-options', 'nosniff');
      if (!ctx.response.get('referrer-policy')) ctx.set('referrer-policy', 'no-referrer');
    }
  });
  return provider;
}

/**
 * oidc-provider 9 refuses outgoing requests (back-channel logout among them) to
 * special-use addresses such as 127.0.0.1, to prevent server-side request
 * forgery. Off Lambda (the local host and tests), loopback URLs are let through
 * so that platforms under test on this machine can receive logouts.
 */
function loopbackAwareFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const options = (init ?? {}) as RequestInit & { dispatcher?: unknown };
  const url = input instanceof Request ? input.url : input;
  const { hostname } = new URL(url);
  const loopback = hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
  if (loopback && !process.env.AWS_LAMBDA_FUNCTION_NAME) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(input, rest);
  }
  return globalThis.fetch(input, options);
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Render a plain bilingual error page for browsers that names the error code and what to do. */
export function errorPage(code: string, description: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>登录出错 / Sign-in error</title></head>
<body><main><h1>登录出错 / Sign-in error</h1><p><code>${escapeHtml(code)}</code></p><p>${escapeHtml(description)}</p>
<p>请返回交易平台重新发起登录。/ Go back to the trading platform and start the sign-in again.</p></main></body></html>`;
}
