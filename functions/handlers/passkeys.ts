import { webauthnConfig } from '../lib/config.js';
import { router, type HttpEvent, type HttpResult } from '../lib/http.js';
import { passkeyLoginRoutes } from './passkey-login-routes.js';
import { passkeyRoutes } from './passkey-routes.js';

const route = router([...passkeyRoutes, ...passkeyLoginRoutes]);
let checked = false;

/**
 * Lambda entry point for WebAuthn: enterprise passkeys and the login history
 * of the portal, operator enrollment, and passkey login for the provider's
 * login interaction.
 */
export async function handler(event: HttpEvent): Promise<HttpResult> {
  if (!checked) {
    // Invalid passkey settings fail the first request with the rule they break, not a ceremony later.
    webauthnConfig();
    checked = true;
  }
  return route(event);
}
