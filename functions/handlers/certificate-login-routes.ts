import { clientDisplayName } from '../services/client-lookup.js';
import { ApiError } from '../lib/errors.js';
import { json, jsonBody, type Route } from '../lib/http.js';
import { log } from '../lib/log.js';
import { withCertificateErrors } from '../services/certificate-proof.js';
import { loginWithCertificate } from '../services/certificate-login.js';
import { issueLoginChallenge } from '../services/login-challenge.js';
import { interactionOf, pendingInteraction, recordLogin, requireInteractionCookie } from '../services/login-interaction.js';
import { ACR } from '../../oidc/claims.js';

const operatorsOnly = () =>
  new ApiError(403, 'METHOD_NOT_ALLOWED_HERE', 'the admin console accepts operator security keys only; enterprise certificates cannot sign in to it');

/**
 * Certificate login for the provider's login interaction: a stateless
 * challenge bound to the interaction, and the signed submission, which is
 * verified and recorded here. The browser then finishes the interaction at the
 * provider (GET /interaction/{uid}/finish).
 */
export const certificateLoginRoutes: Route[] = [
  {
    method: 'GET',
    path: '/interaction/{uid}/challenge',
    handler: async ({ event, params }) => {
      const interaction = await pendingInteraction(event, params.uid);
      if (interaction.audience === 'operator') throw operatorsOnly();
      const challenge = await issueLoginChallenge({ uid: interaction.uid, clientId: interaction.clientId, scope: String(interaction.params.scope ?? 'openid') });
      return json(200, {
        challenge: challenge.text,
        expiresAt: new Date(challenge.expiresAt * 1000).toISOString(),
        client: { id: interaction.clientId, name: await clientDisplayName(interaction.clientId) },
        acrValues: interaction.params.acr_values ?? null,
      });
    },
  },
  {
    method: 'POST',
    path: '/interaction/{uid}/certificate',
    handler: async ({ event, params }) =>
      withCertificateErrors(async () => {
        // The signed challenge names the interaction's client and scope, so only the browser's cookie is checked here;
        // the provider's finish step checks the interaction itself.
        await requireInteractionCookie(event, params.uid);
        const { enterprise, binding, target } = await loginWithCertificate(params.uid, jsonBody(event));
        const interaction = interactionOf(target);
        if (interaction.audience === 'operator') throw operatorsOnly();
        const result = await recordLogin(interaction, {
          accountId: enterprise.sub,
          context: {
            creditCode: enterprise.creditCode,
            method: 'certificate',
            amr: ['pop', 'x509'],
            acr: ACR.certificate,
            x5tS256: Buffer.from(binding.fingerprint, 'hex').toString('base64url'),
          },
          items: [],
          eventData: { creditCode: enterprise.creditCode, certificate: binding.fingerprint },
        });
        log.info('certificate login', { creditCode: enterprise.creditCode, clientId: interaction.clientId, certificate: binding.fingerprint });
        return json(200, result);
      }),
  },
];
