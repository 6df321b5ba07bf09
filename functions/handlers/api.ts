import { createChallenge } from '../db/challenges.js';
import { getCreditCodeBySubject, getEnterprise, trustedName, type Enterprise } from '../db/enterprises.js';
import { authenticate } from '../lib/auth.js';
import { currentTrustStore } from '../db/ca-profiles.js';
import { listBindings, type CertificateBinding } from '../db/certificates.js';
import { config } from '../lib/config.js';
import { badRequest, forbidden, notFound } from '../lib/errors.js';
import { json, jsonBody, router, type HttpEvent, type Route } from '../lib/http.js';
import { bindCertificate } from '../services/binding.js';
import { withCertificateErrors } from '../services/certificate-proof.js';
import { confirmDetails, registerEnterprise, requireStoredCreditCode } from '../services/registration.js';
import { certificateLoginRoutes } from './certificate-login-routes.js';

/** The public view of an enterprise: no contact details, which only its owner sees. */
export function publicEnterprise(enterprise: Enterprise) {
  return {
    creditCode: enterprise.creditCode,
    name: trustedName(enterprise) ?? enterprise.details?.name,
    nameVerified: Boolean(trustedName(enterprise)),
    status: enterprise.status,
    source: enterprise.source,
    detailsConfirmed: enterprise.detailsConfirmed,
    registeredAt: enterprise.registeredAt,
    verifiedAt: enterprise.verifiedAt,
  };
}

export function publicBinding(binding: CertificateBinding) {
  const { pem, issuerNameHash, anchorSpkiHash, ...rest } = binding;
  return rest;
}

/**
 * Authenticate an enterprise's own access token (scope "enterprise") and check
 * that it belongs to the enterprise named in the path.
 */
async function requireOwnEnterprise(event: HttpEvent, creditCodeParam: string): Promise<string> {
  const code = await requireStoredCreditCode(creditCodeParam);
  const caller = await authenticate(event, 'enterprise');
  const own = caller.accountId ? await getCreditCodeBySubject(caller.accountId) : undefined;
  if (own !== code) throw forbidden('NOT_YOUR_ENTERPRISE', `this token belongs to ${own ?? 'no enterprise'}, not to ${code}`);
  return code;
}

const routes: Route[] = [
  {
    method: 'POST',
    path: '/api/enterprises',
    handler: async ({ event }) => {
      const { enterprise, completed } = await registerEnterprise(jsonBody(event));
      return json(completed ? 200 : 201, { ...publicEnterprise(enterprise), ...(completed ? { completed: true } : {}) }, { location: `/api/enterprises/${enterprise.creditCode}` });
    },
  },
  {
    method: 'GET',
    path: '/api/enterprises/{creditCode}',
    handler: async ({ event, params }) => {
      const code = await requireOwnEnterprise(event, params.creditCode);
      const enterprise = await getEnterprise(code);
      if (!enterprise) throw notFound('NOT_REGISTERED', `no enterprise with credit code ${code} is registered`);
      return json(200, { ...publicEnterprise(enterprise), details: enterprise.details });
    },
  },
  {
    method: 'PUT',
    path: '/api/enterprises/{creditCode}/details',
    handler: async ({ event, params }) => {
      const code = await requireOwnEnterprise(event, params.creditCode);
      const enterprise = await confirmDetails(code, jsonBody(event));
      return json(200, { ...publicEnterprise(enterprise), details: enterprise.details });
    },
  },
  {
    method: 'GET',
    path: '/api/enterprises/{creditCode}/certificates',
    handler: async ({ event, params }) => {
      const code = await requireOwnEnterprise(event, params.creditCode);
      const [bindings, store] = await Promise.all([listBindings(code), currentTrustStore()]);
      // The CA's status explains to the enterprise why a certificate of a suspended, retired or distrusted CA behaves as it does.
      const certificates = bindings.map((binding) => ({ ...publicBinding(binding), caStatus: store.profiles.get(binding.caId)?.status ?? null }));
      return json(200, { creditCode: code, certificates });
    },
  },
  {
    method: 'POST',
    path: '/api/enterprises/{creditCode}/certificates',
    handler: async ({ event, params }) =>
      withCertificateErrors(async () => {
        const result = await bindCertificate(params.creditCode, jsonBody(event));
        return json(result.created ? 201 : 200, {
          enterprise: publicEnterprise(result.enterprise),
          certificate: publicBinding(result.binding),
          created: result.created,
        });
      }),
  },
  {
    method: 'POST',
    path: '/api/challenges',
    handler: async ({ event }) => {
      const body = jsonBody(event);
      if (body.purpose === undefined) {
        throw badRequest('FIELD_MISSING', 'purpose is missing; send "bind" (login challenges come from the login page)', { field: 'purpose' });
      }
      if (body.purpose !== 'bind') {
        throw badRequest('FIELD_INVALID', `purpose ${JSON.stringify(body.purpose)} is not available here; use "bind" (login challenges come from the login page)`, { field: 'purpose' });
      }
      const creditCode = await requireStoredCreditCode(body.creditCode);
      if (!(await getEnterprise(creditCode))) {
        throw notFound('NOT_REGISTERED', `no enterprise with credit code ${creditCode} is registered; register it first with POST /api/enterprises`);
      }
      const challenge = await createChallenge('bind', config().origin, config().challengeTtlSeconds, creditCode);
      return json(201, { challenge: challenge.text, expiresAt: new Date(challenge.expiresAt * 1000).toISOString() });
    },
  },
  ...certificateLoginRoutes,
];

/** Lambda entry point for the enterprise registration and binding API and for certificate login. */
export const handler = router(routes);
