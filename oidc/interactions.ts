import type Provider from 'oidc-provider';
import { readLoginContext, type LoginContext } from '../functions/db/login-context.js';
import { ApiError } from '../functions/lib/errors.js';
import { log } from '../functions/lib/log.js';
import { audienceOf, refusedScopes, requestedScopes } from '../functions/services/login-policy.js';
import { passkeyAllowed, requiredAcrLevel } from './acr-levels.js';
import { ACR } from './claims.js';
import { errorPage } from './provider.js';
import { loginPage } from './pages.js';

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(finish|abort))?$/;

type Ctx = Parameters<Parameters<Provider['use']>[0]>[0];
type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Serve the login interaction of the provider: the page, the finish step that
 * ends the interaction with the login another function verified and recorded,
 * and abort. Certificate and passkey verification are served by the api and
 * passkeys functions, so this function bundles neither pkijs nor
 * @simplewebauthn/server.
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
      if (ctx.method === 'GET' && action === 'finish') return await finish(provider, ctx, uid);
      if (ctx.method === 'POST' && action === 'abort') return await abort(provider, ctx);
      const allowed = action === 'abort' ? 'POST' : 'GET';
      ctx.status = 405;
      ctx.set('allow', allowed);
      ctx.body = { error: 'METHOD_NOT_ALLOWED', message: `${ctx.method} is not allowed on ${ctx.path}; use ${allowed}` };
    } catch (error) {
      respondWithError(ctx, error);
      // A person opened the page or was sent to the finish step: show the error as a page, not as JSON.
      if (ctx.method === 'GET' && action !== 'abort' && ctx.status < 500 && typeof ctx.body === 'object' && ctx.body !== null) {
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

async function showLogin(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  const clientId = String(interaction.params.client_id);
  const audience = audienceOf(clientId);
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

/**
 * End the interaction with the login recorded for it. The provider checks the
 * browser's interaction cookie (interactionDetails). A request for a scope that
 * the account kind may not have ends with invalid_scope. Otherwise the login
 * context recorded under the interaction uid must exist, be unexpired and fit
 * this interaction. The grant takes the uid as its id, so that context becomes
 * the grant's login context.
 */
async function finish(provider: Provider, ctx: Ctx, uid: string): Promise<void> {
  const interaction = await details(provider, ctx, uid);
  const clientId = String(interaction.params.client_id);
  const audience = audienceOf(clientId);
  const refused = refusedScopes(audience, interaction.params);
  if (refused.length > 0) {
    // Granting fewer scopes than requested would only make the provider ask again, so the request ends here.
    const description = `scope ${refused.join(' ')} cannot be granted to ${audience === 'operator' ? 'an operator' : 'an enterprise'} account`;
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'invalid_scope', error_description: description }, { mergeWithLastSubmission: false });
    return redirect(ctx, redirectTo);
  }
  const login = await readLoginContext(uid);
  rejectUnfitLogin(login, interaction, audience);
  const grant = new provider.Grant({ accountId: login.accountId, clientId });
  // Saved under the interaction uid, the id of the recorded login context (oidc-provider 9 keeps a preset jti).
  grant.jti = uid;
  grant.addOIDCScope(requestedScopes(interaction.params).join(' '));
  const grantId = await grant.save();
  const redirectTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: login.accountId, acr: login.acr, amr: login.amr }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  redirect(ctx, redirectTo);
}

/** Reject a missing login and one that does not fit the interaction (defence in depth: the verifying function applied the same rules). */
function rejectUnfitLogin(login: LoginContext | undefined, interaction: Interaction, audience: ReturnType<typeof audienceOf>): asserts login is LoginContext & { accountId: string } {
  if (!login || !login.accountId || login.grantId !== interaction.uid) {
    throw new ApiError(400, 'LOGIN_NOT_RECORDED', `no login was recorded for sign-in ${interaction.uid}; sign in with a certificate or passkey on the login page first`);
  }
  const accountKind = login.operatorSub ? 'operator' : 'enterprise';
  const fits =
    login.clientId === interaction.params.client_id &&
    accountKind === audience &&
    (login.acr === ACR.certificate || passkeyAllowed(interaction.params));
  if (!fits) {
    log.error('recorded login does not fit its interaction', { uid: interaction.uid, clientId: interaction.params.client_id, recordedClientId: login.clientId, method: login.method });
    throw new ApiError(400, 'LOGIN_NOT_RECORDED', `the login recorded for sign-in ${interaction.uid} was made for another client, account kind or assurance level; go back to the trading platform and start again`);
  }
}

function redirect(ctx: Ctx, location: string): void {
  ctx.set('cache-control', 'no-store');
  ctx.redirect(location);
  ctx.status = 303;
}

async function abort(provider: Provider, ctx: Ctx): Promise<void> {
  const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
  ctx.body = { redirectTo };
}

function respondWithError(ctx: Ctx, error: unknown): void {
  const apiError = error instanceof ApiError ? error : undefined;
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
