import { BatchGetItemCommand, type BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type * as pkijs from 'pkijs';
import { certificateKey, putNewBinding, type CertificateBinding } from '../db/certificates.js';
import { dynamo, tableName } from '../db/client.js';
import { enterpriseKey, newSubject, putNewEnterprise, replaceEnterprise, type Enterprise } from '../db/enterprises.js';
import { ConditionFailed, commitWithEvents, type DomainEvent } from '../db/events.js';
import type { Caller } from '../lib/auth.js';
import { checkCreditCode } from '../lib/credit-code.js';
import { forbidden } from '../lib/errors.js';
import { EVENT_TYPES, OPERATORS_ONLY } from '../lib/event-types.js';
import { log } from '../lib/log.js';
import { fingerprint, issuerNameHash, nameToString, organizationName, serialHex } from '../pki/certificate.js';
import { locateCreditCode } from '../pki/credit-code-locator.js';
import { MalformedInput, parseCertificate, parseCertificates } from '../pki/der.js';
import { certificatePem } from '../pki/pem.js';
import { CertificateRejected, REJECTION_TEXT } from '../pki/reasons.js';
import { validateForService } from './validation.js';
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

interface Accepted {
  index: number;
  binding: CertificateBinding;
  organization?: string;
}

/** Maximum items in one batch request. */
export const MAX_BATCH_ITEMS = 200;
/** Transaction actions used per enterprise group before a new transaction is started. */
const MAX_ACTIONS_PER_TRANSACTION = 90;

/**
 * Import certificates a CA firm issued. Each item is validated exactly as a
 * self-service binding (trust store, path, credit code) and must chain to one
 * of the firm's own CA profiles. Results are per item: a bad item does not fail
 * the others. Items are keyed by certificate fingerprint, so sending a batch
 * again (after a crash, say) adds nothing twice.
 */
export async function importCertificates(firm: CaFirm, items: ImportItem[], auditRejection: (event: DomainEvent) => Promise<void>): Promise<ItemResult[]> {
  const now = new Date();
  const results: ItemResult[] = new Array(items.length);
  const accepted: Accepted[] = [];
  const seen = new Map<string, number>();

  for (let index = 0; index < items.length; index += 1) {
    const item = items[index];
    try {
      const leaf = parseItemCertificate(item, index);
      const chain = (item.chain ?? []).flatMap((pem, i) => parseCertificates(pem, `item ${index} chain item ${i + 1}`));
      const fp = fingerprint(leaf);
      const who = { subject: nameToString(leaf.subject), serial: serialHex(leaf) };
      const declared = checkCreditCode(item.creditCode);
      // A CA firm's import is a new binding, so it follows the binding rules (no new bindings under a suspended or retired CA).
      const validated = await validateForService(leaf, chain, 'bind', { actor: `ca:${firm.clientId}` });
      if (!firm.caProfiles.has(validated.profile.id)) {
        const message = `certificate "${who.subject}" (serial ${who.serial}) chains to CA profile "${validated.profile.id}", which client ${firm.clientId} does not manage`;
        await auditRejection({
          type: EVENT_TYPES.caSyncDenied,
          audience: OPERATORS_ONLY,
          caId: validated.profile.id,
          data: { clientId: firm.clientId, caId: validated.profile.id, fingerprint: fp, serial: who.serial, action: 'import' },
        });
        results[index] = { index, status: 'rejected', fingerprint: fp, serial: who.serial, error: { code: 'FORBIDDEN_CA', message } };
        continue;
      }
      const located = locateCreditCode(leaf, validated.profile);
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
        binding: {
          fingerprint: fp,
          creditCode: located.code,
          subject: who.subject,
          issuer: nameToString(leaf.issuer),
          serial: who.serial,
          issuerNameHash: issuerNameHash(leaf),
          notBefore: leaf.notBefore.value.toISOString(),
          notAfter: leaf.notAfter.value.toISOString(),
          caId: validated.profile.id,
          anchorSpkiHash: validated.anchorSpkiHash,
          pem: certificatePem(leaf),
          status: 'active',
          boundAt: now.toISOString(),
          source: 'ca',
          ...(located.checkValid ? {} : { creditCodeFlagged: true }),
        },
      });
    } catch (error) {
      results[index] = rejection(index, error);
    }
  }

  await storeAccepted(accepted, results);
  return results;
}

function parseItemCertificate(item: ImportItem, index: number): pkijs.Certificate {
  if (typeof item?.certificate !== 'string' || item.certificate.trim() === '') {
    throw new MalformedInput(`item ${index}`, 'certificate is missing; send it as PEM or base64 DER');
  }
  return parseCertificate(item.certificate, `item ${index} certificate`);
}

function rejection(index: number, error: unknown): ItemResult {
  if (error instanceof CertificateRejected) return { index, status: 'rejected', serial: error.certificate?.serial, error: { code: error.code, message: error.message } };
  if (error instanceof MalformedInput) return { index, status: 'rejected', error: { code: 'MALFORMED', message: error.message } };
  throw error;
}

/** Store accepted items: existing bindings are reported, new ones are committed in packed transactions. */
async function storeAccepted(accepted: Accepted[], results: ItemResult[]): Promise<void> {
  if (accepted.length === 0) return;
  const existing = await batchGet(accepted.map((a) => certificateKey(a.binding.fingerprint)));
  const fresh: Accepted[] = [];
  for (const item of accepted) {
    const stored = existing.get(`CERT#${item.binding.fingerprint}`);
    if (stored) {
      results[item.index] = {
        index: item.index,
        status: 'already-present',
        fingerprint: item.binding.fingerprint,
        serial: item.binding.serial,
        creditCode: stored.creditCode as string,
        // A revoked certificate stays revoked; saying so keeps a re-import from looking like a reactivation.
        bindingStatus: stored.status as CertificateBinding['status'],
      };
    } else {
      fresh.push(item);
    }
  }
  const byEnterprise = new Map<string, Accepted[]>();
  for (const item of fresh) byEnterprise.set(item.binding.creditCode, [...(byEnterprise.get(item.binding.creditCode) ?? []), item]);

  const groups = [...byEnterprise.values()];
  let pending: Accepted[][] = [];
  let actions = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    await commitGroups(pending, results);
    pending = [];
    actions = 0;
  };
  for (const group of groups) {
    const cost = 2 + group.length * 2 + 2;
    if (actions + cost > MAX_ACTIONS_PER_TRANSACTION) await flush();
    pending.push(group);
    actions += cost;
  }
  await flush();
}

/**
 * Commit several enterprise groups in one transaction. When any condition
 * fails (a concurrent import or binding got there first), fall back to one
 * transaction per group, each with fresh reads, so one conflict does not fail
 * the others.
 */
async function commitGroups(groups: Accepted[][], results: ItemResult[], attempt = 1): Promise<void> {
  const enterprises = await batchGet(groups.map((g) => enterpriseKey(g[0].binding.creditCode)));
  const items = [];
  const events: DomainEvent[] = [];
  const outcomes: { item: Accepted; created: boolean }[] = [];
  for (const group of groups) {
    const code = group[0].binding.creditCode;
    const stored = enterprises.get(`ENT#${code}`) as Enterprise | undefined;
    const plan = planEnterprise(stored, group);
    items.push(...plan.items, ...group.map((g) => putNewBinding(g.binding)));
    events.push(...plan.events);
    group.forEach((g) => outcomes.push({ item: g, created: !stored }));
  }
  try {
    await commitWithEvents(items, events);
    for (const { item, created } of outcomes) {
      results[item.index] = {
        index: item.index,
        status: 'imported',
        fingerprint: item.binding.fingerprint,
        serial: item.binding.serial,
        creditCode: item.binding.creditCode,
        enterpriseCreated: created,
        ...(item.binding.creditCodeFlagged ? { creditCodeFlagged: true } : {}),
      };
    }
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    if (groups.length > 1) {
      for (const group of groups) await commitGroups([group], results);
      return;
    }
    if (attempt >= 5) {
      log.warn('import group kept conflicting', { creditCode: groups[0][0].binding.creditCode, attempts: attempt });
      for (const item of groups[0]) {
        results[item.index] = { index: item.index, status: 'rejected', fingerprint: item.binding.fingerprint, error: { code: 'CONCURRENT_UPDATE', message: `enterprise ${item.binding.creditCode} kept changing during the import; send the item again` } };
      }
      return;
    }
    // Some certificate of the group may have been bound meanwhile: report those, retry the rest.
    const existing = await batchGet(groups[0].map((g) => certificateKey(g.binding.fingerprint)));
    const remaining = groups[0].filter((g) => {
      if (!existing.has(`CERT#${g.binding.fingerprint}`)) return true;
      results[g.index] = { index: g.index, status: 'already-present', fingerprint: g.binding.fingerprint, serial: g.binding.serial, creditCode: g.binding.creditCode };
      return false;
    });
    if (remaining.length) await commitGroups([remaining], results, attempt + 1);
  }
}

/** Plan the enterprise writes and events that bind `group` to the enterprise `stored` (or to a new one). */
function planEnterprise(stored: Enterprise | undefined, group: Accepted[]) {
  const code = group[0].binding.creditCode;
  const now = new Date().toISOString();
  const base: Enterprise = stored ?? {
    creditCode: code,
    sub: newSubject(),
    detailsConfirmed: false,
    status: 'verified',
    source: 'ca',
    registeredAt: now,
    verifiedAt: now,
    updatedAt: now,
    version: 0,
  };
  const becomesVerified = !stored || stored.status !== 'verified';
  const version = base.version + group.length + (becomesVerified ? 1 : 0);
  const next: Enterprise = {
    ...base,
    status: 'verified',
    verifiedAt: base.verifiedAt ?? now,
    certifiedName: base.certifiedName ?? group.find((g) => g.organization)?.organization,
    updatedAt: now,
    version,
  };
  const events: DomainEvent[] = [];
  let seq = base.version;
  if (!stored) {
    seq += 1;
    events.push({ type: EVENT_TYPES.enterpriseRegistered, creditCode: code, enterpriseSeq: seq, data: { creditCode: code, status: 'verified', source: 'ca', name: next.certifiedName ?? null } });
  } else if (becomesVerified) {
    seq += 1;
    events.push({ type: EVENT_TYPES.enterpriseVerified, creditCode: code, enterpriseSeq: seq, data: { creditCode: code, name: next.certifiedName ?? null, detailsConfirmed: next.detailsConfirmed } });
  }
  for (const item of group) {
    seq += 1;
    const b = item.binding;
    events.push({
      type: EVENT_TYPES.certificateBound,
      creditCode: code,
      enterpriseSeq: seq,
      caId: b.caId,
      data: { creditCode: code, fingerprint: b.fingerprint, serial: b.serial, issuer: b.issuer, notAfter: b.notAfter, caId: b.caId, source: 'ca' },
    });
  }
  const items = stored ? [replaceEnterprise(next, stored.version)] : putNewEnterprise(next);
  return { items, events };
}

async function batchGet(keys: Record<string, string>[]): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
  for (let i = 0; i < unique.length; i += 100) {
    let request: Record<string, any> | undefined = { [tableName()]: { Keys: unique.slice(i, i + 100).map((k) => marshall(k)), ConsistentRead: true } };
    while (request && Object.keys(request).length) {
      const response: BatchGetItemCommandOutput = await dynamo().send(new BatchGetItemCommand({ RequestItems: request }));
      for (const item of response.Responses?.[tableName()] ?? []) {
        const { pk, sk, kind, gsi1pk, gsi1sk, gsi2pk, gsi2sk, ...rest } = unmarshall(item);
        found.set(pk as string, rest);
      }
      request = response.UnprocessedKeys;
    }
  }
  return found;
}

export { REJECTION_TEXT };
