import { getCreditCodeBySubject } from '../db/enterprises.js';
import { authenticate } from '../lib/auth.js';
import { forbidden } from '../lib/errors.js';
import { json, jsonBody, type HttpEvent, type Route } from '../lib/http.js';
import { PORTAL_CLIENT_ID } from '../services/first-party-clients.js';
import { recentPlatformLogins } from '../services/login-history.js';
import { finishOperatorEnrollment, startOperatorEnrollment } from '../services/operators.js';
import {
  finishEnterpriseRegistration,
  listEnterpriseCredentials,
  publicCredential,
  relabelCredential,
  revokeEnterpriseCredential,
  startEnterpriseRegistration,
  type EnterpriseSession,
} from '../services/passkeys.js';
import { requireStoredCreditCode } from '../services/registration.js';
import { withPasskeyErrors } from '../webauthn/reasons.js';

/**
 * Authenticate an enterprise's own access token (scope "enterprise") for the
 * enterprise named in the path, keeping the token's grant for login checks.
 * Only tokens issued to the enterprise portal qualify: a platform also holds
 * enterprise tokens, and must not be able to add or revoke the enterprise's
 * passkeys with them.
 */
async function requireSession(event: HttpEvent, creditCodeParam: string): Promise<EnterpriseSession> {
  const creditCode = await requireStoredCreditCode(creditCodeParam);
  const caller = await authenticate(event, 'enterprise');
  if (caller.clientId !== PORTAL_CLIENT_ID) {
    throw forbidden('PORTAL_ONLY', `passkeys and login history are managed in the enterprise portal; this token was issued to ${caller.clientId}`);
  }
  const own = caller.kind === 'enterprise' && caller.accountId ? await getCreditCodeBySubject(caller.accountId) : undefined;
  if (own !== creditCode) throw forbidden('NOT_YOUR_ENTERPRISE', `this token belongs to ${own ?? 'no enterprise'}, not to ${creditCode}`);
  return { creditCode, grantId: caller.grantId };
}

/** Routes for an enterprise's WebAuthn credentials, its login history and operator enrollment. */
export const passkeyRoutes: Route[] = [
  {
    method: 'POST',
    path: '/api/enterprises/{creditCode}/passkeys/registration-options',
    handler: async ({ event, params }) =>
      withPasskeyErrors(async () => {
        const session = await requireSession(event, params.creditCode);
        return json(200, await startEnterpriseRegistration(session, jsonBody(event)));
      }),
  },
  {
    method: 'POST',
    path: '/api/enterprises/{creditCode}/passkeys',
    handler: async ({ event, params }) =>
      withPasskeyErrors(async () => {
        const session = await requireSession(event, params.creditCode);
        const credential = await finishEnterpriseRegistration(session, jsonBody(event));
        return json(201, publicCredential(credential), { location: `/api/enterprises/${session.creditCode}/passkeys/${credential.credentialId}` });
      }),
  },
  {
    method: 'GET',
    path: '/api/enterprises/{creditCode}/passkeys',
    handler: async ({ event, params }) => {
      const session = await requireSession(event, params.creditCode);
      const credentials = await listEnterpriseCredentials(session.creditCode);
      return json(200, { creditCode: session.creditCode, passkeys: credentials.map(publicCredential) });
    },
  },
  {
    method: 'PATCH',
    path: '/api/enterprises/{creditCode}/passkeys/{credentialId}',
    handler: async ({ event, params }) => {
      const session = await requireSession(event, params.creditCode);
      return json(200, publicCredential(await relabelCredential(session.creditCode, params.credentialId, jsonBody(event))));
    },
  },
  {
    method: 'DELETE',
    path: '/api/enterprises/{creditCode}/passkeys/{credentialId}',
    handler: async ({ event, params }) => {
      const session = await requireSession(event, params.creditCode);
      const reason = event.queryStringParameters?.reason;
      const { credential, grantsEnded } = await revokeEnterpriseCredential(session.creditCode, params.credentialId, reason);
      return json(200, { ...publicCredential(credential), grantsEnded });
    },
  },
  {
    method: 'GET',
    path: '/api/enterprises/{creditCode}/logins',
    handler: async ({ event, params }) => {
      const session = await requireSession(event, params.creditCode);
      return json(200, { creditCode: session.creditCode, platforms: await recentPlatformLogins(session.creditCode) });
    },
  },
  {
    method: 'POST',
    path: '/api/operator-enrollment/options',
    handler: async ({ event }) => withPasskeyErrors(async () => json(200, await startOperatorEnrollment(jsonBody(event)))),
  },
  {
    method: 'POST',
    path: '/api/operator-enrollment',
    handler: async ({ event }) =>
      withPasskeyErrors(async () => {
        const credential = await finishOperatorEnrollment(jsonBody(event));
        return json(201, { id: credential.credentialId, displayName: credential.displayName, createdAt: credential.createdAt });
      }),
  },
];
