import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { getEnterprise, type Enterprise } from '../db/enterprises.js';
import { getOperator, type Operator } from '../db/operators.js';
import { getCredential, recordCredentialUse, type StoredCredential } from '../db/webauthn-credentials.js';
import { log } from '../lib/log.js';
import { PasskeyRejected } from '../webauthn/reasons.js';
import { parseAuthenticationResponse, verifyPasskeyAuthentication } from '../webauthn/verify.js';
import { claimCeremonyChallenge } from './passkey-ceremony.js';
import type { Audience } from './login-policy.js';
import { hasUsableCertificate } from './usable-certificate.js';

export type { Audience };

export interface PasskeyLogin {
  credential: StoredCredential;
  enterprise?: Enterprise;
  operator?: Operator;
  /** amr values (RFC 8176) for this login. */
  amr: string[];
  /** Transaction item that stores the new counter; the login must commit it with its login context. */
  recordUse: TransactWriteItem;
}

/**
 * Authenticate the holder of a discoverable credential for the login
 * interaction `interactionId`. Checks, in order: the challenge (single use,
 * issued for this interaction), the credential (registered, active, of the
 * right kind of account), the owner (an enterprise with a usable certificate,
 * or an active operator), then the signature and the signature counter.
 */
export async function loginWithPasskey(interactionId: string, body: Record<string, unknown>, audience: Audience): Promise<PasskeyLogin> {
  const response = parseAuthenticationResponse(body.credential);
  const policy = await claimCeremonyChallenge(response.response.clientDataJSON, 'webauthn-login', interactionId);
  const credential = await getCredential(response.id);
  if (!credential) throw new PasskeyRejected('PASSKEY_UNKNOWN', `credential ${response.id} is not registered with this service`);
  if (credential.status !== 'active') {
    throw new PasskeyRejected('PASSKEY_REVOKED', `credential ${response.id} ("${credential.displayName}") was revoked on ${credential.revokedAt}`);
  }
  if (response.response.userHandle && response.response.userHandle !== credential.userHandle) {
    throw new PasskeyRejected('PASSKEY_RESPONSE_INVALID', `the response's user handle does not belong to credential ${response.id}`, 400);
  }
  if (credential.owner.kind !== audience) {
    throw new PasskeyRejected(
      'PASSKEY_WRONG_ACCOUNT_KIND',
      audience === 'operator' ? `credential ${response.id} belongs to an enterprise; the admin console accepts operator keys only` : `credential ${response.id} belongs to an operator; trading platforms accept enterprise passkeys only`,
      403,
    );
  }

  let enterprise: Enterprise | undefined;
  let operator: Operator | undefined;
  if (credential.owner.kind === 'enterprise') {
    const creditCode = credential.owner.creditCode;
    enterprise = await getEnterprise(creditCode);
    if (!enterprise) throw new Error(`credential ${credential.credentialId} points to missing enterprise ${creditCode}`);
    if (!(await hasUsableCertificate(creditCode))) {
      throw new PasskeyRejected(
        'PASSKEY_NO_ACTIVE_CERTIFICATE',
        `enterprise ${creditCode} has no bound certificate that is active and unexpired, so its passkeys are paused; sign in with a renewed certificate to bind it`,
        403,
      );
    }
  } else {
    operator = await getOperator(credential.owner.operatorSub);
    if (!operator || operator.status !== 'active') {
      throw new PasskeyRejected('PASSKEY_WRONG_ACCOUNT_KIND', `operator ${credential.owner.operatorSub} is ${operator?.status ?? 'unknown'} and may not sign in`, 403);
    }
  }

  let verified;
  try {
    verified = await verifyPasskeyAuthentication(response, credential, policy);
  } catch (error) {
    if (error instanceof PasskeyRejected && error.code === 'PASSKEY_COUNTER_REGRESSION') {
      log.warn('passkey counter regression', { credentialId: credential.credentialId, owner: credential.owner, storedCounter: credential.counter });
    }
    throw error;
  }
  const amr = ['pop', verified.deviceType === 'singleDevice' ? 'hwk' : 'swk', 'user', 'mfa'];
  return { credential, enterprise, operator, amr, recordUse: recordCredentialUse(credential, verified.newCounter, new Date().toISOString()) };
}
