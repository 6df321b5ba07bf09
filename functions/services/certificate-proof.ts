import type * as pkijs from 'pkijs';
import { consumeChallenge, nonceOf, type Challenge, type ChallengePurpose } from '../db/challenges.js';
import { config } from '../lib/config.js';
import { ApiError, badRequest } from '../lib/errors.js';
import { verifyChallengeSignature, type SignatureFormat } from '../pki/challenge-signature.js';
import { MalformedInput, base64ToBytes, parseCertificate, parseCertificates } from '../pki/der.js';
import { CertificateRejected, REJECTION_TEXT } from '../pki/reasons.js';
import type { Usage, ValidatedPath } from '../pki/validate.js';
import { looksLikeLoginChallenge } from './login-challenge.js';
import { validateForService } from './validation.js';

/** A certificate, its optional chain and a signature over a challenge, as a client submits them. */
export interface CertificateSubmission {
  certificate: string;
  chain: string[];
  challenge: string;
  signature: string;
  signatureFormat: SignatureFormat;
}

export function parseSubmission(body: Record<string, unknown>): CertificateSubmission {
  const field = (name: string) => {
    const value = body[name];
    if (typeof value !== 'string' || value.trim() === '') {
      throw badRequest('FIELD_MISSING', `${name} is missing or not a string; it is required`, { field: name });
    }
    return value;
  };
  const chain = body.chain ?? [];
  if (!Array.isArray(chain) || chain.some((item) => typeof item !== 'string')) {
    throw badRequest('FIELD_INVALID', 'chain must be an array of PEM or base64 certificates', { field: 'chain' });
  }
  if (chain.length > 8) throw badRequest('FIELD_INVALID', `chain has ${chain.length} certificates; at most 8 are accepted`, { field: 'chain' });
  const format = body.signatureFormat ?? 'raw';
  if (format !== 'raw' && format !== 'cms') {
    throw badRequest('FIELD_INVALID', `signatureFormat ${JSON.stringify(format)} is not supported; use "raw" or "cms"`, { field: 'signatureFormat' });
  }
  return {
    certificate: field('certificate'),
    chain: chain as string[],
    challenge: field('challenge'),
    signature: field('signature'),
    signatureFormat: format,
  };
}

/** Run `work` and turn a certificate rejection it throws into the API error for it. */
export async function withCertificateErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CertificateRejected) throw rejectionError(error);
    throw error;
  }
}

/** Convert a certificate rejection into the API error that carries its code and bilingual text. */
export function rejectionError(error: CertificateRejected): ApiError {
  return new ApiError(error.code === 'CHALLENGE_INVALID' ? 400 : 422, error.code, error.message, {
    certificate: error.certificate,
    explanation: REJECTION_TEXT[error.code],
  });
}

export interface ProvenCertificate {
  leaf: pkijs.Certificate;
  validated: ValidatedPath;
}

/** The challenge check of a submission: a stored single-use challenge, or a stateless login challenge. */
export interface ChallengeCheck {
  /** Reject a text that cannot be a challenge of this kind, before any certificate work. */
  precheck(text: string): void;
  /** Accept the challenge or throw CertificateRejected with code CHALLENGE_INVALID; a stored challenge is consumed here. */
  check(text: string): Promise<void>;
}

/**
 * Check a stored challenge: it is consumed (single use), even when the
 * certificate turns out to be bad, and must match purpose, origin and context.
 */
export function storedChallenge(purpose: ChallengePurpose, context: string): ChallengeCheck {
  return {
    precheck(text) {
      // A login challenge is stateless and never stored, so consuming it would only report it as unknown.
      if (purpose !== 'login' && looksLikeLoginChallenge(text)) {
        throw new CertificateRejected('CHALLENGE_INVALID', `the challenge was issued for login, not ${purpose}; request a challenge for ${purpose}${purpose === 'bind' ? ' with POST /api/challenges' : ''}`);
      }
      if (!nonceOf(text)) throw new CertificateRejected('CHALLENGE_INVALID', 'the challenge text is not one this service issued (no nonce line); request a new challenge');
    },
    async check(text) {
      const consumed = await consumeChallenge(nonceOf(text)!);
      if (!consumed.ok) {
        throw new CertificateRejected(
          'CHALLENGE_INVALID',
          consumed.reason === 'expired' ? 'the challenge has expired; request a new one' : 'the challenge is unknown or was already used; request a new one',
        );
      }
      const challenge: Challenge = consumed.challenge;
      if (challenge.text !== text) {
        throw new CertificateRejected('CHALLENGE_INVALID', 'the challenge text was altered; sign the text exactly as issued');
      }
      if (challenge.purpose !== purpose) {
        throw new CertificateRejected('CHALLENGE_INVALID', `the challenge was issued for ${challenge.purpose}, not ${purpose}; request a challenge for ${purpose}`);
      }
      if (challenge.origin !== config().origin) {
        throw new CertificateRejected('CHALLENGE_INVALID', `the challenge was issued for origin ${challenge.origin}, not ${config().origin}`);
      }
      if ((challenge.context ?? '') !== context) {
        throw new CertificateRejected('CHALLENGE_INVALID', `the challenge was issued for ${challenge.context || 'another request'}, not ${context}`);
      }
    },
  };
}

/**
 * Check a submission completely. The challenge must pass `expected.challenge`,
 * the certificate must chain to a trusted CA under the rules for `usage`, and
 * the signature must cover exactly the challenge text. Throws
 * CertificateRejected or ApiError.
 */
export async function proveCertificate(
  submission: CertificateSubmission,
  expected: { challenge: ChallengeCheck; usage: Usage; actor: string },
): Promise<ProvenCertificate> {
  expected.challenge.precheck(submission.challenge);

  let leaf: pkijs.Certificate;
  let chain: pkijs.Certificate[];
  let signature: Uint8Array;
  try {
    leaf = parseCertificate(submission.certificate, 'certificate');
    chain = submission.chain.flatMap((pem, i) => parseCertificates(pem, `chain item ${i + 1}`));
    signature = base64ToBytes(submission.signature, 'signature');
  } catch (error) {
    if (error instanceof MalformedInput) throw new CertificateRejected('MALFORMED', error.message);
    throw error;
  }

  await expected.challenge.check(submission.challenge);
  const validated = await validateForService(leaf, chain, expected.usage, { actor: expected.actor });
  await verifyChallengeSignature(leaf, new TextEncoder().encode(submission.challenge), signature, submission.signatureFormat, validated.profile.sm2SignerId);
  return { leaf, validated };
}

export { validateForService };
