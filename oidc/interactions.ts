import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type Provider from 'oidc-provider';
import { createChallenge } from '../functions/db/challenges.js';
import { ConditionFailed, commitWithEvents } from '../functions/db/events.js';
import { countLogin } from '../functions/db/login-stats.js';
import { putLoginContext, rememberLoginContext, type LoginContext } from '../functions/db/login-context.js';
import { config } from '../functions/lib/config.js';
import { ApiError, badRequest } from '../functions/lib/errors.js';
import { EVENT_TYPES } from '../functions/lib/event-types.js';
import { log } from '../functions/lib/log.js';
import { CertificateRejected } from '../functions/pki/reasons.js';
import { rejectionError } from '../functions/services/certificate-proof.js';
import { loginWithCertificate } from '../functions/services/certificate-login.js';
import { ADMIN_CONSOLE_CLIENT_ID } from '../functions/services/first-party-clients.js';
import { authenticationOptions } from '../functions/services/passkey-ceremony.js';
import { loginWithPasskey, type Audience } from '../functions/services/passkey-login.js';
import { PasskeyRejected, passkeyError } from '../functions/webauthn/reasons.js';
import { passkeyAllowed, requiredAcrLevel } from './acr.js';
import { ACR } from './claims.js';
import { errorPage } from './provider.js';
import { GRANT_TTL_SECONDS } from './ttl.js';
import { loginPage } from './pages.js';

const MAX_BODY_BYTES = 256 * 1024;
const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(challenge|certificate|passkey-options|passkey|abort))?$/;

/** Scopes an account of each kind may be granted, whatever the client may request. */
const GRANTABLE_SCOPES: Record<Audience, Set<string>> = {
  enterprise: new Set(['openid', 'enterprise', 'offline_access']),
  operator: new Set(['openid', 'admin']),
};

type Ctx = Parameters<Parameters<Provider['use']>[0]>[0];
type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Serve the login interaction of the provider: the page, a fresh certificate
 * challenge or passkey options bound to the interaction, and the certificate
 * or passkey submission that ends it.
 */
const mounted = new WeakSet<Provider>();

export function mountInteractions(provider: Provider): void {
  if (mounted.has(provider)) return;
  mounted.add(provider);
  provider.use(async (ctx, next) => {
    const match = ROUTE.exec(ctx.path);
    if (!match) return next();
    const [, uid, action] = match;
    try {
      if (ctx.method === 'GET' && !action) return await showLogin(provider, ctx, uid);
      if (ctx.method === 'GET' && action === 'challenge') return await issueChallenge(provider, ctx, uid);
      if (ctx.method === 'POST' && action === 'certificate') return await finishWithCertificate(provider, ctx, uid);
      if (ctx.method === 'GET' && action === 'passkey-options') return await issuePasskeyOptions(provider, ctx, uid);
      if (ctx.method === 'POST' && action === 'passkey') return await finishWithPasskey(provider, ctx, uid);
      if (ctx.method === 'POST' && action === 'abort') return await abort(provider, ctx);
      ctx.status = 405;
      ctx.body = { error: 'METHOD_NOT_ALLOWED', message: `${ctx.method} is not allowed on ${ctx.path}` };
    } catch (error) {
      respondWithError(ctx, error);
      // A person opened the page itself: show the error as a page, not as JSON.
      if (ctx.method === 'GET' && !action && ctx.status < 500 && typeof ctx.body === 'object' && ctx.body !== null) {
        const body = ctx.body as { error?: string; message?: string };
        ctx.type = 'html';
        ctx.body = errorPage(body.error ?? 'ERROR', body.message ?? '');
      }
    }
  });
}

async function details(provider: Provider, ctx: Ctx, uid: string): Promise<Interaction> {
  try {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== uid) throw new Error('uid mismatch');
    return interaction;
  } catch {
    throw new ApiError(400, 'INTERACTION_EXPIRED', 'this sign-in has expired or was opened in another browser; go back to the trading platform and start again');
  }
}

async function clientName(provider: Provider, clientId: string): Promise<string> {
  const client = await provider.Client.find(clientId);
  return (client?.clientName as string | undefined) ?? clientId;
}

const audienceOf = (interaction: Interaction): Audience => (interaction.params.client_id === ADMIN_CONSOLE_CLIENT_ID ? 'operator' : 'enterprise');

async function showLogin(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  const clientId = String(interaction.params.client_id);
  const audience = audienceOf(interaction);
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.set('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.body = loginPage({
    uid,
    clientName: await clientName(provider, clientId),
    audience,
    certificate: audience === 'enterprise',
    passkey: passkeyAllowed(interaction.params),
    certificateRequired: requiredAcrLevel(interaction.params) >= 2,
    scopes: String(interaction.params.scope ?? 'openid').split(' '),
  });
}

async function issueChallenge(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  const challenge = await createChallenge('login', config().origin, config().challengeTtlSeconds, uid);
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    challenge: challenge.text,
    expiresAt: new Date(challenge.expiresAt * 1000).toISOString(),
    client: { id: interaction.params.client_id, name: await clientName(provider, String(interaction.params.client_id)) },
    acrValues: interaction.params.acr_values ?? null,
  };
}

async function finishWithCertificate(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  if (audienceOf(interaction) === 'operator') {
    throw new ApiError(403, 'METHOD_NOT_ALLOWED_HERE', 'the admin console accepts operator security keys only; enterprise certificates cannot sign in to it');
  }
  const body = await readJson(ctx);
  const { enterprise, binding } = await loginWithCertificate(uid, body);
  await completeLogin(provider, ctx, interaction, {
    accountId: enterprise.sub,
    audience: 'enterprise',
    context: { creditCode: enterprise.creditCode, method: 'certificate', amr: ['pop', 'x509'], acr: ACR.certificate, x5tS256: Buffer.from(binding.fingerprint, 'hex').toString('base64url') },
    items: [],
    eventData: { creditCode: enterprise.creditCode, certificate: binding.fingerprint },
  });
  log.info('certificate login', { creditCode: enterprise.creditCode, clientId: interaction.params.client_id, certificate: binding.fingerprint });
}

function rejectWeakLogin(interaction: Interaction): void {
  if (!passkeyAllowed(interaction.params)) {
    throw new PasskeyRejected(
      'PASSKEY_NOT_ALLOWED_HERE',
      `${interaction.params.client_id} requires a certificate login (acr ${ACR.certificate}) for this sign-in; a passkey does not meet it`,
      403,
    );
  }
}

async function issuePasskeyOptions(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  rejectWeakLogin(interaction);
  ctx.set('cache-control', 'no-store');
  ctx.body = await authenticationOptions(uid);
}

async function finishWithPasskey(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  rejectWeakLogin(interaction);
  const audience = audienceOf(interaction);
  const login = await loginWithPasskey(uid, await readJson(ctx), audience);
  const accountId = login.enterprise?.sub ?? login.operator!.sub;
  try {
    await completeLogin(provider, ctx, interaction, {
      accountId,
      audience,
      context: {
        creditCode: login.enterprise?.creditCode,
        operatorSub: login.operator?.sub,
        method: 'passkey',
        amr: login.amr,
        acr: ACR.passkey,
        credentialId: login.credential.credentialId,
      },
      items: [login.recordUse],
      eventData: login.enterprise ? { creditCode: login.enterprise.creditCode, credentialId: login.credential.credentialId } : { operator: login.operator!.sub, credentialId: login.credential.credentialId },
    });
  } catch (error) {
    if (error instanceof ConditionFailed && error.index === 0) {
      throw new PasskeyRejected('PASSKEY_REVOKED', `credential ${login.credential.credentialId} was revoked or used by another sign-in at the same moment; try again`, 409);
    }
    throw error;
  }
  log.info('passkey login', { account: accountId, clientId: interaction.params.client_id, credentialId: login.credential.credentialId });
}

interface CompletedLogin {
  accountId: string;
  audience: Audience;
  context: Omit<LoginContext, 'grantId' | 'authenticatedAt' | 'expiresAt'>;
  /** Items that must commit with the login (a passkey's counter update comes first). */
  items: TransactWriteItem[];
  eventData: Record<string, unknown>;
}

/**
 * End the interaction with a login. A request for a scope that the account
 * kind may not have ends with invalid_scope. Otherwise a grant for the
 * requested scopes is saved, and the caller's items, the login context, the
 * daily counters and the login event commit in one transaction.
 */
async function completeLogin(provider: Provider, ctx: Ctx, interaction: Interaction, login: CompletedLogin): Promise<void> {
  const clientId = String(interaction.params.client_id);
  const requested = String(interaction.params.scope ?? 'openid').split(' ').filter(Boolean);
  const refused = requested.filter((scope) => !GRANTABLE_SCOPES[login.audience].has(scope));
  if (refused.length > 0) {
    // Granting fewer scopes than requested would only make the provider ask again, so the request ends here.
    const description = `scope ${refused.join(' ')} cannot be granted to ${login.audience === 'operator' ? 'an operator' : 'an enterprise'} account`;
    log.warn('requested scope not grantable to the account', { clientId, refused, audience: login.audience });
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'invalid_scope', error_description: description }, { mergeWithLastSubmission: false });
    ctx.set('cache-control', 'no-store');
    ctx.body = { redirectTo };
    return;
  }
  const grant = new provider.Grant({ accountId: login.accountId, clientId });
  grant.addOIDCScope(requested.join(' '));
  const grantId = await grant.save();
  const now = new Date();
  const authenticatedAt = Math.floor(now.getTime() / 1000);
  const loginContext: LoginContext = { grantId, ...login.context, authenticatedAt, expiresAt: authenticatedAt + GRANT_TTL_SECONDS };
  await commitWithEvents(
    [
      ...login.items,
      putLoginContext(loginContext),
      countLogin(now, clientId, login.context.method),
    ],
    [{ type: EVENT_TYPES.login, creditCode: login.context.creditCode, data: { ...login.eventData, clientId, method: login.context.method } }],
  );
  rememberLoginContext(loginContext);
  const redirectTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: login.accountId, acr: login.context.acr, amr: login.context.amr }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.set('cache-control', 'no-store');
  ctx.body = { redirectTo };
}

async function abort(provider: Provider, ctx: Ctx): Promise<void> {
  const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
  ctx.body = { redirectTo };
}

async function readJson(ctx: Ctx): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw badRequest('BODY_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch (error) {
    throw badRequest('BODY_NOT_JSON', `the request body must be a JSON object (${(error as Error).message})`);
  }
}

function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof CertificateRejected) return rejectionError(error);
  if (error instanceof PasskeyRejected) return passkeyError(error);
  if (error instanceof ApiError) return error;
  return undefined;
}

function respondWithError(ctx: Ctx, error: unknown): void {
  const apiError = toApiError(error);
  ctx.set('cache-control', 'no-store');
  if (apiError) {
    ctx.status = apiError.status;
    ctx.body = { error: apiError.code, message: apiError.message, ...(apiError.details ? { details: apiError.details } : {}) };
    return;
  }
  log.error('interaction failed', { path: ctx.path, error });
  ctx.status = 500;
  ctx.body = { error: 'INTERNAL', message: 'the sign-in failed inside the service; it has been logged, try again later' };
}
