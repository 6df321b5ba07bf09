import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { getBinding } from '../db/certificates.js';
import { getEnterprise, replaceEnterprise, trustedName, type Enterprise } from '../db/enterprises.js';
import { ConditionFailed, commitWithEvents } from '../db/events.js';
import { getLoginContext } from '../db/login-context.js';
import {
  getCredential,
  listCredentials,
  putNewCredential,
  revokeCredentialItem,
  updateCredentialLabels,
  type StoredCredential,
} from '../db/webauthn-credentials.js';
import { webauthnConfig } from '../lib/config.js';
import { conflict, notFound } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { PasskeyRejected } from '../webauthn/reasons.js';
import { parseRegistrationResponse, verifyPasskeyRegistration } from '../webauthn/verify.js';
import { claimCeremonyChallenge, newUserHandle, parseLabels, parseUserHandle, registrationOptions, type CredentialLabels } from './passkey-ceremony.js';
import { endGrants } from './grants.js';

/** The enterprise session that asks for a passkey change: its credit code and the OIDC grant of its token. */
export interface EnterpriseSession {
  creditCode: string;
  grantId?: string;
}

const registerContext = (creditCode: string, userHandle: string) => `enterprise:${creditCode}:${userHandle}`;

/**
 * Check that the session was opened by a certificate login within the
 * registration window and that the certificate is still bound: a passkey
 * inherits the enterprise's verification, so only a certificate holder may
 * create one. Returns the certificate's x5t#S256.
 */
async function requireRecentCertificateLogin(session: EnterpriseSession): Promise<string> {
  const { registrationWindowSeconds } = webauthnConfig();
  const context = session.grantId ? await getLoginContext(session.grantId) : undefined;
  if (!context || context.creditCode !== session.creditCode || context.method !== 'certificate' || !context.x5tS256) {
    throw new PasskeyRejected(
      'CERTIFICATE_LOGIN_REQUIRED',
      `adding a passkey needs a session opened with a certificate of ${session.creditCode}; this session was opened ${context ? `with a ${context.method}` : 'without a recorded login'}. Sign in again with the certificate`,
      403,
    );
  }
  const age = Math.floor(Date.now() / 1000) - context.authenticatedAt;
  if (age > registrationWindowSeconds) {
    throw new PasskeyRejected(
      'CERTIFICATE_LOGIN_REQUIRED',
      `the certificate login of this session was ${age} s ago; adding a passkey needs one within the last ${registrationWindowSeconds} s. Sign in again with the certificate`,
      403,
    );
  }
  const binding = await getBinding(Buffer.from(context.x5tS256, 'base64url').toString('hex'));
  if (!binding || binding.status !== 'active' || binding.creditCode !== session.creditCode) {
    throw new PasskeyRejected('CERTIFICATE_LOGIN_REQUIRED', 'the certificate that opened this session is no longer bound to the enterprise; sign in with a bound certificate', 403);
  }
  return context.x5tS256;
}

async function requireEnterprise(creditCode: string): Promise<Enterprise> {
  const enterprise = await getEnterprise(creditCode);
  if (!enterprise) throw notFound('NOT_REGISTERED', `no enterprise with credit code ${creditCode} is registered`);
  return enterprise;
}

/** Begin adding a passkey: registration options for the holder named in the request. */
export async function startEnterpriseRegistration(session: EnterpriseSession, body: Record<string, unknown>): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const labels = parseLabels(body);
  await requireRecentCertificateLogin(session);
  const enterprise = await requireEnterprise(session.creditCode);
  const existing = await listCredentials({ kind: 'enterprise', creditCode: session.creditCode });
  const userHandle = newUserHandle();
  const name = trustedName(enterprise) ?? enterprise.details?.name ?? session.creditCode;
  return registrationOptions({
    context: registerContext(session.creditCode, userHandle),
    userHandle,
    userName: `${session.creditCode} ${labels.holderName}`,
    userDisplayName: `${name} · ${labels.holderName}`,
    exclude: existing.filter((credential) => credential.status === 'active').map((credential) => ({ id: credential.credentialId, transports: credential.transports })),
  });
}

/** Finish adding a passkey: verify the attestation and store the credential with its event. */
export async function finishEnterpriseRegistration(session: EnterpriseSession, body: Record<string, unknown>): Promise<StoredCredential> {
  const labels = parseLabels(body);
  const authorisedBy = await requireRecentCertificateLogin(session);
  const response = parseRegistrationResponse(body.credential);
  const userHandle = parseUserHandle(body.userHandle);
  const policy = await claimCeremonyChallenge(response.response.clientDataJSON, 'webauthn-register', registerContext(session.creditCode, userHandle));
  const verified = await verifyPasskeyRegistration(response, { ...policy, aaguidAllowList: webauthnConfig().aaguidAllowList });

  const { userVerified, ...key } = verified;
  const now = new Date().toISOString();
  const credential: StoredCredential = {
    ...key,
    owner: { kind: 'enterprise', creditCode: session.creditCode },
    userHandle,
    ...labels,
    status: 'active',
    createdAt: now,
    updatedAt: now,
    authorisedBy,
  };
  try {
    await commitCredentialChange(session.creditCode, [putNewCredential(credential)], 'create', credential);
  } catch (error) {
    if (error instanceof ConditionFailed && error.index === 1) {
      throw new PasskeyRejected('PASSKEY_ALREADY_REGISTERED', `credential ${credential.credentialId} is already registered`, 409);
    }
    throw error;
  }
  log.info('passkey registered', { creditCode: session.creditCode, credentialId: credential.credentialId, aaguid: credential.aaguid });
  return credential;
}

/** CAEP credential_type for a WebAuthn credential. */
const credentialType = (credential: StoredCredential) => (credential.deviceType === 'multiDevice' || credential.transports.includes('internal') ? 'fido2-platform' : 'fido2-roaming');

/**
 * Commit a credential change with the enterprise's version bump and a CAEP
 * credential-change event in one transaction. The enterprise item comes first,
 * so a ConditionFailed at index 0 means a concurrent change, which is retried.
 */
async function commitCredentialChange(
  creditCode: string,
  items: Parameters<typeof commitWithEvents>[0],
  changeType: 'create' | 'update' | 'revoke',
  credential: StoredCredential,
  extra: Record<string, unknown> = {},
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const enterprise = await requireEnterprise(creditCode);
    const next: Enterprise = { ...enterprise, updatedAt: new Date().toISOString(), version: enterprise.version + 1 };
    try {
      await commitWithEvents([replaceEnterprise(next, enterprise.version), ...items], [
        {
          type: EVENT_TYPES.credentialChange,
          creditCode,
          enterpriseSeq: next.version,
          data: {
            creditCode,
            credential_type: credentialType(credential),
            change_type: changeType,
            friendly_name: credential.displayName,
            fido2_aaguid: credential.aaguid,
            credentialId: credential.credentialId,
            initiating_entity: 'user',
            ...extra,
          },
        },
      ]);
      return;
    } catch (error) {
      if (error instanceof ConditionFailed && error.index === 0 && attempt < 3) continue;
      if (error instanceof ConditionFailed && error.index === 0) {
        throw conflict('CONCURRENT_UPDATE', `enterprise ${creditCode} changed while its passkeys were being changed; try again`);
      }
      throw error;
    }
  }
}

export { publicCredential } from '../db/webauthn-credentials.js';

export async function listEnterpriseCredentials(creditCode: string): Promise<StoredCredential[]> {
  return listCredentials({ kind: 'enterprise', creditCode });
}

async function ownCredential(creditCode: string, credentialId: string): Promise<StoredCredential> {
  const credential = await getCredential(credentialId);
  if (!credential || credential.owner.kind !== 'enterprise' || credential.owner.creditCode !== creditCode) {
    throw notFound('CREDENTIAL_NOT_FOUND', `enterprise ${creditCode} has no passkey with ID ${credentialId}`);
  }
  return credential;
}

/** Rename a credential or change its holder; the change is an "update" event for platforms. */
export async function relabelCredential(creditCode: string, credentialId: string, body: Record<string, unknown>): Promise<StoredCredential> {
  const credential = await ownCredential(creditCode, credentialId);
  const labels: CredentialLabels = parseLabels({ ...credential, ...body });
  if (credential.status !== 'active') throw conflict('CREDENTIAL_REVOKED', `passkey ${credentialId} was revoked on ${credential.revokedAt} and cannot be changed`);
  const now = new Date().toISOString();
  try {
    await commitCredentialChange(creditCode, [updateCredentialLabels(credentialId, labels, now)], 'update', { ...credential, ...labels });
  } catch (error) {
    if (error instanceof ConditionFailed) throw conflict('CREDENTIAL_REVOKED', `passkey ${credentialId} was revoked while it was being renamed`);
    throw error;
  }
  return { ...credential, ...labels, updatedAt: now };
}

/**
 * Revoke a credential: the change and its event commit together, so no login
 * with it can succeed afterwards (a passkey login's transaction requires the
 * credential to be active). Then every grant the credential opened is
 * destroyed, which revokes their tokens. Revoking twice returns the revoked
 * credential unchanged.
 */
export async function revokeEnterpriseCredential(creditCode: string, credentialId: string, reasonInput: unknown): Promise<{ credential: StoredCredential; grantsEnded: number }> {
  const credential = await ownCredential(creditCode, credentialId);
  if (credential.status === 'revoked') return { credential, grantsEnded: 0 };
  const reason = typeof reasonInput === 'string' && reasonInput.trim() ? reasonInput.trim().slice(0, 200) : 'revoked by the enterprise';
  const now = new Date().toISOString();
  try {
    await commitCredentialChange(creditCode, [revokeCredentialItem(credentialId, reason, now)], 'revoke', credential, { reason_user: reason });
  } catch (error) {
    if (error instanceof ConditionFailed) return { credential: (await getCredential(credentialId))!, grantsEnded: 0 };
    throw error;
  }
  const grantsEnded = await endGrants(credentialId);
  log.info('passkey revoked', { creditCode, credentialId, grantsEnded });
  return { credential: { ...credential, status: 'revoked', revokedAt: now, revocationReason: reason, updatedAt: now }, grantsEnded };
}

