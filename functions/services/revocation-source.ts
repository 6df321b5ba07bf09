import type * as pkijs from 'pkijs';
import { getPushedCrl, rememberCrlSource } from '../db/crls.js';
import { log } from '../lib/log.js';
import { spkiHash } from '../pki/certificate.js';
import { MalformedInput } from '../pki/der.js';
import { crlUrls, parseCrl, type ParsedCrl, type RevocationSource, type RevocationStatus } from '../pki/revocation.js';
import type { CaProfile } from '../pki/trust-store.js';
import { ocspStatus } from './ocsp-client.js';
import { CRL_TARGET, fetchRevocationData } from './revocation-http.js';

/** Limits for fetching CRLs from distribution points. */
const FETCH_TIMEOUT_MS = 5000;
const MAX_CRL_BYTES = 20 * 1024 * 1024;
/** A failed fetch is not retried for this long, so a down distribution point is not hit on every request. */
const FAILURE_BACKOFF_MS = 30_000;
/** A fetched CRL is kept until its nextUpdate, but at most this long. */
const MAX_CRL_CACHE_MS = 24 * 3600 * 1000;

export interface FetchedCrl {
  crl?: ParsedCrl;
  error?: string;
  expiresAt: number;
}

const fetched = new Map<string, FetchedCrl>();
const inFlight = new Map<string, Promise<FetchedCrl>>();
const pushed = new Map<string, { trustVersion: number; crl?: ParsedCrl }>();
/** Distribution points already stored as CRL sources of a profile by this instance, as "caId URL". */
const remembered = new Set<string>();
const MAX_REMEMBERED = 10_000;

/**
 * Revocation data as the service uses it. The profile's OCSP responder comes
 * first, when it names one. Then comes the CRL stored for the issuer's key
 * (pushed by the CA firm or stored by the scheduled refresh). Unless that CRL
 * is current, the CRLs at the certificate's distribution points and the CA
 * profile's extra URLs follow, each cached until its nextUpdate. The distribution points of the
 * certificates it checks are stored as CRL sources of the profile, so the
 * scheduled refresh fetches them too.
 */
export class ServiceRevocationSource implements RevocationSource {
  constructor(private readonly trustVersion: number) {}

  async crlsFor(cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, at: Date): Promise<ParsedCrl[]> {
    const result: ParsedCrl[] = [];
    const distributionPoints = profile.revocation.useCrlDistributionPoints ? crlUrls(cert) : [];
    await rememberSources(profile.id, distributionPoints);
    const own = await this.pushedCrl(spkiHash(issuer));
    if (own) {
      result.push(own);
      const next = own.crl.nextUpdate?.value;
      if (own.crl.thisUpdate.value <= at && next && at <= next) return result;
    }
    const urls = [...distributionPoints, ...profile.revocation.crlUrls];
    for (const url of [...new Set(urls)]) {
      const entry = await fetchCrl(url);
      if (entry.crl) result.push(entry.crl);
    }
    return result;
  }

  async ocsp(cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, at: Date): Promise<RevocationStatus> {
    return ocspStatus(cert, issuer, profile, at, this.trustVersion);
  }

  private async pushedCrl(signerSpkiHash: string): Promise<ParsedCrl | undefined> {
    const cached = pushed.get(signerSpkiHash);
    if (cached && cached.trustVersion === this.trustVersion) return cached.crl;
    const stored = await getPushedCrl(signerSpkiHash);
    const crl = stored ? parseCrl(stored.der, `pushed CRL of ${stored.caId}`) : undefined;
    pushed.set(signerSpkiHash, { trustVersion: this.trustVersion, crl });
    return crl;
  }
}

/** Store distribution points as CRL sources of a profile, once per instance. A failure is logged and does not stop validation. */
async function rememberSources(caId: string, urls: string[]): Promise<void> {
  for (const url of urls) {
    const key = `${caId} ${url}`;
    if (remembered.has(key)) continue;
    try {
      await rememberCrlSource(caId, url);
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.add(key);
    } catch (error) {
      log.warn('CRL source not stored', { caId, url, error: (error as Error).message });
    }
  }
}

/** Fetch a CRL over HTTP(S), once per URL at a time, caching it until its nextUpdate. */
export async function fetchCrl(url: string): Promise<FetchedCrl> {
  const cached = fetched.get(url);
  if (cached && cached.expiresAt > Date.now()) return cached;
  let pending = inFlight.get(url);
  if (!pending) {
    pending = downloadCrl(url).finally(() => inFlight.delete(url));
    inFlight.set(url, pending);
  }
  const entry = await pending;
  fetched.set(url, entry);
  return entry;
}

/**
 * Download and parse a CRL, bypassing the cache. The distribution point must
 * be at a public address (see fetchRevocationData). On failure, the result's
 * `error` gives the reason.
 */
export async function downloadCrl(url: string): Promise<FetchedCrl> {
  try {
    const bytes = await fetchRevocationData(new URL(url), CRL_TARGET, { method: 'GET', headers: { accept: 'application/pkix-crl' }, timeoutMs: FETCH_TIMEOUT_MS, maxBytes: MAX_CRL_BYTES });
    const crl = parseCrl(bytes, `CRL from ${url}`);
    const nextUpdate = crl.crl.nextUpdate?.value.getTime() ?? Date.now();
    return { crl, expiresAt: Math.min(nextUpdate, Date.now() + MAX_CRL_CACHE_MS) };
  } catch (error) {
    const message = error instanceof MalformedInput ? error.message : (error as Error).message;
    log.warn('CRL download failed', { url, error: message });
    return { error: message, expiresAt: Date.now() + FAILURE_BACKOFF_MS };
  }
}

/** Forget fetched and pushed CRLs (benchmarks of a cold start, tests). */
export function clearCrlCache(): void {
  fetched.clear();
  pushed.clear();
  remembered.clear();
}
