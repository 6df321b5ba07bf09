import type * as pkijs from 'pkijs';
import { log } from '../lib/log.js';
import { nameToString, serialHex } from '../pki/certificate.js';
import { buildOcspRequest, checkOcspResponse, OCSP_CLOCK_SKEW_MS } from '../pki/ocsp.js';
import type { RevocationStatus } from '../pki/revocation.js';
import type { CaProfile } from '../pki/trust-store.js';
import { fetchRevocationData, OCSP_TARGET } from './revocation-http.js';

/** Limits for OCSP requests: a login waits for the response, so the timeout is short. */
const OCSP_TIMEOUT_MS = 3000;
const MAX_RESPONSE_BYTES = 64 * 1024;
/** After a transport failure, a responder is not asked again for this long, so a down responder does not slow every login. */
const FAILURE_BACKOFF_MS = 15_000;
/** A good or revoked status is kept until the response's nextUpdate, but at most this long. */
const MAX_CACHE_MS = 24 * 3600 * 1000;
const MAX_CACHED_STATUSES = 10_000;

interface CachedStatus {
  status: Extract<RevocationStatus, { status: 'good' | 'revoked' }>;
  /** The status counts for validation times from thisUpdate (less the clock skew) to `expiresAt`. */
  validFrom: number;
  expiresAt: number;
  /** Trust version the response was checked under, so a profile change drops it. */
  trustVersion: number;
}

const statusCache = new Map<string, CachedStatus>();
const inFlight = new Map<string, Promise<RevocationStatus>>();
const failedUntil = new Map<string, { until: number; problem: string }>();

/**
 * Query the CA profile's OCSP responder for `cert`, whose issuer is `issuer`,
 * and check the response (see checkOcspResponse). Good and revoked statuses
 * are cached until the response's nextUpdate, and concurrent checks of one
 * certificate share one request. Every failure becomes status unknown with the reason.
 */
export async function ocspStatus(cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, at: Date, trustVersion: number): Promise<RevocationStatus> {
  const url = profile.revocation.ocspUrl;
  if (!url) return { status: 'unknown', problems: [`CA profile "${profile.id}" names no OCSP responder`] };
  const hashAlgorithm = profile.revocation.ocspHashAlgorithm ?? 'sha256';
  const request = buildOcspRequest(cert, issuer, hashAlgorithm, profile.revocation.ocspNonce ?? true);
  const key = `${url}|${request.certIdKey}`;
  const cached = statusCache.get(key);
  if (cached && cached.trustVersion === trustVersion && cached.validFrom <= at.getTime() && at.getTime() <= cached.expiresAt) return cached.status;
  const failure = failedUntil.get(url);
  if (failure && failure.until > Date.now()) return { status: 'unknown', problems: [`OCSP responder ${url}: ${failure.problem} (not asked again before ${new Date(failure.until).toISOString()})`] };

  let pending = inFlight.get(key);
  if (!pending) {
    pending = (async (): Promise<RevocationStatus> => {
      let der: Uint8Array;
      try {
        der = await postRequest(url, request.der);
      } catch (error) {
        const problem = (error as Error).message;
        failedUntil.set(url, { until: Date.now() + FAILURE_BACKOFF_MS, problem });
        log.warn('OCSP request failed', { caId: profile.id, url, serial: serialHex(cert), error: problem });
        return { status: 'unknown', problems: [`OCSP responder ${url}: ${problem}`] };
      }
      failedUntil.delete(url);
      const verdict = checkOcspResponse(der, cert, issuer, profile, {
        at,
        request,
        requireNonce: profile.revocation.ocspNonce ?? true,
        maxAgeSeconds: profile.revocation.ocspMaxAgeSeconds ?? 3600,
      });
      if (verdict.status === 'unusable') {
        log.warn('OCSP response not usable', { caId: profile.id, url, serial: serialHex(cert), issuer: nameToString(issuer.subject), problem: verdict.problem });
        return { status: 'unknown', problems: [`OCSP responder ${url}: ${verdict.problem}`] };
      }
      const source = `OCSP responder ${url}, signed by ${verdict.signer}, thisUpdate ${verdict.thisUpdate.toISOString()}`;
      const status: CachedStatus['status'] =
        verdict.status === 'good'
          ? { status: 'good', source, until: verdict.until }
          : { status: 'revoked', source, reason: verdict.reason, revocationDate: verdict.revocationDate, via: 'ocsp' };
      if (statusCache.size >= MAX_CACHED_STATUSES) statusCache.clear();
      statusCache.set(key, {
        status,
        validFrom: verdict.thisUpdate.getTime() - OCSP_CLOCK_SKEW_MS,
        expiresAt: Math.min(verdict.until.getTime(), Date.now() + MAX_CACHE_MS),
        trustVersion,
      });
      return status;
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/**
 * POST a DER OCSP request (RFC 6960 appendix A.1) without following
 * redirects, reading at most MAX_RESPONSE_BYTES of the response. The
 * responder must be at a public address (see fetchRevocationData). Throws an
 * Error whose message states what failed.
 */
async function postRequest(url: string, body: Uint8Array): Promise<Uint8Array> {
  return fetchRevocationData(new URL(url), OCSP_TARGET, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
    timeoutMs: OCSP_TIMEOUT_MS,
    maxBytes: MAX_RESPONSE_BYTES,
  });
}

/** Forget cached OCSP statuses and responder failures (tests, benchmarks of a cold start). */
export function clearOcspCache(): void {
  statusCache.clear();
  failedUntil.clear();
}
