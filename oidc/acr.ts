import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { acrLevel, requiredAcrLevel } from './acr-levels.js';

export { acrLevel, passkeyAllowed, requiredAcrLevel } from './acr-levels.js';

/**
 * Build the provider's interaction policy: the default prompts plus a login
 * check that requests a new login when the session's ACR is weaker than the
 * request needs. Without it, a session opened with a passkey would satisfy a
 * later request for acr_values=certificate silently.
 */
export function interactionPolicyWithAcr() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('acr_level', 'the session was opened with a weaker login than this request needs', (ctx: KoaContextWithOIDC) => {
      const required = requiredAcrLevel(ctx.oidc.params as Record<string, unknown>);
      if (required === 0) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return acrLevel(ctx.oidc.acr) >= required ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
