import { BatchGetItemCommand, type BatchGetItemCommandOutput, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { certificateKey, putNewBinding, type CertificateBinding } from '../db/certificates.js';
import { dynamo, tableName } from '../db/client.js';
import { enterpriseKey, newSubject, putNewEnterprise, replaceEnterprise, trustedName, type Enterprise } from '../db/enterprises.js';
import { ConditionFailed, commitBuiltWithEvents, MAX_TRANSACTION_ITEMS, type DomainEvent } from '../db/events.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { log } from '../lib/log.js';

/** A certificate that passed validation, ready to be stored for its enterprise. */
export interface AcceptedCertificate {
  /** Position of the item in the caller's batch. */
  index: number;
  binding: CertificateBinding;
  organization?: string;
}

/** Outcome of storing one accepted certificate, reported per item. */
export type StoreOutcome =
  | { status: 'imported'; enterpriseCreated: boolean }
  | { status: 'already-present'; creditCode: string; bindingStatus: CertificateBinding['status'] }
  | { status: 'rejected'; code: 'CONCURRENT_UPDATE'; message: string };

/** Items of one transaction besides the feed head and the one certificates-imported event. */
const MAX_OWN_ITEMS = MAX_TRANSACTION_ITEMS - 2;
/** Attempts at one transaction whose conditions keep failing before its enterprise is given up for this batch. */
const MAX_CONFLICT_ATTEMPTS = 5;

/**
 * Store accepted certificates and record them in the feed. Certificates
 * already bound are reported, not written again. The new ones are packed, per
 * CA profile, into transactions of up to 100 items. Each new enterprise costs
 * two items (record and subject mapping), an existing one costs one (its
 * record, guarded by its version), and each certificate costs one. Every
 * transaction also appends one certificates-imported event that lists its
 * enterprises and certificates, so n certificates of new enterprises take
 * about n / 32 transactions, events and updates of the feed head.
 */
export async function storeAccepted(accepted: AcceptedCertificate[], report: (item: AcceptedCertificate, outcome: StoreOutcome) => void): Promise<void> {
  if (accepted.length === 0) return;
  const bound = await batchGet(accepted.map((item) => certificateKey(item.binding.fingerprint)));
  const fresh = accepted.filter((item) => !reportIfBound(item, bound, report));
  const byCa = new Map<string, AcceptedCertificate[]>();
  for (const item of fresh) byCa.set(item.binding.caId, [...(byCa.get(item.binding.caId) ?? []), item]);
  for (const [caId, items] of byCa) await storeForCa(caId, items, report);
}

function reportIfBound(item: AcceptedCertificate, bound: Map<string, Record<string, unknown>>, report: (item: AcceptedCertificate, outcome: StoreOutcome) => void): boolean {
  const stored = bound.get(`CERT#${item.binding.fingerprint}`);
  if (!stored) return false;
  // A revoked certificate stays revoked; saying so keeps a re-import from looking like a reactivation.
  report(item, { status: 'already-present', creditCode: stored.creditCode as string, bindingStatus: stored.status as CertificateBinding['status'] });
  return true;
}

interface EnterpriseGroup {
  creditCode: string;
  items: AcceptedCertificate[];
}

/** Commit the certificates of one CA profile, one packed transaction after another. */
async function storeForCa(caId: string, items: AcceptedCertificate[], report: (item: AcceptedCertificate, outcome: StoreOutcome) => void): Promise<void> {
  const codes = [...new Set(items.map((item) => item.binding.creditCode))];
  const enterprises = await readEnterprises(codes);
  let queue = groupByEnterprise(items);
  let attempts = 0;
  while (queue.length > 0) {
    const plan = planTransaction(caId, queue, enterprises);
    try {
      await commitBuiltWithEvents(plan.items, [plan.event]);
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      // A binding or an enterprise change of another request got there first: read again and plan again.
      attempts += 1;
      const planned = plan.groups.flatMap((group) => group.items);
      const bound = await batchGet(planned.map((item) => certificateKey(item.binding.fingerprint)));
      const reread = await readEnterprises(plan.groups.map((group) => group.creditCode));
      for (const [code, enterprise] of reread) enterprises.set(code, enterprise);
      const conflicting = plan.owners[error.index];
      queue = queue
        .map((group) => ({ ...group, items: group.items.filter((item) => !reportIfBound(item, bound, report)) }))
        .filter((group) => group.items.length > 0);
      if (attempts >= MAX_CONFLICT_ATTEMPTS) {
        log.warn('import transaction kept conflicting', { creditCode: conflicting, caId, attempts });
        for (const group of queue.filter((g) => g.creditCode === conflicting)) {
          for (const item of group.items) {
            report(item, { status: 'rejected', code: 'CONCURRENT_UPDATE', message: `enterprise ${conflicting} kept changing during the import; send the item again` });
          }
        }
        queue = queue.filter((group) => group.creditCode !== conflicting);
        attempts = 0;
      }
      continue;
    }
    attempts = 0;
    for (const [code, next] of plan.next) enterprises.set(code, next);
    for (const group of plan.groups) {
      for (const item of group.items) report(item, { status: 'imported', enterpriseCreated: plan.created.has(group.creditCode) });
    }
    queue = plan.rest;
  }
}

/** Group items by enterprise, keeping the order in which the enterprises first appear. */
function groupByEnterprise(items: AcceptedCertificate[]): EnterpriseGroup[] {
  const groups = new Map<string, EnterpriseGroup>();
  for (const item of items) {
    const code = item.binding.creditCode;
    const group = groups.get(code);
    if (group) group.items.push(item);
    else groups.set(code, { creditCode: code, items: [item] });
  }
  return [...groups.values()];
}

interface TransactionPlan {
  groups: EnterpriseGroup[];
  /** Groups left for later transactions, including the rest of a group too large for one transaction. */
  rest: EnterpriseGroup[];
  items: (firstSeq: number) => TransactWriteItem[];
  /** Credit code that each transaction item belongs to, by position, to name the enterprise a failed condition concerns. */
  owners: string[];
  event: DomainEvent;
  next: Map<string, Enterprise>;
  created: Set<string>;
}

/**
 * Take enterprise groups from the front of `queue` while they fit in one
 * transaction, and plan their writes and the event. A group larger than a
 * transaction is split: its first part goes now, the rest stays first in the
 * queue and is planned against the record this transaction writes.
 */
function planTransaction(caId: string, queue: EnterpriseGroup[], enterprises: Map<string, Enterprise | undefined>): TransactionPlan {
  const groups: EnterpriseGroup[] = [];
  let rest: EnterpriseGroup[] = [];
  let used = 0;
  for (const [position, group] of queue.entries()) {
    const recordItems = enterprises.get(group.creditCode) ? 1 : 2;
    const room = MAX_OWN_ITEMS - used - recordItems;
    if (room >= group.items.length) {
      groups.push(group);
      used += recordItems + group.items.length;
      continue;
    }
    if (groups.length === 0) {
      groups.push({ creditCode: group.creditCode, items: group.items.slice(0, room) });
      rest = [{ creditCode: group.creditCode, items: group.items.slice(room) }, ...queue.slice(position + 1)];
    } else {
      rest = queue.slice(position);
    }
    break;
  }

  const now = new Date().toISOString();
  const next = new Map<string, Enterprise>();
  const created = new Set<string>();
  const entries: Record<string, unknown>[] = [];
  const recordWrites: TransactWriteItem[] = [];
  const owners: string[] = [];
  for (const group of groups) {
    const stored = enterprises.get(group.creditCode);
    const record = nextRecord(stored, group, now);
    next.set(group.creditCode, record);
    if (!stored) created.add(group.creditCode);
    const writes = stored ? [replaceEnterprise(record, stored.version)] : putNewEnterprise(record);
    recordWrites.push(...writes);
    owners.push(...writes.map(() => group.creditCode));
    entries.push({
      creditCode: group.creditCode,
      enterpriseSeq: record.version,
      created: !stored,
      verified: !stored || stored.status !== 'verified',
      status: record.status,
      name: trustedName(record) ?? null,
      detailsConfirmed: record.detailsConfirmed,
      certificates: group.items.map(({ binding }) => ({
        fingerprint: binding.fingerprint,
        serial: binding.serial,
        issuer: binding.issuer,
        notAfter: binding.notAfter,
        ...(binding.creditCodeFlagged ? { creditCodeFlagged: true } : {}),
      })),
    });
  }
  const bindings = groups.flatMap((group) => group.items.map((item) => item.binding));
  owners.push(...bindings.map((binding) => binding.creditCode));
  return {
    groups,
    rest,
    items: (firstSeq) => [...recordWrites, ...bindings.map((binding) => putNewBinding({ ...binding, importSeq: firstSeq }))],
    owners,
    event: { type: EVENT_TYPES.certificatesImported, caId, data: { caId, source: 'ca', enterprises: entries } },
    next,
    created,
  };
}

/**
 * Build the enterprise record after binding `group`: a new record pre-filled
 * from the certificate when none is stored, else the stored one, verified.
 * Each transaction is one change of the enterprise, so its version grows by
 * one and equals the enterpriseSeq of its entry in the event.
 */
function nextRecord(stored: Enterprise | undefined, group: EnterpriseGroup, now: string): Enterprise {
  const base: Enterprise = stored ?? {
    creditCode: group.creditCode,
    sub: newSubject(),
    detailsConfirmed: false,
    status: 'verified',
    source: 'ca',
    registeredAt: now,
    verifiedAt: now,
    updatedAt: now,
    version: 0,
  };
  return {
    ...base,
    status: 'verified',
    verifiedAt: base.verifiedAt ?? now,
    certifiedName: base.certifiedName ?? group.items.find((item) => item.organization)?.organization,
    updatedAt: now,
    version: base.version + 1,
  };
}

async function readEnterprises(codes: string[]): Promise<Map<string, Enterprise | undefined>> {
  const found = await batchGet(codes.map(enterpriseKey));
  return new Map(codes.map((code) => [code, found.get(`ENT#${code}`) as Enterprise | undefined]));
}

/** Read items by key with consistent reads, 100 keys per request, keyed by partition key. */
async function batchGet(keys: Record<string, string>[]): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const unique = [...new Map(keys.map((k) => [`${k.pk}|${k.sk}`, k])).values()];
  for (let i = 0; i < unique.length; i += 100) {
    let request: BatchGetItemCommandOutput['UnprocessedKeys'] = { [tableName()]: { Keys: unique.slice(i, i + 100).map((k) => marshall(k)), ConsistentRead: true } };
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
