import { getCaProfile, listCaProfiles } from '../db/ca-profiles.js';
import { actorOf, authenticate, type Caller } from '../lib/auth.js';
import { ApiError, badRequest, forbidden, notFound } from '../lib/errors.js';
import { binaryBody, json, jsonBody, requestMediaType, router, type HttpEvent, type Route } from '../lib/http.js';
import { TrustStore, type CaProfile } from '../pki/trust-store.js';
import { CA_STATUSES, parseCaProfileInput } from '../services/ca-profile-input.js';
import { changeCaStatus, pushCrl, saveCaProfile } from '../services/ca-profiles.js';
import { readOidcPayload } from '../db/oidc-items.js';
import { enterpriseSearchRoutes } from './enterprise-search-routes.js';
import { loginStatsRoutes } from './login-stats-routes.js';
import { platformClientRoutes } from './platform-client-routes.js';
import type { CaStatus } from '../pki/trust-store.js';

/** A CA profile as operators see it, with the SHA-256 of each anchor's SubjectPublicKeyInfo. */
function profileView(profile: CaProfile) {
  const store = new TrustStore([profile]);
  return { ...profile, anchorKeys: [...store.anchorsBySpki.keys()] };
}

function requireVersion(body: Record<string, unknown>): number {
  const version = body.version;
  if (!Number.isInteger(version) || (version as number) < 1) {
    throw badRequest('FIELD_MISSING', 'version is missing or not a positive integer; send the version of the profile you read, so concurrent changes are not lost', { field: 'version' });
  }
  return version as number;
}

/**
 * Authenticate a CRL push: an operator with the admin scope, or a CA firm's
 * client with the ca:sync scope whose registration lists this CA profile in ca_profiles.
 */
async function authenticateCrlPush(event: HttpEvent, caId: string): Promise<Caller> {
  try {
    return await authenticate(event, 'admin');
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'INSUFFICIENT_SCOPE') throw error;
  }
  const caller = await authenticate(event, 'ca:sync');
  const client = await readOidcPayload('Client', caller.clientId);
  const caProfiles = Array.isArray(client?.ca_profiles) ? (client.ca_profiles as unknown[]) : [];
  if (!caProfiles.includes(caId)) throw forbidden('CA_NOT_YOURS', `client ${caller.clientId} may push CRLs only for its own CA profiles, and ${caId} is not one of them`);
  return caller;
}

/**
 * Largest CRL accepted as an application/pkix-crl body. Lambda accepts
 * request payloads of up to 6 MB, and API Gateway passes a binary body
 * base64-encoded, a third larger.
 */
const MAX_PUSHED_CRL_BYTES = 4_000_000;

/** Read a pushed CRL: DER as application/pkix-crl, or PEM or base64 DER in the "crl" field of a JSON body. */
function pushedCrlOf(event: HttpEvent): string | Uint8Array {
  if (requestMediaType(event) === 'application/pkix-crl') {
    const der = binaryBody(event, MAX_PUSHED_CRL_BYTES);
    if (Buffer.from(der.subarray(0, 11)).toString('latin1') === '-----BEGIN ') {
      throw badRequest('CRL_INVALID', 'the body is PEM text, but application/pkix-crl carries DER; send the DER (openssl crl -outform DER) or send the PEM in the "crl" field of a JSON body', { field: 'crl' });
    }
    return der;
  }
  const mediaType = requestMediaType(event);
  if (mediaType !== 'application/json') {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${JSON.stringify(event.headers?.['content-type'] ?? null)} is not supported here; send the CRL's DER with content-type application/pkix-crl, or JSON {"crl": "<PEM or base64 DER>"} with content-type application/json`, { contentType: event.headers?.['content-type'] ?? null });
  }
  const body = jsonBody(event);
  if (body.crl !== undefined && body.crl !== null && typeof body.crl !== 'string') {
    throw badRequest('FIELD_INVALID', `crl must be a string (PEM or base64 DER), got ${typeof body.crl}`, { field: 'crl' });
  }
  if (typeof body.crl !== 'string' || body.crl.trim() === '') {
    throw badRequest('FIELD_MISSING', 'crl is missing; send the CRL as PEM or base64 DER in "crl", or send its DER as the body with content-type application/pkix-crl', { field: 'crl' });
  }
  return body.crl;
}

const routes: Route[] = [
  {
    method: 'GET',
    path: '/api/admin/ca-profiles',
    handler: async ({ event }) => {
      await authenticate(event, 'admin');
      const profiles = await listCaProfiles();
      return json(200, { profiles: profiles.map(profileView) });
    },
  },
  {
    method: 'POST',
    path: '/api/admin/ca-profiles',
    handler: async ({ event }) => {
      const caller = await authenticate(event, 'admin');
      const profile = parseCaProfileInput(jsonBody(event));
      const saved = await saveCaProfile(profile, undefined, actorOf(caller));
      return json(201, profileView(saved), { location: `/api/admin/ca-profiles/${saved.id}` });
    },
  },
  {
    method: 'GET',
    path: '/api/admin/ca-profiles/{id}',
    handler: async ({ event, params }) => {
      await authenticate(event, 'admin');
      const profile = await getCaProfile(params.id);
      if (!profile) throw notFound('CA_PROFILE_NOT_FOUND', `no CA profile ${params.id}`);
      return json(200, profileView(profile));
    },
  },
  {
    method: 'PUT',
    path: '/api/admin/ca-profiles/{id}',
    handler: async ({ event, params }) => {
      const caller = await authenticate(event, 'admin');
      const body = jsonBody(event);
      const version = requireVersion(body);
      const profile = parseCaProfileInput(body, params.id);
      if (!(await getCaProfile(params.id))) throw notFound('CA_PROFILE_NOT_FOUND', `no CA profile ${params.id}; create it with POST /api/admin/ca-profiles`);
      return json(200, profileView(await saveCaProfile(profile, version, actorOf(caller))));
    },
  },
  {
    method: 'POST',
    path: '/api/admin/ca-profiles/{id}/status',
    handler: async ({ event, params }) => {
      const caller = await authenticate(event, 'admin');
      const body = jsonBody(event);
      const status = body.status as CaStatus;
      if (!CA_STATUSES.includes(status)) {
        throw badRequest('FIELD_INVALID', `status ${JSON.stringify(body.status)} is not one of ${CA_STATUSES.join(', ')}`, { field: 'status' });
      }
      if (status !== 'active' && (typeof body.reason !== 'string' || body.reason.trim() === '')) {
        throw badRequest('FIELD_MISSING', `reason is missing; say why CA profile ${params.id} becomes ${status}, so platforms and auditors can see it`, { field: 'reason' });
      }
      if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 500)) {
        throw badRequest('FIELD_INVALID', 'reason must be a string of at most 500 characters', { field: 'reason' });
      }
      const saved = await changeCaStatus(params.id, status, body.reason as string | undefined, requireVersion(body), actorOf(caller));
      return json(200, profileView(saved));
    },
  },
  {
    method: 'POST',
    path: '/api/admin/ca-profiles/{id}/crls',
    handler: async ({ event, params }) => {
      const caller = await authenticateCrlPush(event, params.id);
      const result = await pushCrl(params.id, pushedCrlOf(event), actorOf(caller));
      return json(result.stored ? 201 : 200, result);
    },
  },
];

/**
 * Lambda entry point for operators under /api/admin/: CA profiles (trust
 * store), CRL pushes, platform clients, enterprise search and login statistics.
 */
export const handler = router([...routes, ...loginStatsRoutes, ...platformClientRoutes, ...enterpriseSearchRoutes]);
