import { randomBytes } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { ConditionFailed, commitWithEvents } from '../db/events.js';
import {
  consumeEnrollment,
  getEnrollment,
  getOperator,
  hashEnrollmentToken,
  newOperatorSubject,
  putEnrollment,
  putOperator,
  type Operator,
} from '../db/operators.js';
import { listCredentials, putNewCredential, type StoredCredential } from '../db/webauthn-credentials.js';
import { config, webauthnConfig } from '../lib/config.js';
import { ApiError, badRequest } from '../lib/errors.js';
import { EVENT_TYPES, OPERATORS_ONLY } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { parseRegistrationResponse, verifyPasskeyRegistration } from '../webauthn/verify.js';
import { claimCeremonyChallenge, newUserHandle, parseLabels, parseUserHandle, registrationOptions } from './passkey-ceremony.js';

/** Maximum lifetime of an enrollment link, in minutes. */
export const MAX_ENROLLMENT_MINUTES = 60;

export interface OperatorEnrollment {
  operator: Operator;
  /** The secret part of the link; shown once, stored only as a hash. */
  token: string;
  /** Page where the operator registers a key; the token travels in the fragment, which browsers never send to a server. */
  link: string;
  expiresAt: Date;
}

/**
 * Create an operator (or a new enrollment for an existing one) and a one-time
 * enrollment link valid for `minutes`. There is no password: the operator
 * opens the link and registers a WebAuthn key, which is then the only way in.
 */
export async function createOperatorEnrollment(input: { name?: string; operatorSub?: string; minutes?: number }): Promise<OperatorEnrollment> {
  const minutes = input.minutes ?? 15;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_ENROLLMENT_MINUTES) {
    throw new RangeError(`an enrollment link is valid for 1 to ${MAX_ENROLLMENT_MINUTES} minutes; got ${minutes}`);
  }
  let operator: Operator;
  let isNew = false;
  if (input.operatorSub) {
    const existing = await getOperator(input.operatorSub);
    if (!existing) throw new RangeError(`no operator ${input.operatorSub} exists`);
    operator = existing;
  } else {
    const name = input.name?.trim();
    if (!name || name.length > 64) throw new RangeError('an operator needs a name of 1 to 64 characters');
    operator = { sub: newOperatorSubject(), name, role: 'admin', status: 'pending', createdAt: new Date().toISOString() };
    isNew = true;
  }
  const token = randomBytes(32).toString('base64url');
  const expiresAt = Math.floor(Date.now() / 1000) + minutes * 60;
  await commitWithEvents([...(isNew ? [putOperator(operator, true)] : []), putEnrollment({ tokenHash: hashEnrollmentToken(token), operatorSub: operator.sub, expiresAt })], []);
  return { operator, token, link: `${config().origin}/static/admin/enroll.html#token=${token}`, expiresAt: new Date(expiresAt * 1000) };
}

async function requireEnrollment(tokenInput: unknown) {
  if (typeof tokenInput !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(tokenInput)) {
    throw badRequest('FIELD_INVALID', 'token must be the 43-character code from the enrollment link', { field: 'token' });
  }
  const enrollment = await getEnrollment(tokenInput);
  if (!enrollment) throw new ApiError(410, 'ENROLLMENT_INVALID', 'this enrollment link is unknown, already used or expired; ask for a new one');
  const operator = await getOperator(enrollment.operatorSub);
  if (!operator || operator.status === 'disabled') throw new ApiError(410, 'ENROLLMENT_INVALID', 'the operator of this enrollment link is disabled; ask for a new one');
  return { enrollment, operator };
}

const enrollContext = (tokenHash: string, userHandle: string) => `enroll:${tokenHash}:${userHandle}`;

/** Registration options for the operator named by an enrollment link. */
export async function startOperatorEnrollment(body: Record<string, unknown>): Promise<PublicKeyCredentialCreationOptionsJSON & { operatorName: string }> {
  const { enrollment, operator } = await requireEnrollment(body.token);
  const existing = await listCredentials({ kind: 'operator', operatorSub: operator.sub });
  const userHandle = newUserHandle();
  const options = await registrationOptions({
    context: enrollContext(enrollment.tokenHash, userHandle),
    userHandle,
    userName: `operator ${operator.name}`,
    userDisplayName: `${operator.name} (管理员 operator)`,
    exclude: existing.filter((credential) => credential.status === 'active').map((credential) => ({ id: credential.credentialId, transports: credential.transports })),
  });
  return { ...options, operatorName: operator.name };
}

/**
 * Verify the operator's new key and, in one transaction, use up the link,
 * store the key and activate the operator. Of two concurrent uses of one link
 * only one succeeds.
 */
export async function finishOperatorEnrollment(body: Record<string, unknown>): Promise<StoredCredential> {
  const { enrollment, operator } = await requireEnrollment(body.token);
  // The holder of an operator key is the operator the link was issued for, whatever the request contains.
  const labels = parseLabels({ ...body, holderName: operator.name, holderRole: 'operator' });
  const response = parseRegistrationResponse(body.credential);
  const userHandle = parseUserHandle(body.userHandle);
  const policy = await claimCeremonyChallenge(response.response.clientDataJSON, 'webauthn-register', enrollContext(enrollment.tokenHash, userHandle));
  const { userVerified, ...key } = await verifyPasskeyRegistration(response, { ...policy, aaguidAllowList: webauthnConfig().aaguidAllowList });
  const now = new Date().toISOString();
  const credential: StoredCredential = {
    ...key,
    owner: { kind: 'operator', operatorSub: operator.sub },
    userHandle,
    ...labels,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
  const activated: Operator = { ...operator, status: 'active', enrolledAt: operator.enrolledAt ?? now };
  try {
    await commitWithEvents(
      [consumeEnrollment(enrollment.tokenHash), putNewCredential(credential), putOperator(activated, false)],
      [
        {
          type: EVENT_TYPES.credentialChange,
          audience: OPERATORS_ONLY,
          data: { operator: operator.sub, credential_type: 'fido2-roaming', change_type: 'create', friendly_name: credential.displayName, fido2_aaguid: credential.aaguid, credentialId: credential.credentialId, initiating_entity: 'user' },
        },
      ],
    );
  } catch (error) {
    if (error instanceof ConditionFailed) throw new ApiError(410, 'ENROLLMENT_INVALID', 'this enrollment link was used or expired while the key was being registered; ask for a new one');
    throw error;
  }
  log.info('operator enrolled a key', { operator: operator.sub, credentialId: credential.credentialId });
  return credential;
}
