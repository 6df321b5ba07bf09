import { deleteGrantItems } from '../db/oidc-grants.js';
import { grantsOpenedByCredential } from '../db/login-context.js';
import { log } from '../lib/log.js';

/**
 * End every grant that a WebAuthn credential opened: delete the grant and its
 * codes and tokens, so their next use at the token, userinfo or API endpoints
 * fails. The browser session that used the grant must sign in again. Returns
 * how many grants were ended.
 */
export async function endGrants(credentialId: string): Promise<number> {
  const grantIds = await grantsOpenedByCredential(credentialId);
  for (const grantId of grantIds) {
    try {
      await deleteGrantItems(grantId, true);
    } catch (error) {
      log.error('ending a grant after credential revocation failed', { credentialId, grantId, error });
      throw error;
    }
  }
  return grantIds.length;
}
