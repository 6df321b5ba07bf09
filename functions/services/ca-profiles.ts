import type * as pkijs from 'pkijs';
import { commitWithEvents, ConditionFailed, type DomainEvent } from '../db/events.js';
import { bumpTrustVersion, getCaProfile, invalidateTrustStore, listCaProfiles, putCaProfile } from '../db/ca-profiles.js';
import { storeCrlDer } from '../db/crl-der.js';
import { bindingsBySerial, getPushedCrl, markCrlEntriesApplied, putPushedCrl } from '../db/crls.js';
import { ApiError, badRequest, conflict, notFound } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { nameToString, sha256Hex, spkiHash } from '../pki/certificate.js';
import { MalformedInput } from '../pki/der.js';
import { CRL_OID, checkCrlSignature, parseCrl, reasonName, type ParsedCrl } from '../pki/revocation.js';
import { namesEqual } from '../pki/names.js';
import { TrustStore, type CaProfile, type CaStatus } from '../pki/trust-store.js';
import { markBindingRevoked } from './certificate-revocation.js';

/**
 * Store a new CA profile, or replace one at `previousVersion`, with its event
 * naming `actor`. The profile is parsed as a trust store first, so a broken
 * anchor is rejected before it is saved. An anchor key that another profile
 * already contains is rejected too, because anchors are identified by their key.
 */
export async function saveCaProfile(profile: CaProfile, previousVersion?: number, actor = 'system'): Promise<CaProfile> {
  const parsed = new TrustStore([profile]);
  const others = (await listCaProfiles()).filter((other) => other.id !== profile.id);
  const taken = new TrustStore(others).anchorsBySpki;
  for (const spki of parsed.anchorsBySpki.keys()) {
    const owner = taken.get(spki);
    if (owner) throw conflict('ANCHOR_IN_USE', `an anchor of CA profile ${profile.id} has the same public key (SPKI SHA-256 ${spki}) as an anchor of CA profile ${owner.profile.id}; one key belongs to one profile`);
  }
  const previous = previousVersion === undefined ? undefined : await getCaProfile(profile.id);
  const next: CaProfile = { ...profile, version: (previousVersion ?? 0) + 1, updatedAt: new Date().toISOString() };
  const events: DomainEvent[] = [
    {
      type: EVENT_TYPES.caProfileChanged,
      caId: next.id,
      data: { caId: next.id, name: next.name, version: next.version, anchors: [...parsed.anchorsBySpki.keys()], actor, created: previous === undefined },
    },
  ];
  if (previous?.status !== next.status) {
    events.push({
      type: EVENT_TYPES.caStatusChanged,
      caId: next.id,
      data: { caId: next.id, name: next.name, status: next.status, previousStatus: previous?.status ?? null, reason: next.statusReason ?? null, actor },
    });
  }
  try {
    await commitWithEvents(putCaProfile(next, previousVersion), events);
  } catch (error) {
    if (error instanceof ConditionFailed) {
      throw conflict(
        previousVersion === undefined ? 'CA_PROFILE_EXISTS' : 'CA_PROFILE_CHANGED',
        previousVersion === undefined
          ? `CA profile ${profile.id} already exists; update it with PUT and its current version instead`
          : `CA profile ${profile.id} is no longer at version ${previousVersion}; reload it and apply the change again`,
      );
    }
    throw error;
  }
  invalidateTrustStore();
  return next;
}

/** Change a CA's status (with a reason), guarded by the profile version the operator saw. */
export async function changeCaStatus(id: string, status: CaStatus, reason: string | undefined, version: number, actor: string): Promise<CaProfile> {
  const current = await getCaProfile(id);
  if (!current) throw notFound('CA_PROFILE_NOT_FOUND', `no CA profile ${id}; list them with GET /api/admin/ca-profiles`);
  if (current.version !== version) throw conflict('CA_PROFILE_CHANGED', `CA profile ${id} is at version ${current.version}, not ${version}; reload it and apply the change again`);
  const { statusReason: _old, ...rest } = current;
  return saveCaProfile({ ...rest, status, ...(reason ? { statusReason: reason } : {}) }, version, actor);
}

export interface CrlPushResult {
  stored: boolean;
  caId: string;
  issuer: string;
  thisUpdate: string;
  nextUpdate: string;
  entries: number;
  revokedBindings: string[];
  /** False when the entries were not all checked against the bindings within the push's time budget. */
  entriesApplied: boolean;
}

/**
 * Seconds a CRL push spends marking listed bindings revoked before it
 * responds (CRL_PUSH_APPLY_SECONDS). API Gateway ends a request after 30 s, and
 * a CRL seen for the first time is checked serial by serial. What is left is
 * applied by the next scheduled CRL refresh. Logins are refused meanwhile,
 * because validation reads the stored CRL.
 */
const DEFAULT_PUSH_APPLY_SECONDS = 20;

/**
 * Store a CRL pushed by a CA firm for one of its CA certificates. It must be
 * signed by a certificate of the profile (anchor or intermediate) and be
 * current. The newest CRL per signing key is kept; bindings of certificates
 * newly listed in it are marked revoked at once, each with an event.
 */
export async function pushCrl(caId: string, input: string | Uint8Array, actor: string): Promise<CrlPushResult> {
  const profile = await getCaProfile(caId);
  if (!profile) throw notFound('CA_PROFILE_NOT_FOUND', `no CA profile ${caId}`);
  let parsed: ParsedCrl;
  try {
    parsed = parseCrl(input, 'crl');
  } catch (error) {
    if (error instanceof MalformedInput) throw badRequest('CRL_INVALID', error.message, { field: 'crl' });
    throw error;
  }
  const now = new Date();
  const signer = verifyProfileCrl(profile, parsed, now);
  const issuer = nameToString(parsed.crl.issuer);
  const nextUpdate = parsed.crl.nextUpdate!.value;

  const signerSpkiHash = spkiHash(signer);
  const previous = await getPushedCrl(signerSpkiHash);
  const result: CrlPushResult = {
    stored: true,
    caId,
    issuer,
    thisUpdate: parsed.crl.thisUpdate.value.toISOString(),
    nextUpdate: nextUpdate.toISOString(),
    entries: parsed.entries.size,
    revokedBindings: [],
    entriesApplied: false,
  };
  let previousEntries = new Set<string>();
  if (previous?.sha256 === parsed.sha256) {
    result.stored = false;
    // The same CRL again: its entries are applied once more only when an earlier push stopped before it finished them.
    if (previous.entriesAppliedAt) previousEntries = revokingSerials(parsed);
  } else {
    const derFields = await storeCrlDer(parsed.der, parsed.sha256, nextUpdate);
    try {
      await commitWithEvents(
        [
          putPushedCrl({
            signerSpkiHash,
            caId,
            issuer,
            ...derFields,
            sha256: parsed.sha256,
            thisUpdate: result.thisUpdate,
            nextUpdate: result.nextUpdate,
            pushedAt: now.toISOString(),
            pushedBy: actor,
          }),
          bumpTrustVersion(),
        ],
        [{ type: EVENT_TYPES.crlPushed, caId, data: { caId, issuer, signerSpkiHash, sha256: parsed.sha256, thisUpdate: result.thisUpdate, nextUpdate: result.nextUpdate, entries: result.entries, actor } }],
      );
      invalidateTrustStore();
      // Entries of a previous CRL whose application stopped halfway are checked again.
      if (previous?.entriesAppliedAt) previousEntries = revokingSerials(parseCrl(previous.der));
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      // The same CRL pushed twice at once: the one that lost responds as a repeated push does.
      if ((await getPushedCrl(signerSpkiHash))?.sha256 !== parsed.sha256) {
        log.info('CRL push rejected: a CRL as new or newer is stored', { caId, issuer, thisUpdate: result.thisUpdate, actor });
        throw conflict('CRL_NOT_NEWER', `a CRL of "${issuer}" at least as new as ${result.thisUpdate} is already stored; push a newer one`);
      }
      result.stored = false;
    }
  }
  const applyMs = Number(process.env.CRL_PUSH_APPLY_SECONDS ?? DEFAULT_PUSH_APPLY_SECONDS) * 1000;
  const applied = await revokeListedBindings(parsed, previousEntries, { label: `CRL of "${issuer}" pushed for CA profile ${caId}`, source: 'pushed-crl', actor }, Date.now() + applyMs);
  result.revokedBindings = applied.revoked;
  result.entriesApplied = applied.complete;
  if (applied.complete) await markCrlEntriesApplied(signerSpkiHash, parsed.sha256, new Date());
  else log.info('CRL push applied part of its entries; the scheduled CRL refresh applies the rest', { caId, issuer, revokedBindings: applied.revoked.length });
  log.info('CRL pushed', { caId, issuer, stored: result.stored, entries: result.entries, revokedBindings: result.revokedBindings.length, actor });
  return result;
}

/**
 * Check that a CRL may be stored for CA profile `profile`: signed by one of
 * its CA certificates (anchor or intermediate) with an allowed algorithm,
 * current at `now` (thisUpdate at most 5 minutes ahead) and complete (not a
 * delta CRL). Returns the signing certificate; throws CrlRejected saying why not.
 */
export function verifyProfileCrl(profile: CaProfile, parsed: ParsedCrl, now: Date): pkijs.Certificate {
  const store = new TrustStore([profile]);
  const candidates = [...store.bySubject.values()].flat().map((entry) => entry.cert);
  const signer = checkCrlSignature(parsed, candidates, profile);
  const issuer = nameToString(parsed.crl.issuer);
  if (!signer) {
    const named = candidates.some((cert) => namesEqual(cert.subject, parsed.crl.issuer));
    const hint = named ? '' : `; no CA certificate of the profile is named "${issuer}", so if it is an issuing CA under the profile's anchors, add its certificate to the profile's intermediates`;
    throw new CrlRejected(`the CRL of "${issuer}" is not signed by any CA certificate of profile ${profile.id} (or uses an algorithm it does not allow); a forged or foreign CRL is rejected${hint}`);
  }
  const nextUpdate = parsed.crl.nextUpdate?.value;
  if (!nextUpdate) throw new CrlRejected('the CRL has no nextUpdate; a CRL must say when the next one is due');
  if (nextUpdate < now) throw new CrlRejected(`the CRL is stale: its nextUpdate ${nextUpdate.toISOString()} has passed; push a current CRL`);
  if (parsed.crl.thisUpdate.value.getTime() > now.getTime() + 5 * 60_000) throw new CrlRejected(`the CRL thisUpdate ${parsed.crl.thisUpdate.value.toISOString()} is in the future`);
  if (parsed.crl.crlExtensions?.extensions.some((ext) => ext.extnID === CRL_OID.deltaCrlIndicator)) throw new CrlRejected('delta CRLs are not accepted; push the complete CRL');
  return signer;
}

/**
 * Return the serial keys of a CRL's entries that revoke for good. removeFromCRL
 * entries are no revocation, and certificateHold is temporary: validation
 * refuses a held certificate while a CRL lists it, without ending its binding.
 * So a hold that later becomes a revocation counts as new then.
 */
export function revokingSerials(parsed: ParsedCrl): Set<string> {
  const serials = new Set<string>();
  for (const [serialKey, entry] of parsed.entries) {
    const reason = reasonName(entry);
    if (reason !== 'removeFromCRL' && reason !== 'certificateHold') serials.add(serialKey);
  }
  return serials;
}

/**
 * Mark revoked the bindings of every certificate that `parsed` revokes for good
 * (revokingSerials) and `previousEntries` (from an earlier CRL) does not.
 * markBindingRevoked records each revocation once, so repeating this, or
 * running it twice at once, is harmless. Stops taking entries at `deadline`
 * (epoch milliseconds). Returns the fingerprints of the bindings this call
 * revoked, and whether every entry was checked.
 */
export async function revokeListedBindings(
  parsed: ParsedCrl,
  previousEntries: Set<string>,
  notice: { label: string; source: string; actor: string },
  deadline = Infinity,
): Promise<{ revoked: string[]; complete: boolean }> {
  const issuerNameHash = sha256Hex(parsed.crl.issuer.toSchema().toBER(false));
  const revoking = revokingSerials(parsed);
  const listed = [...parsed.entries].filter(([serialKey]) => revoking.has(serialKey) && !previousEntries.has(serialKey));
  // One query per listed serial: a CRL seen for the first time may list tens of
  // thousands, so they run CRL_LOOKUP_CONCURRENCY at a time. Results keep the CRL's order.
  const revokedPerEntry: string[][] = listed.map(() => []);
  let next = 0;
  const worker = async () => {
    while (next < listed.length && Date.now() < deadline) {
      const index = next++;
      const [serialKey, entry] = listed[index];
      const serial = serialKey.replace(/^(00)+(?=.)/, '');
      for (const fingerprint of await bindingsBySerial(issuerNameHash, serial)) {
        const reason = `${reasonName(entry)} (${notice.label})`;
        if (await markBindingRevoked(fingerprint, { reason, source: notice.source, actor: notice.actor, revokedAt: entry.revocationDate })) revokedPerEntry[index].push(fingerprint);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CRL_LOOKUP_CONCURRENCY, listed.length) }, worker));
  return { revoked: revokedPerEntry.flat(), complete: next >= listed.length };
}

/** Binding lookups in flight while a CRL's entries are applied. */
const CRL_LOOKUP_CONCURRENCY = 32;

export class CrlRejected extends ApiError {
  constructor(message: string) {
    super(422, 'CRL_INVALID', message);
  }
}
