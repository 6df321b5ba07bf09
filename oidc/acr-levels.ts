import { ACR } from './claims.js';

// Without an import of oidc-provider, so that the functions that verify logins
// apply the same rules without bundling the provider.

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
