import type { Enterprise } from '../db/enterprises.js';
import { getEnterprise, replaceEnterprise, trustedName } from '../db/enterprises.js';
import { getBinding, putNewBinding, type CertificateBinding } from '../db/certificates.js';
import { ConditionFailed, commitWithEvents, type DomainEvent } from '../db/events.js';
import { badRequest, conflict, notFound } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { fingerprint, nameToString, organizationName, serialHex } from '../pki/certificate.js';
import { locateCreditCode } from '../pki/credit-code-locator.js';
import { CertificateRejected } from '../pki/reasons.js';
import { parseDetails, requireStoredCreditCode } from './registration.js';
import { parseSubmission, proveCertificate, storedChallenge } from './certificate-proof.js';
import { activeBinding } from './validation.js';

export interface BindResult {
  enterprise: Enterprise;
  binding: CertificateBinding;
  /** False when the certificate was already bound to this enterprise and nothing changed. */
  created: boolean;
}

/**
 * Bind a certificate to an enterprise after proof of key possession. The first
 * binding verifies the enterprise and hands control to the certificate holder:
 * details declared before then stay unconfirmed unless the holder confirms them
 * (confirmDetails) or replaces them (details) in the same request.
 */
export async function bindCertificate(creditCodeInput: string, body: Record<string, unknown>): Promise<BindResult> {
  const creditCode = await requireStoredCreditCode(creditCodeInput);
  const submission = parseSubmission(body);
  const replacement = body.details === undefined ? undefined : parseDetails(body.details, 'details.');
  if (body.confirmDetails !== undefined && typeof body.confirmDetails !== 'boolean') {
    throw badRequest('FIELD_INVALID', `confirmDetails must be true or false, got ${JSON.stringify(body.confirmDetails)}`, { field: 'confirmDetails' });
  }
  const confirmDetails = body.confirmDetails === true;

  const { leaf, validated } = await proveCertificate(submission, { challenge: storedChallenge('bind', creditCode), usage: 'bind', actor: `bind:${creditCode}` });
  const located = locateCreditCode(leaf, validated.profile);
  if (located.code !== creditCode) {
    throw new CertificateRejected(
      'CREDIT_CODE_MISMATCH',
      `certificate "${nameToString(leaf.subject)}" (serial ${serialHex(leaf)}) carries credit code ${located.code} in its ${located.where}, not ${creditCode}`,
      { subject: nameToString(leaf.subject), serial: serialHex(leaf) },
    );
  }

  const enterprise = await getEnterprise(creditCode);
  if (!enterprise) throw notFound('NOT_REGISTERED', `no enterprise with credit code ${creditCode} is registered; register it first with POST /api/enterprises`);

  const fp = fingerprint(leaf);
  const existing = await getBinding(fp);
  if (existing) return alreadyBound(existing, await getEnterprise(creditCode));

  const now = new Date().toISOString();
  const firstBinding = enterprise.status !== 'verified';
  const next: Enterprise = {
    ...enterprise,
    status: 'verified',
    verifiedAt: enterprise.verifiedAt ?? now,
    certifiedName: enterprise.certifiedName ?? organizationName(leaf),
    details: replacement ?? enterprise.details,
    detailsConfirmed: detailsConfirmedAfterBinding(enterprise, firstBinding, confirmDetails, replacement !== undefined),
    updatedAt: now,
    version: enterprise.version + 1,
  };
  const binding = activeBinding(leaf, validated, creditCode, { source: 'self', boundAt: now, creditCodeFlagged: !located.checkValid });
  const events: DomainEvent[] = [
    {
      type: EVENT_TYPES.certificateBound,
      creditCode,
      enterpriseSeq: next.version,
      caId: binding.caId,
      data: { creditCode, fingerprint: fp, serial: binding.serial, issuer: binding.issuer, notAfter: binding.notAfter, caId: binding.caId, ...(binding.creditCodeFlagged ? { creditCodeFlagged: true } : {}) },
    },
  ];
  if (firstBinding) {
    events.push({
      type: EVENT_TYPES.enterpriseVerified,
      creditCode,
      enterpriseSeq: next.version,
      data: { creditCode, name: trustedName(next) ?? null, detailsConfirmed: next.detailsConfirmed },
    });
  }
  try {
    await commitWithEvents([replaceEnterprise(next, enterprise.version), putNewBinding(binding)], events);
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    const raced = await getBinding(fp);
    if (raced) return alreadyBound(raced, await getEnterprise(creditCode));
    throw conflict('CONCURRENT_UPDATE', `enterprise ${creditCode} changed while this certificate was being bound; request a new challenge and try again`);
  }
  return { enterprise: next, binding, created: true };
}

/**
 * Decide whether the details count as confirmed after a binding: replaced
 * details are, and earlier details are only when the holder says so. On the
 * first binding, details typed in by anyone before are never kept confirmed.
 */
function detailsConfirmedAfterBinding(enterprise: Enterprise, firstBinding: boolean, confirm: boolean, replaced: boolean): boolean {
  if (replaced) return true;
  if (firstBinding) return confirm;
  return enterprise.detailsConfirmed || confirm;
}

/** Report a certificate that is already bound; `enterprise` is read after the binding, so it is current. */
function alreadyBound(existing: CertificateBinding, enterprise: Enterprise | undefined): BindResult {
  rejectRevokedBinding(existing);
  if (!enterprise) throw new Error(`binding ${existing.fingerprint} points to missing enterprise ${existing.creditCode}`);
  return { enterprise, binding: existing, created: false };
}

/** Reject binding a certificate again after its binding was revoked. An active binding passes. */
export function rejectRevokedBinding(existing: CertificateBinding): void {
  if (existing.status === 'active') return;
  throw new CertificateRejected('BINDING_REVOKED', `certificate "${existing.subject}" (serial ${existing.serial}) was revoked on ${existing.revokedAt ?? 'an earlier date'} and cannot be bound again`, {
    subject: existing.subject,
    serial: existing.serial,
  });
}
