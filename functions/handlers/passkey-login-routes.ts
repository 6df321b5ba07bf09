import { ConditionFailed } from '../db/events.js';
import { json, jsonBody, type Route } from '../lib/http.js';
import { log } from '../lib/log.js';
import { authenticationOptions } from '../services/passkey-ceremony.js';
import { loginWithPasskey } from '../services/passkey-login.js';
import { pendingInteraction, recordLogin, type PendingInteraction } from '../services/login-interaction.js';
import { PasskeyRejected, withPasskeyErrors } from '../webauthn/reasons.js';
import { passkeyAllowed } from '../../oidc/acr-levels.js';
import { ACR } from '../../oidc/claims.js';

/** Reject a passkey for a request that requires certificate-level assurance. */
function rejectWeakLogin(interaction: PendingInteraction): void {
  if (!passkeyAllowed(interaction.params)) {
    throw new PasskeyRejected(
      'PASSKEY_NOT_ALLOWED_HERE',
      `${interaction.clientId} requires a certificate login (acr ${ACR.certificate}) for this sign-in; a passkey does not meet it`,
      403,
    );
  }
}

/**
 * Passkey login for the provider's login interaction: options with a stored
 * single-use challenge bound to the interaction, and the assertion, which is
 * verified and recorded here. The browser then finishes the interaction at the
 * provider (GET /interaction/{uid}/finish).
 */
export const passkeyLoginRoutes: Route[] = [
  {
    method: 'GET',
    path: '/interaction/{uid}/passkey-options',
    handler: async ({ event, params }) =>
      withPasskeyErrors(async () => {
        const interaction = await pendingInteraction(event, params.uid);
        rejectWeakLogin(interaction);
        return json(200, await authenticationOptions(interaction.uid));
      }),
  },
  {
    method: 'POST',
    path: '/interaction/{uid}/passkey',
    handler: async ({ event, params }) =>
      withPasskeyErrors(async () => {
        const interaction = await pendingInteraction(event, params.uid);
        rejectWeakLogin(interaction);
        const login = await loginWithPasskey(interaction.uid, jsonBody(event), interaction.audience);
        const accountId = login.enterprise?.sub ?? login.operator!.sub;
        let result: { redirectTo: string };
        try {
          result = await recordLogin(interaction, {
            accountId,
            context: {
              creditCode: login.enterprise?.creditCode,
              operatorSub: login.operator?.sub,
              method: 'passkey',
              amr: login.amr,
              acr: ACR.passkey,
              credentialId: login.credential.credentialId,
            },
            items: [login.recordUse],
            eventData: login.enterprise
              ? { creditCode: login.enterprise.creditCode, credentialId: login.credential.credentialId }
              : { operator: login.operator!.sub, credentialId: login.credential.credentialId },
          });
        } catch (error) {
          if (error instanceof ConditionFailed && error.index === 0) {
            throw new PasskeyRejected('PASSKEY_REVOKED', `credential ${login.credential.credentialId} was revoked or used by another sign-in at the same moment; try again`, 409);
          }
          throw error;
        }
        log.info('passkey login', { account: accountId, clientId: interaction.clientId, credentialId: login.credential.credentialId });
        return json(200, result);
      }),
  },
];
