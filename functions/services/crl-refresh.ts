import { bumpTrustVersion, invalidateTrustStore, listCaProfiles } from '../db/ca-profiles.js';
import { loadCrlDer, storeCrlDer, type CrlDerFields } from '../db/crl-der.js';
import { getPushedCrl, listCrlSources, markCrlEntriesApplied, putPushedCrl, recordCrlFetch, storedCrlNeedsApply, type CrlSource } from '../db/crls.js';
import { commitWithEvents, ConditionFailed } from '../db/events.js';
import { ApiError } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { nameToString, spkiHash } from '../pki/certificate.js';
import { MalformedInput, parseCertificates } from '../pki/der.js';
import { CRL_OID, crlUrls, parseCrl, type ParsedCrl } from '../pki/revocation.js';
import type { CaProfile } from '../pki/trust-store.js';
import { revokeListedBindings, revokingSerials, verifyProfileCrl } from './ca-profiles.js';
import { downloadCrl } from './revocation-source.js';

/** Actor named in the events and revocations that the scheduled refresh records. */
export const CRL_REFRESH_ACTOR = 'crl-refresh';

export interface CrlRefreshOptions {
  /** Time of the run (default now). */
  now?: Date;
  /**
   * A CRL is fetched again when its nextUpdate is less than this many seconds
   * away (CRL_REFRESH_LEAD_SECONDS, default 7200: two hourly runs), so a
   * failed run leaves a second chance before it goes stale.
   */
  leadSeconds?: number;
}

export interface CrlRefreshFailure {
  caId: string;
  url: string;
  error: string;
}

export interface CrlRefreshReport {
  /** CRL URLs of the profiles that were considered. */
  sources: number;
  /** URLs fetched in this run because their CRL was missing or due. */
  fetched: number;
  /** CRLs stored for their signing key, where logins read them. */
  stored: number;
  /** Bindings this run marked revoked. */
  revokedBindings: string[];
  failures: CrlRefreshFailure[];
}

/**
 * Fetch the CRLs of every CA profile that is not distrusted, verify them as a
 * pushed CRL is verified, store them, and revoke the bindings of certificates
 * they newly list. A profile's URLs are its `crlUrls` and, when it uses
 * distribution points, those of its CA certificates and those that validation
 * fetched for its certificates. A URL is fetched when no CRL was fetched from
 * it yet or its nextUpdate is within the lead time. A failure is logged with
 * the CA and URL and the run goes on with the next URL.
 */
export async function refreshCrls(options: CrlRefreshOptions = {}): Promise<CrlRefreshReport> {
  const now = options.now ?? new Date();
  const leadMs = (options.leadSeconds ?? Number(process.env.CRL_REFRESH_LEAD_SECONDS ?? 7200)) * 1000;
  const report: CrlRefreshReport = { sources: 0, fetched: 0, stored: 0, revokedBindings: [], failures: [] };
  for (const profile of await listCaProfiles()) {
    if (profile.status === 'distrusted') continue;
    let sources: Map<string, CrlSource | undefined>;
    try {
      sources = await profileSources(profile);
    } catch (error) {
      log.error('CRL refresh could not list the CRL sources of a CA', { caId: profile.id, error: (error as Error).message });
      report.failures.push({ caId: profile.id, url: '(all)', error: (error as Error).message });
      continue;
    }
    try {
      report.revokedBindings.push(...(await applyStoredCrls(profile, now)));
    } catch (error) {
      log.error('CRL refresh could not apply the stored CRLs of a CA', { caId: profile.id, error: (error as Error).message });
      report.failures.push({ caId: profile.id, url: '(stored CRLs)', error: (error as Error).message });
    }
    for (const [url, state] of sources) {
      report.sources += 1;
      const nextUpdate = state?.nextUpdate ? Date.parse(state.nextUpdate) : undefined;
      if (nextUpdate !== undefined && nextUpdate - now.getTime() > leadMs) continue;
      report.fetched += 1;
      try {
        const outcome = await refreshOne(profile, url, state, now);
        if (outcome.stored) report.stored += 1;
        report.revokedBindings.push(...outcome.revokedBindings);
      } catch (error) {
        const message = error instanceof ApiError || error instanceof MalformedInput ? error.message : (error as Error).message;
        log.error('CRL refresh failed', { caId: profile.id, url, error: message });
        report.failures.push({ caId: profile.id, url, error: message });
        await recordCrlFetch(profile.id, url, { lastError: message, lastErrorAt: now.toISOString() }).catch((recordError: Error) =>
          log.error('CRL refresh could not record a failure', { caId: profile.id, url, error: recordError.message }),
        );
      }
    }
  }
  log.info('CRL refresh finished', {
    sources: report.sources,
    fetched: report.fetched,
    stored: report.stored,
    revokedBindings: report.revokedBindings.length,
    failures: report.failures.length,
  });
  return report;
}

/**
 * Apply the stored CRLs of the profile's CA keys whose entries were not all
 * applied yet: a push that ran out of time, or stopped. Every entry is checked,
 * because which ones the push reached is not recorded.
 */
async function applyStoredCrls(profile: CaProfile, now: Date): Promise<string[]> {
  const revoked: string[] = [];
  const keys = new Set<string>();
  for (const pem of [...profile.anchors, ...profile.intermediates]) {
    for (const cert of parseCertificates(pem, `CA profile ${profile.id} certificate`)) keys.add(spkiHash(cert));
  }
  for (const signerSpkiHash of keys) {
    if (!(await storedCrlNeedsApply(signerSpkiHash))) continue;
    const stored = await getPushedCrl(signerSpkiHash);
    if (!stored) continue;
    const parsed = parseCrl(stored.der, `stored CRL of CA profile ${profile.id}`);
    const applied = await revokeListedBindings(parsed, new Set(), { label: `CRL of "${stored.issuer}" stored for CA profile ${profile.id}`, source: stored.pushedBy === CRL_REFRESH_ACTOR ? 'crl' : 'pushed-crl', actor: CRL_REFRESH_ACTOR });
    await markCrlEntriesApplied(signerSpkiHash, stored.sha256, now);
    log.info('stored CRL applied', { caId: profile.id, issuer: stored.issuer, revokedBindings: applied.revoked.length });
    revoked.push(...applied.revoked);
  }
  return revoked;
}

/** Collect the profile's CRL URLs with the stored state of each (undefined for a URL never fetched). */
async function profileSources(profile: CaProfile): Promise<Map<string, CrlSource | undefined>> {
  const stored = await listCrlSources(profile.id);
  const urls = new Set(profile.revocation.crlUrls);
  if (profile.revocation.useCrlDistributionPoints) {
    for (const pem of [...profile.anchors, ...profile.intermediates]) {
      for (const cert of parseCertificates(pem, `CA profile ${profile.id} certificate`)) crlUrls(cert).forEach((url) => urls.add(url));
    }
    stored.forEach((source) => urls.add(source.url));
  }
  const byUrl = new Map(stored.map((source) => [source.url, source]));
  return new Map([...urls].map((url) => [url, byUrl.get(url)]));
}

/**
 * Fetch one CRL and verify it against the profile. Store it for its signing
 * key when it is a complete CRL newer than the stored one. Then revoke the
 * bindings of the certificates it lists that the CRL last fetched from this
 * URL did not list.
 */
async function refreshOne(profile: CaProfile, url: string, state: CrlSource | undefined, now: Date): Promise<{ stored: boolean; revokedBindings: string[] }> {
  const fetched = await downloadCrl(url);
  if (!fetched.crl) throw new Error(`download failed: ${fetched.error}`);
  const parsed = fetched.crl;
  const signer = verifyProfileCrl(profile, parsed, now);
  const issuer = nameToString(parsed.crl.issuer);
  const nextUpdate = parsed.crl.nextUpdate!.value.toISOString();
  if (state?.sha256 === parsed.sha256) {
    // Its entries were applied by the run that recorded this hash.
    await recordCrlFetch(profile.id, url, { fetchedAt: now.toISOString(), nextUpdate, lastError: null, lastErrorAt: null });
    return { stored: false, revokedBindings: [] };
  }

  const derFields = await storeCrlDer(parsed.der, parsed.sha256, parsed.crl.nextUpdate!.value);
  const stored = isComplete(parsed) ? await storeForSigner(profile, parsed, spkiHash(signer), url, now, derFields) : false;
  const previousDer = state ? await loadCrlDer(state) : undefined;
  // Without the previous CRL (first fetch, or its chunks expired) every entry is checked against the bindings.
  const previousEntries = previousDer ? revokingSerials(parseCrl(previousDer, `CRL last fetched from ${url}`)) : new Set<string>();
  const { revoked: revokedBindings } = await revokeListedBindings(parsed, previousEntries, { label: `CRL of "${issuer}" fetched from ${url} for CA profile ${profile.id}`, source: 'crl', actor: CRL_REFRESH_ACTOR });
  if (stored) await markCrlEntriesApplied(spkiHash(signer), parsed.sha256, now);
  await recordCrlFetch(profile.id, url, {
    fetchedAt: now.toISOString(),
    nextUpdate,
    sha256: parsed.sha256,
    der: derFields.der ?? null,
    derChunks: derFields.derChunks ?? null,
    lastError: null,
    lastErrorAt: null,
  });
  log.info('CRL refreshed', { caId: profile.id, url, issuer, entries: parsed.entries.size, stored, revokedBindings: revokedBindings.length });
  return { stored, revokedBindings };
}

/**
 * Check whether the CRL is complete. A CRL without an issuingDistributionPoint
 * covers every certificate of its issuer, so logins may rely on it alone. A CRL
 * limited to one distribution point or to some certificates is only applied
 * to bindings, never stored as the issuer's CRL.
 */
function isComplete(parsed: ParsedCrl): boolean {
  return !parsed.crl.crlExtensions?.extensions.some((ext) => ext.extnID === CRL_OID.issuingDistributionPoint);
}

/** Store the CRL as its signer's CRL with a crl-refreshed event, unless an as new or newer one is stored. */
async function storeForSigner(profile: CaProfile, parsed: ParsedCrl, signerSpkiHash: string, url: string, now: Date, derFields: CrlDerFields): Promise<boolean> {
  const issuer = nameToString(parsed.crl.issuer);
  const thisUpdate = parsed.crl.thisUpdate.value.toISOString();
  const nextUpdate = parsed.crl.nextUpdate!.value.toISOString();
  try {
    await commitWithEvents(
      [
        putPushedCrl({
          signerSpkiHash,
          caId: profile.id,
          issuer,
          ...derFields,
          sha256: parsed.sha256,
          thisUpdate,
          nextUpdate,
          pushedAt: now.toISOString(),
          pushedBy: CRL_REFRESH_ACTOR,
        }),
        bumpTrustVersion(),
      ],
      [
        {
          type: EVENT_TYPES.crlRefreshed,
          caId: profile.id,
          data: { caId: profile.id, issuer, signerSpkiHash, sha256: parsed.sha256, thisUpdate, nextUpdate, entries: parsed.entries.size, url, actor: CRL_REFRESH_ACTOR },
        },
      ],
    );
  } catch (error) {
    // A CRL as new or newer is stored already: pushed by the CA firm, or by a refresh run at the same time.
    if (error instanceof ConditionFailed) return false;
    throw error;
  }
  invalidateTrustStore();
  return true;
}
