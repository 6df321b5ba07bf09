import type * as pkijs from 'pkijs';
import { getBinding } from '../db/certificates.js';
import { getEnterpriseForClaims, type Enterprise } from '../db/enterprises.js';
import type { CertificateBinding } from '../db/certificates.js';
import { fingerprint, nameToString, serialHex } from '../pki/certificate.js';
import { CertificateRejected } from '../pki/reasons.js';
import { parseSubmission, proveCertificate } from './certificate-proof.js';
import { checkLoginChallenge, type LoginTarget } from './login-challenge.js';

export interface CertificateLogin {
  enterprise: Enterprise;
  binding: CertificateBinding;
  /** The interaction, client and requested scope that the signed challenge names. */
  target: LoginTarget;
}

/**
 * Authenticate an enterprise by a bound certificate for the login interaction
 * `interactionId`: the challenge must be a login challenge this service issued
 * for that interaction and must not have expired. Replays are stopped where
 * the login is recorded, not here.
 */
export async function loginWithCertificate(interactionId: string, body: Record<string, unknown>): Promise<CertificateLogin> {
  const submission = parseSubmission(body);
  let target: LoginTarget | undefined;
  const { leaf } = await proveCertificate(submission, {
    challenge: {
      precheck: () => undefined,
      check: async (text) => {
        target = await checkLoginChallenge(text, interactionId);
      },
    },
    usage: 'login',
    actor: `login:${interactionId}`,
  });
  const binding = await activeBindingForLogin(leaf);
  const enterprise = await getEnterpriseForClaims(binding.creditCode);
  if (!enterprise) throw new Error(`binding ${binding.fingerprint} points to missing enterprise ${binding.creditCode}`);
  if (!target) throw new Error('the login challenge was not checked');
  return { enterprise, binding, target };
}

/** Read the active binding that a login with `leaf` uses. Throws CertificateRejected with NOT_BOUND or BINDING_REVOKED when there is none. */
export async function activeBindingForLogin(leaf: pkijs.Certificate): Promise<CertificateBinding> {
  const who = { subject: nameToString(leaf.subject), serial: serialHex(leaf) };
  const binding = await getBinding(fingerprint(leaf));
  if (!binding) {
    throw new CertificateRejected('NOT_BOUND', `certificate "${who.subject}" (serial ${who.serial}) is not bound to any enterprise; bind it in the enterprise portal first`, who);
  }
  if (binding.status !== 'active') {
    throw new CertificateRejected('BINDING_REVOKED', `certificate "${who.subject}" (serial ${who.serial}) was revoked${binding.revocationReason ? ` (${binding.revocationReason})` : ''}`, who);
  }
  return binding;
}
