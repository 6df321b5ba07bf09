import type * as pkijs from 'pkijs';
import type { DomainEvent } from '../db/events.js';
import type { CertificateBinding } from '../db/certificates.js';
import type { Caller } from '../lib/auth.js';
import { checkCreditCode } from '../lib/credit-code.js';
import { forbidden } from '../lib/errors.js';
import { jsonTypeOf } from '../lib/json-type.js';
import { EVENT_TYPES, OPERATORS_ONLY } from '../lib/event-types.js';
import { fingerprint, nameToString, organizationName, serialHex } from '../pki/certificate.js';
import { locateCreditCode } from '../pki/credit-code-locator.js';
import { candidateAnchorProfiles } from '../pki/validate.js';
import { currentTrustStore } from '../db/ca-profiles.js';
import { MalformedInput, parseCertificate, parseCertificates } from '../pki/der.js';
import { CertificateRejected, REJECTION_TEXT } from '../pki/reasons.js';
import { storeAccepted, type AcceptedCertificate, type StoreOutcome } from './ca-import-store.js';
import { activeBinding, validateForService } from './validation.js';
import { readOidcPayload } from '../db/oidc-items.js';

/** A CA firm client with the CA profiles whose certificates it may manage. */
export interface CaFirm {
  clientId: string;
  caProfiles: Set<string>;
}

/** Resolve the CA profiles a caller with the ca:sync scope may act for. */
export async function caFirmOf(caller: Caller): Promise<CaFirm> {
  if (caller.kind !== 'client') throw forbidden('NOT_A_CA_CLIENT', 'only CA firm clients (client credentials) may use the CA sync API');
  const client = await readOidcPayload('Client', caller.clientId);
  const profiles = Array.isArray(client?.ca_profiles) ? (client!.ca_profiles as string[]) : [];
  if (profiles.length === 0) {
    throw forbidden('NOT_A_CA_CLIENT', `client ${caller.clientId} is not linked to any CA profile; an operator must set its ca_profiles`);
  }
  return { clientId: caller.clientId, caProfiles: new Set(profiles) };
}

export interface ImportItem {
  certificate: string;
  creditCode: string;
  chain?: string[];
}

export type ItemStatus = 'imported' | 'already-present' | 'rejected';

export interface ItemResult {
  index: number;
  status: ItemStatus;
  fingerprint?: string;
  serial?: string;
  creditCode?: string;
  enterpriseCreated?: boolean;
  creditCodeFlagged?: boolean;
  /** For already-present items: whether the stored binding is active, revoked or expired. */
  bindingStatus?: CertificateBinding['status'];
  error?: { code: string; message: string };
}

/** Maximum items in one batch request. */
export const MAX_BATCH_ITEMS = 200;

/**
 * Import certificates a CA firm issued. Each item is validated exactly as a
 * self-service binding (trust store, path, credit code) and must chain to one
 * of the firm's own CA profiles. An item that can chain only to other firms'
 * profiles is rejected as FORBIDDEN_CA before validation. Results are per item: a bad item does not fail
 * the others. Items are keyed by certificate fingerprint, so sending a batch
 * again (after a crash, say) adds nothing twice.
 */
export async function importCertificates(firm: CaFirm, items: ImportItem[], auditRejection: (event: DomainEvent) => Promise<void>): Promise<ItemResult[]> {
  const now = new Date();
  const results: ItemResult[] = new Array(items.length);
  const accepted: AcceptedCertificate[] = [];
  const seen = new Map<string, number>();

  for (let index = 0; index < items.length; index += 1) {
    const item = items[index];
    try {
      const { leaf, chain } = parseItemCertificates(item, index);
      const fp = fingerprint(leaf);
      const who = { subject: nameToString(leaf.subject), serial: serialHex(leaf) };
      const declared = checkCreditCode(item.creditCode);
      // Ownership is decided before validation, because a validation error of another firm's CA would name its profile and revocation policy.
      const possibleAnchors = candidateAnchorProfiles(leaf, chain, await currentTrustStore(), now);
      const foreign = [...possibleAnchors].filter((id) => !firm.caProfiles.has(id)).sort();
      if (foreign.length === possibleAnchors.size && foreign.length > 0) {
        await auditRejection({
          type: EVENT_TYPES.caSyncDenied,
          audience: OPERATORS_ONLY,
          caId: foreign[0],
          data: { clientId: firm.clientId, caId: foreign[0], fingerprint: fp, serial: who.serial, action: 'import' },
        });
        const message = `certificate "${who.subject}" (serial ${who.serial}) does not chain to a CA profile that client ${firm.clientId} manages; import only certificates issued by your own CAs`;
        results[index] = { index, status: 'rejected', fingerprint: fp, serial: who.serial, error: { code: 'FORBIDDEN_CA', message } };
        continue;
      }
      // A CA firm's import is a new binding, so it follows the binding rules (no new bindings under a suspended or retired CA).
      // Only paths to the firm's own profiles are checked, so a rejection never describes another firm's CA.
      const validated = await validateForService(leaf, chain, 'bind', { actor: `ca:${firm.clientId}`, anchorProfiles: firm.caProfiles });
      const located = locateCreditCode(leaf, validated.profile);
      if (item.creditCode === undefined || item.creditCode === null || item.creditCode === '') {
        results[index] = { index, status: 'rejected', fingerprint: fp, serial: who.serial, error: { code: 'FIELD_MISSING', message: `creditCode is missing; send the credit code the CA recorded for the enterprise (the certificate carries ${located.code})` } };
        continue;
      }
      if (typeof item.creditCode !== 'string') {
        results[index] = { index, status: 'rejected', fingerprint: fp, serial: who.serial, error: { code: 'FIELD_INVALID', message: `creditCode must be a string of 18 characters, got ${jsonTypeOf(item.creditCode)}; send it in quotes` } };
        continue;
      }
      if (located.code !== declared.code) {
        throw new CertificateRejected('CREDIT_CODE_MISMATCH', `certificate "${who.subject}" (serial ${who.serial}) carries credit code ${located.code} in its ${located.where}, but the item declares ${declared.code || JSON.stringify(item.creditCode)}`, who);
      }
      const duplicate = seen.get(fp);
      if (duplicate !== undefined) {
        results[index] = { index, status: 'already-present', fingerprint: fp, serial: who.serial, creditCode: located.code, error: { code: 'DUPLICATE_IN_BATCH', message: `the same certificate is item ${duplicate} of this batch` } };
        continue;
      }
      seen.set(fp, index);
      accepted.push({
        index,
        organization: organizationName(leaf),
        binding: activeBinding(leaf, validated, located.code, { source: 'ca', boundAt: now.toISOString(), creditCodeFlagged: !located.checkValid }),
      });
    } catch (error) {
      results[index] = rejection(index, error);
    }
  }

  await storeAccepted(accepted, (item, outcome) => {
    results[item.index] = storeResult(item, outcome);
  });
  return results;
}

function storeResult({ index, binding }: AcceptedCertificate, outcome: StoreOutcome): ItemResult {
  const base = { index, fingerprint: binding.fingerprint, serial: binding.serial };
  switch (outcome.status) {
    case 'imported':
      return { ...base, status: 'imported', creditCode: binding.creditCode, enterpriseCreated: outcome.enterpriseCreated, ...(binding.creditCodeFlagged ? { creditCodeFlagged: true } : {}) };
    case 'already-present':
      return { ...base, status: 'already-present', creditCode: outcome.creditCode, bindingStatus: outcome.bindingStatus };
    case 'rejected':
      return { ...base, status: 'rejected', error: { code: outcome.code, message: outcome.message } };
  }
}

/** Check the shape of one import item and parse its certificate and chain. */
function parseItemCertificates(item: unknown, index: number): { leaf: pkijs.Certificate; chain: pkijs.Certificate[] } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new MalformedInput(`item ${index}`, `it must be an object {certificate, creditCode, chain?}, got ${jsonTypeOf(item)}`);
  }
  const { certificate, chain = [] } = item as Record<string, unknown>;
  if (certificate === undefined) throw new MalformedInput(`item ${index}`, 'certificate is missing; send it as PEM or base64 DER');
  if (typeof certificate !== 'string') {
    throw new MalformedInput(`item ${index} certificate`, `it must be a string (PEM or base64 DER), got ${jsonTypeOf(certificate)}`);
  }
  if (certificate.trim() === '') throw new MalformedInput(`item ${index} certificate`, 'it is empty; send the certificate as PEM or base64 DER');
  if (!Array.isArray(chain)) {
    throw new MalformedInput(`item ${index} chain`, `it must be an array of PEM strings, got ${jsonTypeOf(chain)}`);
  }
  const badLink = chain.findIndex((link) => typeof link !== 'string');
  if (badLink >= 0) {
    throw new MalformedInput(`item ${index} chain item ${badLink + 1}`, `it must be a string (PEM or base64 DER), got ${jsonTypeOf(chain[badLink])}`);
  }
  return {
    leaf: parseCertificate(certificate, `item ${index} certificate`),
    chain: (chain as string[]).flatMap((pem, i) => parseCertificates(pem, `item ${index} chain item ${i + 1}`)),
  };
}

function rejection(index: number, error: unknown): ItemResult {
  if (error instanceof CertificateRejected) return { index, status: 'rejected', serial: error.certificate?.serial, error: { code: error.code, message: error.message } };
  if (error instanceof MalformedInput) return { index, status: 'rejected', error: { code: 'MALFORMED', message: error.message } };
  throw error;
}

export { REJECTION_TEXT };
