import { createHash } from 'node:crypto';
import { commitWithEvents, type DomainEvent, type StoredEvent } from '../db/events.js';
import { activeBindingsOfCa } from '../db/ca-bindings.js';
import { getEnterprise } from '../db/enterprises.js';
import { getLoginContext, type LoginContext } from '../db/login-context.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { deleteGrantItems } from '../db/oidc-grants.js';
import { findSessionsByAccount, removeSessionAuthorizations, type SessionAuthorization } from '../db/oidc-sessions.js';
import { hasUsableCertificate } from '../services/usable-certificate.js';
import { findLogoutClient, sendBackchannelLogout } from './backchannel-logout.js';
import type { ConsumerHandler, WindowResult } from './dispatcher.js';

/** Id of the internal feed consumer that ends sessions after revocations. */
export const SESSIONS_CONSUMER = 'internal:sessions';

/** Return why the sessions of an enterprise must end, or undefined when `event` is no revocation. */
function revocationReason(event: StoredEvent): string | undefined {
  if (event.type === EVENT_TYPES.certificateRevoked) return 'certificate revoked';
  if (event.type === EVENT_TYPES.credentialChange && event.data.change_type === 'revoke') return 'credential revoked';
  return undefined;
}

/** Check whether an event distrusts a CA, which ends the sessions opened with any of its certificates. */
const distrustsCa = (event: StoredEvent): boolean => event.type === EVENT_TYPES.caStatusChanged && event.data.status === 'distrusted';

/**
 * End the sessions of the enterprise an event is about that were opened with
 * the revoked certificate or credential. Each platform in the session gets an OIDC
 * back-channel logout when it registered backchannel_logout_uri, and a CAEP
 * session-revoked event addressed to it alone. The grants and their tokens are
 * revoked with the session. Processing the same event again finds no session
 * and does nothing.
 */
export const sessionRevocationHandler: ConsumerHandler = async (consumer, events, deadline) => {
  const result: WindowResult = { through: consumer.cursor, delivered: 0, rejected: 0 };
  for (const event of events) {
    if (Date.now() >= deadline) break;
    const reason = revocationReason(event);
    if (reason && event.creditCode) {
      try {
        result.delivered += await endSessions(event.creditCode, reason, event, (login) => openedWithRevoked(login, event));
      } catch (error) {
        result.failure = `ending the sessions of ${event.creditCode} after event ${event.seq} failed: ${(error as Error).message}`;
        return result;
      }
    }
    if (distrustsCa(event)) {
      try {
        result.delivered += await endSessionsOfCa(String(event.data.caId), event);
      } catch (error) {
        result.failure = `ending the sessions of CA ${String(event.data.caId)} after event ${event.seq} failed: ${(error as Error).message}`;
        return result;
      }
    }
    result.through = event.seq;
  }
  return result;
};

/**
 * Whether a login used the revoked certificate or passkey: sessions opened with
 * another certificate or passkey of the same enterprise stay valid.
 */
function openedWithRevoked(login: LoginContext | undefined, cause: StoredEvent): boolean {
  if (!login) return false;
  if (cause.type === EVENT_TYPES.certificateRevoked) {
    const fingerprint = String(cause.data.fingerprint ?? '');
    return login.method === 'certificate' && login.x5tS256 === Buffer.from(fingerprint, 'hex').toString('base64url');
  }
  return login.method === 'passkey' && login.credentialId === cause.data.credentialId;
}

/**
 * End every session opened with a certificate of a distrusted CA, found
 * through the CA's active bindings in the expiry index. Sessions opened with a
 * passkey end too when the enterprise has no usable certificate left, because
 * its passkeys pause then. Sessions opened with other certificates stay.
 */
async function endSessionsOfCa(caId: string, cause: StoredEvent): Promise<number> {
  const byEnterprise = new Map<string, Set<string>>();
  for (const binding of await activeBindingsOfCa(caId)) {
    const thumbprints = byEnterprise.get(binding.creditCode) ?? new Set<string>();
    thumbprints.add(Buffer.from(binding.fingerprint, 'hex').toString('base64url'));
    byEnterprise.set(binding.creditCode, thumbprints);
  }
  const reason = `CA ${caId} distrusted${cause.data.reason ? `: ${String(cause.data.reason)}` : ''}`;
  let ended = 0;
  for (const [creditCode, thumbprints] of byEnterprise) {
    const passkeysPaused = !(await hasUsableCertificate(creditCode));
    ended += await endSessions(creditCode, reason, cause, (login) => (login?.method === 'certificate' && thumbprints.has(login.x5tS256 ?? '')) || (passkeysPaused && login?.method === 'passkey'));
  }
  log.info('sessions of a distrusted CA ended', { caId, enterprises: byEnterprise.size, sessions: ended });
  return ended;
}

async function endSessions(creditCode: string, reason: string, cause: StoredEvent, affects: (login: LoginContext | undefined) => boolean): Promise<number> {
  const enterprise = await getEnterprise(creditCode);
  if (!enterprise) return 0;
  const found = await findSessionsByAccount(enterprise.sub);
  if (found.length === 0) return 0;
  let ended = 0;
  for (const session of found) {
    const authorizations = session.payload.authorizations ?? {};
    // Only the platforms whose login used the revoked certificate or passkey are logged out;
    // the rest of the browser session (for example the portal) stays.
    const affected: [string, SessionAuthorization][] = [];
    for (const [clientId, authorization] of Object.entries(authorizations)) {
      const login = authorization.grantId ? await getLoginContext(authorization.grantId) : undefined;
      if (affects(login)) affected.push([clientId, authorization]);
    }
    if (affected.length === 0) continue;
    const events: DomainEvent[] = [];
    for (const [clientId, authorization] of affected) {
      const client = await findLogoutClient(clientId);
      let backchannelLogout: 'sent' | 'failed' | 'not registered' = 'not registered';
      if (client?.backchannelLogoutUri) {
        try {
          await sendBackchannelLogout(client, enterprise.sub, authorization.sid);
          backchannelLogout = 'sent';
        } catch (error) {
          // The session-revoked event below reaches the platform by the feed even so.
          backchannelLogout = 'failed';
          log.warn('back-channel logout failed', { clientId, creditCode, error });
        }
      }
      events.push({
        type: EVENT_TYPES.sessionRevoked,
        creditCode,
        audience: clientId,
        data: {
          event_timestamp: Math.floor(Date.parse(cause.time) / 1000),
          initiating_entity: 'policy',
          reason_admin: { en: `${reason} (feed event ${cause.seq})` },
          creditCode,
          clientId,
          sid: authorization.sid,
          backchannelLogout,
        },
      });
    }
    if (events.length > 0) await commitWithEvents([], events);
    for (const [, authorization] of affected) {
      if (authorization.grantId) await deleteGrantItems(authorization.grantId, true);
    }
    await removeSessionAuthorizations(session, affected.map(([clientId]) => clientId));
    ended += 1;
    // The session id is the value of the session cookie, so only a short hash of it is logged.
    log.info('sessions ended after revocation', { creditCode, session: createHash('sha256').update(session.id).digest('hex').slice(0, 16), platforms: affected.map(([clientId]) => clientId), reason });
  }
  return ended;
}
