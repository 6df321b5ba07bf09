import { pushHandler, type ConsumerHandler } from './dispatcher.js';
import { SESSIONS_CONSUMER, sessionRevocationHandler } from './session-revocation.js';

/** Consumers inside the service, which every deployment runs next to the platforms' push endpoints. */
export const INTERNAL_CONSUMERS = [SESSIONS_CONSUMER];

/** The handler that processes events for a consumer: an internal reaction, or push to a platform. */
export function handlerFor(consumerId: string): ConsumerHandler {
  if (consumerId === SESSIONS_CONSUMER) return sessionRevocationHandler;
  return pushHandler;
}
