import type * as pkijs from 'pkijs';
import { fingerprint, nameToString, serialHex, spkiHash } from '../pki/certificate.js';
import { verifyChallengeSignature } from '../pki/challenge-signature.js';
import { MalformedInput } from '../pki/der.js';
import { CertificateRejected, REJECTION_TEXT, type RejectionCode } from '../pki/reasons.js';
import type { RevocationSource } from '../pki/revocation.js';
import type { TrustStore } from '../pki/trust-store.js';
import { validatePath, type RevocationOutcome, type Usage } from '../pki/validate.js';

export interface VerifyRequest {
  leaf: pkijs.Certificate;
  chain: pkijs.Certificate[];
  store: TrustStore;
  revocation: RevocationSource;
  at: Date;
  usage: Usage;
  /** A CMS signature to check with the leaf's key over `content`, after the path validates. */
  cms?: { signature: Uint8Array; content: Uint8Array };
}

export interface PathEntry {
  subject: string;
  issuer: string;
  serial: string;
  sha256: string;
  spkiSha256: string;
  notBefore: string;
  notAfter: string;
}

export interface VerifyReport {
  verdict: 'valid' | 'rejected';
  code?: RejectionCode;
  message?: string;
  explanation?: { zh: string; en: string };
  at: string;
  usage: Usage;
  caProfile?: { id: string; name: string; status: string };
  path: PathEntry[];
  revocation: RevocationOutcome[];
  cms?: 'valid';
}

const entry = (cert: pkijs.Certificate): PathEntry => ({
  subject: nameToString(cert.subject),
  issuer: nameToString(cert.issuer),
  serial: serialHex(cert),
  sha256: fingerprint(cert),
  spkiSha256: spkiHash(cert),
  notBefore: cert.notBefore.value.toISOString(),
  notAfter: cert.notAfter.value.toISOString(),
});

/**
 * Validate a certificate exactly as the service does (the same validatePath
 * and challenge-signature code) and report the verdict, the path and the
 * reason code. Used by `npm run cert -- verify` and the conformance tests.
 */
export async function verifyCertificate(request: VerifyRequest): Promise<VerifyReport> {
  const base = { at: request.at.toISOString(), usage: request.usage };
  try {
    const validated = await validatePath(request.leaf, request.chain, request.store, { at: request.at, usage: request.usage, revocation: request.revocation });
    const report: VerifyReport = {
      ...base,
      verdict: 'valid',
      caProfile: { id: validated.profile.id, name: validated.profile.name, status: validated.profile.status },
      path: validated.path.map(entry),
      revocation: validated.revocation,
    };
    if (request.cms) {
      await verifyChallengeSignature(request.leaf, request.cms.content, request.cms.signature, 'cms', validated.profile.sm2SignerId);
      report.cms = 'valid';
    }
    return report;
  } catch (error) {
    if (error instanceof MalformedInput) error = new CertificateRejected('MALFORMED', error.message);
    if (!(error instanceof CertificateRejected)) throw error;
    return {
      ...base,
      verdict: 'rejected',
      code: error.code,
      message: error.message,
      explanation: REJECTION_TEXT[error.code],
      path: (error.path ?? [request.leaf]).map(entry),
      revocation: [],
    };
  }
}

/** Render a report for a terminal. */
export function reportText(report: VerifyReport): string {
  const lines = [`verdict: ${report.verdict}${report.code ? ` (${report.code})` : ''}`, `checked at: ${report.at} for ${report.usage}`];
  if (report.message) lines.push(`reason: ${report.message}`, `说明: ${report.explanation?.zh}`, `explanation: ${report.explanation?.en}`);
  if (report.caProfile) lines.push(`CA profile: ${report.caProfile.id} (${report.caProfile.name}, ${report.caProfile.status})`);
  lines.push(report.verdict === 'valid' ? 'path (leaf first):' : 'path tried (leaf first):');
  report.path.forEach((cert, index) => {
    lines.push(`  ${index}. ${cert.subject}`, `     issuer ${cert.issuer}, serial ${cert.serial}`, `     valid ${cert.notBefore} .. ${cert.notAfter}, SHA-256 ${cert.sha256}`);
  });
  for (const status of report.revocation) lines.push(`revocation: ${status.subject} (serial ${status.serial}): ${status.status}, ${status.detail}`);
  if (report.cms) lines.push(`CMS signature: ${report.cms}`);
  return lines.join('\n');
}
