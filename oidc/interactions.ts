import type Provider from 'oidc-provider';
import { createChallenge } from '../functions/db/challenges.js';
import { commitWithEvents } from '../functions/db/events.js';
import { putLoginContext } from '../functions/db/login-context.js';
import { config } from '../functions/lib/config.js';
import { ApiError, badRequest } from '../functions/lib/errors.js';
import { EVENT_TYPES } from '../functions/lib/event-types.js';
import { log } from '../functions/lib/log.js';
import { CertificateRejected } from '../functions/pki/reasons.js';
import { rejectionError } from '../functions/services/certificate-proof.js';
import { loginWithCertificate } from '../functions/services/certificate-login.js';
import { ACR } from './claims.js';
import { GRANT_TTL_SECONDS } from './ttl.js';
import { loginPage } from './pages.js';

const MAX_BODY_BYTES = 256 * 1024;
const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(challenge|certificate|abort))?$/;

type Ctx = Parameters<Parameters<Provider['use']>[0]>[0];

/**
 * Serve the login interaction of the provider: the page, a fresh login
 * challenge bound to the interaction, and the certificate submission that ends it.
 */
export function mountInteractions(provider: Provider): void {
  provider.use(async (ctx, next) => {
    const match = ROUTE.exec(ctx.path);
    if (!match) return next();
    const [, uid, action] = match;
    try {
      if (ctx.method === 'GET' && !action) return await showLogin(provider, ctx, uid);
      if (ctx.method === 'GET' && action === 'challenge') return await issueChallenge(provider, ctx, uid);
      if (ctx.method === 'POST' && action === 'certificate') return await finishWithCertificate(provider, ctx, uid);
      if (ctx.method === 'POST' && action === 'abort') return await abort(provider, ctx);
      ctx.status = 405;
      ctx.body = { error: 'METHOD_NOT_ALLOWED', message: `${ctx.method} is not allowed on ${ctx.path}` };
    } catch (error) {
      respondWithError(ctx, error);
    }
  });
}

async function details(provider: Provider, ctx: Ctx, uid: string) {
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
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = loginPage({ uid, clientName: await clientName(provider, clientId), prompt: interaction.prompt.name });
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
  const body = await readJson(ctx);
  const { enterprise, binding } = await loginWithCertificate(uid, body);
  const clientId = String(interaction.params.client_id);

  const grant = new provider.Grant({ accountId: enterprise.sub, clientId });
  grant.addOIDCScope(String(interaction.params.scope ?? 'openid'));
  const amr = ['pop', 'x509'];
  const grantId = await grant.save();
  const loginContext = putLoginContext({
    grantId,
    creditCode: enterprise.creditCode,
    method: 'certificate',
    amr,
    acr: ACR.certificate,
    x5tS256: Buffer.from(binding.fingerprint, 'hex').toString('base64url'),
    expiresAt: Math.floor(Date.now() / 1000) + GRANT_TTL_SECONDS,
  });
  await commitWithEvents([loginContext], [
    { type: EVENT_TYPES.login, creditCode: enterprise.creditCode, data: { creditCode: enterprise.creditCode, clientId, method: 'certificate', certificate: binding.fingerprint } },
  ]);
  log.info('certificate login', { creditCode: enterprise.creditCode, clientId, certificate: binding.fingerprint });
  const redirectTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: enterprise.sub, acr: ACR.certificate, amr }, consent: { grantId } },
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

function respondWithError(ctx: Ctx, error: unknown): void {
  const apiError = error instanceof CertificateRejected ? rejectionError(error) : error instanceof ApiError ? error : undefined;
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
