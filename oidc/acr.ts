import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { ACR } from './claims.js';

/** Assurance order of this provider's ACRs: a certificate login satisfies a request for a passkey login, not the reverse. */
const LEVEL: Record<string, number> = { [ACR.passkey]: 1, [ACR.certificate]: 2 };

export const acrLevel = (acr: string | undefined) => (acr ? (LEVEL[acr] ?? 0) : 0);

/**
 * Return the lowest assurance level that satisfies the authorization request:
 * the weakest known value of acr_values. Unknown values are ignored, as
 * acr_values is voluntary. 0 means no requirement. (The claims parameter is
 * disabled in this provider, so essential acr claims cannot be requested.)
 */
export function requiredAcrLevel(params: Record<string, unknown>): number {
  const requested = typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter((value) => value in LEVEL) : [];
  return requested.length > 0 ? Math.min(...requested.map((value) => LEVEL[value])) : 0;
}

/** Report whether a passkey login satisfies this authorization request. */
export const passkeyAllowed = (params: Record<string, unknown>) => requiredAcrLevel(params) <= LEVEL[ACR.passkey];

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
