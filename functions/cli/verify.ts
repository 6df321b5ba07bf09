import type * as pkijs from 'pkijs';
import { fingerprint, nameToString, serialHex, spkiHash } from '../pki/certificate.js';
import { verifyChallengeSignature } from '../pki/challenge-signature.js';
import { findCreditCode, locateCreditCode } from '../pki/credit-code-locator.js';
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

/** The credit code the service would use for this certificate. */
export interface CreditCodeReport {
  code: string;
  /** Place where it was found: a place in the certificate, such as "subject serialNumber", or "binding" for the stored binding's code. */
  where: string;
  /** False when the check character is wrong. A CA profile with allowInvalidCheckCharacter accepts such a code and flags the binding. */
  checkCharacterValid: boolean;
}

export interface VerifyReport {
  verdict: 'valid' | 'rejected';
  code?: RejectionCode;
  message?: string;
  explanation?: { zh: string; en: string };
  /** Next step to try, for rejections that have a usual cause on the command line. */
  hint?: string;
  at: string;
  usage: Usage;
  caProfile?: { id: string; name: string; status: string };
  creditCode?: CreditCodeReport;
  /** Empty when the certificate could not be parsed. */
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
 * Validate a certificate exactly as the service does (the same validatePath,
 * challenge-signature and credit code code) and report the verdict, the path
 * and the reason code. For bind, the credit code must be found as binding
 * finds it. Used by `npm run cert -- verify` and the conformance tests.
 */
export async function verifyCertificate(request: VerifyRequest): Promise<VerifyReport> {
  const report: VerifyReport = { verdict: 'valid', at: request.at.toISOString(), usage: request.usage, path: [], revocation: [] };
  try {
    const validated = await validatePath(request.leaf, request.chain, request.store, { at: request.at, usage: request.usage, revocation: request.revocation });
    report.caProfile = { id: validated.profile.id, name: validated.profile.name, status: validated.profile.status };
    report.path = validated.path.map(entry);
    report.revocation = validated.revocation;
    if (request.cms) {
      await verifyChallengeSignature(request.leaf, request.cms.content, request.cms.signature, 'cms', validated.profile.sm2SignerId);
      report.cms = 'valid';
    }
    if (request.usage === 'bind') {
      const found = findCreditCode(request.leaf, validated.profile);
      if (found) report.creditCode = { code: found.code, where: found.where, checkCharacterValid: found.checkValid };
      locateCreditCode(request.leaf, validated.profile);
    }
    return report;
  } catch (error) {
    if (error instanceof MalformedInput) error = new CertificateRejected('MALFORMED', error.message);
    if (!(error instanceof CertificateRejected)) throw error;
    if (report.path.length === 0) report.path = (error.path ?? [request.leaf]).map(entry);
    return rejectedReport(report, error);
  }
}

/** Turn a report into a rejection for `error`, keeping what was found before it. */
export function rejectedReport(report: VerifyReport, error: CertificateRejected): VerifyReport {
  // The verdict, code and message come first in the JSON, followed by what was found before the rejection.
  const { verdict: _earlier, code: _code, message: _message, explanation: _explanation, ...found } = report;
  return { verdict: 'rejected', code: error.code, message: error.message, explanation: REJECTION_TEXT[error.code], ...found };
}

/** Report a certificate that cannot be parsed, as the service rejects it: MALFORMED with the parser's message. */
export function malformedReport(error: MalformedInput, at: Date, usage: Usage): VerifyReport {
  return rejectedReport({ verdict: 'rejected', at: at.toISOString(), usage, path: [], revocation: [] }, new CertificateRejected('MALFORMED', error.message));
}

/** Render a report for a terminal. */
export function reportText(report: VerifyReport): string {
  const lines = [`verdict: ${report.verdict}${report.code ? ` (${report.code})` : ''}`, `checked at: ${report.at} for ${report.usage}`];
  if (report.message) lines.push(`reason: ${report.message}`, `说明: ${report.explanation?.zh}`, `explanation: ${report.explanation?.en}`);
  if (report.hint) lines.push(`hint: ${report.hint}`);
  if (report.caProfile) lines.push(`CA profile: ${report.caProfile.id} (${report.caProfile.name}, ${report.caProfile.status})`);
  if (report.creditCode) lines.push(`credit code: ${creditCodeText({ ...report, creditCode: report.creditCode })}`);
  if (report.path.length > 0) lines.push(report.verdict === 'valid' ? 'path (leaf first):' : 'path tried (leaf first):');
  report.path.forEach((cert, index) => {
    lines.push(`  ${index}. ${cert.subject}`, `     issuer ${cert.issuer}, serial ${cert.serial}`, `     valid ${cert.notBefore} .. ${cert.notAfter}, SHA-256 ${cert.sha256}`);
  });
  for (const status of report.revocation) lines.push(`revocation: ${status.subject} (serial ${status.serial}): ${status.status}, ${status.detail}`);
  if (report.cms) lines.push(`CMS signature: ${report.cms}`);
  return lines.join('\n');
}

function creditCodeText(report: VerifyReport & { creditCode: CreditCodeReport }): string {
  const { code, where, checkCharacterValid } = report.creditCode;
  if (where === 'binding') return `${code} (from the binding of this certificate${checkCharacterValid ? '' : ', flagged: its check character is invalid'})`;
  let check = '';
  if (!checkCharacterValid) {
    check = report.verdict === 'valid' ? '; its check character is invalid, which the CA profile allows (allowInvalidCheckCharacter), so the binding would be flagged' : '; its check character is invalid';
  }
  return `${code} (in the ${where}${check})`;
}
