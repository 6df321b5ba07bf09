import type { StoredEvent } from '../db/events.js';
import { EVENT_TYPES } from '../lib/event-types.js';

/**
 * The platform an event is addressed to, if only one may read it. A login
 * belongs to the platform the enterprise logged in to: other platforms must
 * not learn where an enterprise does business.
 */
export function eventAudience(event: StoredEvent): string | undefined {
  if (event.audience) return event.audience;
  if (event.type === EVENT_TYPES.login && typeof event.data.clientId === 'string') return event.data.clientId;
  return undefined;
}

/** Whether the platform client `clientId` may read `event` from the feed or receive it by push. */
export function visibleTo(event: StoredEvent, clientId: string): boolean {
  const audience = eventAudience(event);
  return audience === undefined || audience === clientId;
}
