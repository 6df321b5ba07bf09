import { currentTrustStore } from '../db/ca-profiles.js';
import { listBindings, type CertificateBinding } from '../db/certificates.js';
import type { TrustStore } from '../pki/trust-store.js';
import { findEnterprisesByName, getEnterprise, trustedName, type Enterprise } from '../db/enterprises.js';
import { authenticate } from '../lib/auth.js';
import { checkCreditCode } from '../lib/credit-code.js';
import { badRequest, notFound } from '../lib/errors.js';
import { json, type Route } from '../lib/http.js';
import { listCredentials, publicCredential } from '../db/webauthn-credentials.js';
import { requireStoredCreditCode } from '../services/registration.js';

const listCredentialsOf = (creditCode: string) => listCredentials({ kind: 'enterprise', creditCode });

/** Maximum enterprises one name search returns. */
const MAX_RESULTS = 50;
const MAX_QUERY_LENGTH = 100;

/** An enterprise as operators see it in search results. */
function enterpriseSummary(enterprise: Enterprise) {
  return {
    creditCode: enterprise.creditCode,
    name: trustedName(enterprise) ?? enterprise.details?.name ?? null,
    nameVerified: Boolean(trustedName(enterprise)),
    status: enterprise.status,
    source: enterprise.source,
    registeredAt: enterprise.registeredAt,
    verifiedAt: enterprise.verifiedAt ?? null,
  };
}

/** A bound certificate for operators: no PEM, which the feed and the CA firm already have. */
function certificateSummary(binding: CertificateBinding, store: TrustStore) {
  const { pem, issuerNameHash, anchorSpkiHash, ...rest } = binding;
  return { ...rest, caStatus: store.profiles.get(binding.caId)?.status ?? null };
}

/** Read-only operator routes to find an enterprise and see its certificates and passkeys. */
export const enterpriseSearchRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/admin/enterprises',
    handler: async ({ event }) => {
      await authenticate(event, 'admin');
      const query = (event.queryStringParameters?.q ?? '').trim();
      if (!query) throw badRequest('FIELD_MISSING', 'q is missing; give a credit code or the first characters of an enterprise name', { field: 'q' });
      if (query.length > MAX_QUERY_LENGTH) throw badRequest('FIELD_INVALID', `q has ${query.length} characters; at most ${MAX_QUERY_LENGTH} are allowed`, { field: 'q' });
      // An 18-character query in the credit code alphabet is looked up as a code; anything else is a name prefix.
      const code = checkCreditCode(query);
      if (code.valid || code.reason === 'check') {
        const creditCode = await requireStoredCreditCode(query, 'q');
        const enterprise = await getEnterprise(creditCode);
        return json(200, { query, by: 'creditCode', enterprises: enterprise ? [enterpriseSummary(enterprise)] : [] });
      }
      const found = await findEnterprisesByName(query, MAX_RESULTS);
      // A shorter run of digits and code letters is most likely a partial credit code, which only the whole code finds.
      const hint = found.length === 0 && /^[0-9A-HJ-NPQRTUWXY]{2,17}$/i.test(query)
        ? 'no name starts with this; to find an enterprise by credit code, give all 18 characters'
        : undefined;
      return json(200, { query, by: 'name', enterprises: found.map(enterpriseSummary), truncated: found.length === MAX_RESULTS, ...(hint ? { hint } : {}) });
    },
  },
  {
    method: 'GET',
    path: '/api/admin/enterprises/{creditCode}',
    handler: async ({ event, params }) => {
      await authenticate(event, 'admin');
      const code = await requireStoredCreditCode(params.creditCode);
      const enterprise = await getEnterprise(code);
      if (!enterprise) throw notFound('NOT_REGISTERED', `no enterprise with credit code ${code} is registered`);
      const [bindings, credentials, store] = await Promise.all([listBindings(code), listCredentialsOf(code), currentTrustStore()]);
      return json(200, {
        ...enterpriseSummary(enterprise),
        details: enterprise.details ?? null,
        detailsConfirmed: enterprise.detailsConfirmed,
        certifiedName: enterprise.certifiedName ?? null,
        version: enterprise.version,
        certificates: bindings.map((binding) => certificateSummary(binding, store)),
        passkeys: credentials.map(publicCredential),
      });
    },
  },
];

