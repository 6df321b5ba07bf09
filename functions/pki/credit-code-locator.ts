import * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { CREDIT_CODE_ALPHABET, checkCreditCode } from '../lib/credit-code.js';
import { extension, nameAttributes, nameToString, serialHex } from './certificate.js';
import { CertificateRejected } from './reasons.js';
import type { CaProfile } from './trust-store.js';

const SUBJECT = { serialNumber: '2.5.4.5', organizationIdentifier: '2.5.4.97', ou: '2.5.4.11', cn: '2.5.4.3' };
const CODE_IN_TEXT = new RegExp(`(?<![${CREDIT_CODE_ALPHABET}])[${CREDIT_CODE_ALPHABET}]{18}(?![${CREDIT_CODE_ALPHABET}])`);

export interface LocatedCreditCode {
  code: string;
  /** False when the code fails its check character and the profile allows it anyway. */
  checkValid: boolean;
  /** Where it was found, for messages: e.g. "subject serialNumber". */
  where: string;
}

/** A credit code found in a certificate, before the CA profile's rule on check characters is applied. */
export interface FoundCreditCode {
  code: string;
  checkValid: boolean;
  where: string;
  /** Reason the check character fails, when it does. */
  checkProblem?: string;
}

/**
 * Find the first credit code in the places the CA profile names, valid or
 * with a wrong check character. Text around the code (a prefix such as "CN-",
 * the company name in a CN) is skipped by searching for an 18-character run of
 * the code alphabet. Returns undefined when no place contains a code.
 */
export function findCreditCode(cert: pkijs.Certificate, profile: Pick<CaProfile, 'creditCodeLocation' | 'creditCodePattern'>): FoundCreditCode | undefined {
  for (const { where, value } of candidateValues(cert, profile)) {
    const code = extract(value.toUpperCase(), profile.creditCodePattern);
    if (!code) continue;
    const check = checkCreditCode(code);
    if (check.valid) return { code, checkValid: true, where };
    if (check.reason === 'check') return { code, checkValid: false, where, checkProblem: check.message };
  }
  return undefined;
}

/**
 * Find the Unified Social Credit Code in a certificate, in the place the CA profile
 * names, as binding and CA imports do. Throws CertificateRejected with
 * CREDIT_CODE_MISSING when there is none, and with CREDIT_CODE_INVALID when its
 * check character is wrong and the profile does not allow that.
 */
export function locateCreditCode(cert: pkijs.Certificate, profile: Pick<CaProfile, 'creditCodeLocation' | 'creditCodePattern' | 'allowInvalidCheckCharacter' | 'id'>): LocatedCreditCode {
  const found = findCreditCode(cert, profile);
  const certificate = { subject: nameToString(cert.subject), serial: serialHex(cert) };
  if (!found) {
    throw new CertificateRejected('CREDIT_CODE_MISSING', `certificate "${certificate.subject}" (serial ${certificate.serial}): no 18-character credit code found in ${describeLocation(profile)}`, certificate);
  }
  if (!found.checkValid && !profile.allowInvalidCheckCharacter) {
    throw new CertificateRejected('CREDIT_CODE_INVALID', `certificate "${certificate.subject}" (serial ${certificate.serial}), ${found.where}: ${found.checkProblem}`, certificate);
  }
  return { code: found.code, checkValid: found.checkValid, where: found.where };
}

/** Maximum length of the text a profile's creditCodePattern runs on; a field carrying a credit code is far shorter. */
const MAX_PATTERN_INPUT = 256;

function extract(value: string, pattern?: string): string | undefined {
  if (pattern) {
    // The value comes from the certificate, so its length is bounded before an operator's pattern runs on it.
    const match = new RegExp(pattern).exec(value.slice(0, MAX_PATTERN_INPUT));
    if (!match) return undefined;
    return (match[1] ?? match[0]).toUpperCase();
  }
  return CODE_IN_TEXT.exec(value)?.[0];
}

function candidateValues(cert: pkijs.Certificate, profile: Pick<CaProfile, 'creditCodeLocation'>): { where: string; value: string }[] {
  const attrs = nameAttributes(cert.subject);
  const subjectValues = (oid: string, label: string) =>
    attrs.filter((a) => a.type === oid).map((a) => ({ where: `subject ${label}`, value: a.value }));
  const location = profile.creditCodeLocation;
  switch (location.source) {
    case 'auto':
      return [
        ...subjectValues(SUBJECT.serialNumber, 'serialNumber'),
        ...subjectValues(SUBJECT.organizationIdentifier, 'organizationIdentifier'),
        ...subjectValues(SUBJECT.ou, 'OU'),
        ...subjectValues(SUBJECT.cn, 'CN'),
      ];
    case 'subject':
      return subjectValues(location.attribute, location.attribute);
    case 'cn':
      return subjectValues(SUBJECT.cn, 'CN');
    case 'extension': {
      const ext = extension(cert, location.oid);
      if (!ext) return [];
      return [{ where: `extension ${location.oid}`, value: extensionText(ext) }];
    }
  }
}

/** Read a private extension's value as text: a DER string type, or the raw bytes as ASCII. */
function extensionText(ext: pkijs.Extension): string {
  const raw = ext.extnValue.valueBlock.valueHexView;
  const parsed = asn1js.fromBER(raw);
  if (parsed.offset === raw.byteLength) {
    const block = (parsed.result as { valueBlock?: { value?: unknown } }).valueBlock;
    if (typeof block?.value === 'string') return block.value;
  }
  return Buffer.from(raw).toString('latin1');
}

function describeLocation(profile: Pick<CaProfile, 'creditCodeLocation' | 'id'>): string {
  const location = profile.creditCodeLocation;
  switch (location.source) {
    case 'auto':
      return 'the subject (serialNumber, organizationIdentifier, OU or CN)';
    case 'subject':
      return `subject attribute ${location.attribute} (CA profile "${profile.id}")`;
    case 'cn':
      return `the subject CN (CA profile "${profile.id}")`;
    case 'extension':
      return `extension ${location.oid} (CA profile "${profile.id}")`;
  }
}
