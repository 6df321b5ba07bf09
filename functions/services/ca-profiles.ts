import { commitWithEvents, ConditionFailed } from '../db/events.js';
import { getCaProfile, invalidateTrustStore, putCaProfile } from '../db/ca-profiles.js';
import { conflict } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { TrustStore, type CaProfile } from '../pki/trust-store.js';

/**
 * Store a new CA profile, or replace one at `previousVersion`, with its event.
 * The profile is parsed as a trust store first, so a broken anchor is rejected
 * before it is saved.
 */
export async function saveCaProfile(profile: CaProfile, previousVersion?: number): Promise<CaProfile> {
  new TrustStore([profile]);
  const previous = previousVersion === undefined ? undefined : await getCaProfile(profile.id);
  const next: CaProfile = { ...profile, version: (previousVersion ?? 0) + 1, updatedAt: new Date().toISOString() };
  try {
    await commitWithEvents(putCaProfile(next, previousVersion), [
      {
        type: EVENT_TYPES.caStatusChanged,
        caId: next.id,
        data: { caId: next.id, name: next.name, status: next.status, previousStatus: previous?.status ?? null, reason: next.statusReason ?? null },
      },
    ]);
  } catch (error) {
    if (error instanceof ConditionFailed) {
      throw conflict(
        previousVersion === undefined ? 'CA_PROFILE_EXISTS' : 'CA_PROFILE_CHANGED',
        previousVersion === undefined
          ? `CA profile ${profile.id} already exists; update it with its current version instead`
          : `CA profile ${profile.id} is no longer at version ${previousVersion}; reload it and apply the change again`,
      );
    }
    throw error;
  }
  invalidateTrustStore();
  return next;
}
