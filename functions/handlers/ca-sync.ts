import { createHash } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { currentTrustStore } from '../db/ca-profiles.js';
import { getBinding, type CertificateBinding } from '../db/certificates.js';
import { dynamo, tableName } from '../db/client.js';
import { commitWithEvents, type DomainEvent } from '../db/events.js';
import { claimIdempotencyKey, completeIdempotencyKey } from '../db/idempotency.js';
import { authenticate } from '../lib/auth.js';
import { ApiError, badRequest, conflict, forbidden, notFound } from '../lib/errors.js';
import { EVENT_TYPES, OPERATORS_ONLY } from '../lib/event-types.js';
import { json, jsonBody, router, type HttpEvent, type Route } from '../lib/http.js';
import { jsonTypeOf } from '../lib/json-type.js';
import { subjectNameHash } from '../pki/certificate.js';
import { caFirmOf, importCertificates, MAX_BATCH_ITEMS, type CaFirm, type ImportItem } from '../services/ca-sync.js';
import { NOTICE_REASONS, revokeBinding, type RevocationReason } from '../services/revocation.js';
import { CA_SYNC_OPENAPI } from './ca-sync-openapi.js';

const SCOPE = 'ca:sync';

async function firmOf(event: HttpEvent): Promise<CaFirm> {
  return caFirmOf(await authenticate(event, SCOPE));
}

const audit = (event: DomainEvent) => commitWithEvents([], [event]).then(() => undefined);

/** Refuse (403) and audit an attempt on a certificate of another CA. */
async function denyForeign(firm: CaFirm, binding: CertificateBinding, action: string): Promise<never> {
  await audit({
    type: EVENT_TYPES.caSyncDenied,
    audience: OPERATORS_ONLY,
    caId: binding.caId,
    data: { clientId: firm.clientId, caId: binding.caId, fingerprint: binding.fingerprint, serial: binding.serial, action },
  });
  // The message leaves out the binding's CA profile, because that profile belongs to another firm.
  throw forbidden('FORBIDDEN_CA', `certificate ${binding.fingerprint} was not issued under a CA profile that client ${firm.clientId} manages`);
}

function statusView(binding: CertificateBinding) {
  return {
    fingerprint: binding.fingerprint,
    serial: binding.serial,
    creditCode: binding.creditCode,
    caId: binding.caId,
    subject: binding.subject,
    issuer: binding.issuer,
    notBefore: binding.notBefore,
    notAfter: binding.notAfter,
    status: binding.status,
    source: binding.source,
    boundAt: binding.boundAt,
    ...(binding.revokedAt ? { revokedAt: binding.revokedAt, revocationReason: binding.revocationReason } : {}),
    ...(binding.expiredAt ? { expiredAt: binding.expiredAt } : {}),
    ...(binding.creditCodeFlagged ? { creditCodeFlagged: true } : {}),
  };
}

/** Find the firm's bindings with `serial`, searching under each CA certificate of its own profiles. */
async function bindingsBySerial(firm: CaFirm, serialInput: string): Promise<CertificateBinding[]> {
  const serial = serialInput.replace(/^0x/i, '').replace(/^0+(?=.)/, '').toUpperCase();
  if (!/^[0-9A-F]{1,64}$/.test(serial)) throw badRequest('FIELD_INVALID', `serial ${JSON.stringify(serialInput)} is not a hexadecimal serial number`, { field: 'serial' });
  const store = await currentTrustStore();
  const issuers = new Set<string>();
  for (const entries of store.bySubject.values()) {
    for (const entry of entries) if (firm.caProfiles.has(entry.profile.id)) issuers.add(subjectNameHash(entry.cert));
  }
  const found: CertificateBinding[] = [];
  for (const issuer of issuers) {
    const page = await dynamo().send(
      new QueryCommand({ TableName: tableName(), IndexName: 'gsi2', KeyConditionExpression: 'gsi2pk = :pk', ExpressionAttributeValues: marshall({ ':pk': `SERIAL#${issuer}#${serial}` }) }),
    );
    for (const item of page.Items ?? []) {
      const binding = unmarshall(item) as CertificateBinding;
      if (firm.caProfiles.has(binding.caId)) found.push((await getBinding(binding.fingerprint))!);
    }
  }
  return found;
}

function parseItems(body: Record<string, unknown>): unknown[] {
  const items = body.items;
  if (items === undefined) throw badRequest('FIELD_MISSING', 'items is missing; send {"items": [...]}', { field: 'items' });
  if (!Array.isArray(items)) throw badRequest('FIELD_INVALID', `items must be an array, got ${typeof items}; send {"items": [...]}`, { field: 'items' });
  if (items.length === 0) throw badRequest('FIELD_INVALID', 'items is empty; send at least one item', { field: 'items' });
  if (items.length > MAX_BATCH_ITEMS) throw badRequest('BATCH_TOO_LARGE', `items has ${items.length} entries; send at most ${MAX_BATCH_ITEMS} per request`, { field: 'items' });
  return items;
}

function idempotencyKeyOf(event: HttpEvent): string {
  const key = event.headers?.['idempotency-key'];
  if (!key) throw badRequest('IDEMPOTENCY_KEY_MISSING', 'send an Idempotency-Key header (for example a UUID per batch) so that a resent batch is recognised');
  if (!/^[A-Za-z0-9._:-]{8,128}$/.test(key)) throw badRequest('IDEMPOTENCY_KEY_INVALID', `Idempotency-Key ${JSON.stringify(key.slice(0, 40))} must be 8 to 128 letters, digits or . _ : -`);
  return key;
}

/**
 * Run a batch under its idempotency key: a finished batch sent again returns
 * the stored result; a different body under the same key is rejected.
 */
async function idempotent(event: HttpEvent, firm: CaFirm, work: () => Promise<unknown>) {
  const key = idempotencyKeyOf(event);
  const hash = createHash('sha256').update(event.body ?? '').digest('hex');
  const claim = await claimIdempotencyKey(firm.clientId, key, hash);
  if (claim.state === 'completed') return json(200, claim.result, { 'idempotent-replayed': 'true' });
  if (claim.state === 'mismatch') throw new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${key} was used for a different batch; use a new key for new content`);
  if (claim.state === 'in-progress') throw conflict('BATCH_IN_PROGRESS', `the batch with Idempotency-Key ${key} is still being processed; retry in a few seconds`);
  const result = await work();
  await completeIdempotencyKey(firm.clientId, key, hash, result);
  return json(200, result);
}

function summarize<T extends { status: string }>(results: T[]) {
  const counts: Record<string, number> = {};
  for (const result of results) counts[result.status] = (counts[result.status] ?? 0) + 1;
  return counts;
}

const routes: Route[] = [
  {
    method: 'GET',
    path: '/api/ca/openapi.json',
    handler: async () => json(200, CA_SYNC_OPENAPI, { 'cache-control': 'public, max-age=300' }),
  },
  {
    method: 'POST',
    path: '/api/ca/certificates',
    handler: async ({ event }) => {
      const firm = await firmOf(event);
      const items = parseItems(jsonBody(event)) as ImportItem[];
      return idempotent(event, firm, async () => {
        const results = await importCertificates(firm, items, audit);
        return { summary: summarize(results), results };
      });
    },
  },
  {
    method: 'GET',
    path: '/api/ca/certificates/{fingerprint}',
    handler: async ({ event, params }) => {
      const firm = await firmOf(event);
      const fingerprint = params.fingerprint.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw badRequest('FIELD_INVALID', `fingerprint ${JSON.stringify(params.fingerprint)} is not a SHA-256 fingerprint (64 hex digits)`, { field: 'fingerprint' });
      const binding = await getBinding(fingerprint);
      if (!binding) throw notFound('CERTIFICATE_NOT_FOUND', `no certificate with fingerprint ${fingerprint} is known`);
      if (!firm.caProfiles.has(binding.caId)) await denyForeign(firm, binding, 'status');
      return json(200, statusView(binding));
    },
  },
  {
    method: 'GET',
    path: '/api/ca/certificates',
    handler: async ({ event }) => {
      const firm = await firmOf(event);
      const serial = event.queryStringParameters?.serial;
      if (!serial) throw badRequest('FIELD_MISSING', 'serial is missing; query /api/ca/certificates?serial=<hex> or /api/ca/certificates/<fingerprint>', { field: 'serial' });
      const bindings = await bindingsBySerial(firm, serial);
      return json(200, { certificates: bindings.map(statusView) });
    },
  },
  {
    method: 'POST',
    path: '/api/ca/revocations',
    handler: async ({ event }) => {
      const firm = await firmOf(event);
      const items = parseItems(jsonBody(event));
      return idempotent(event, firm, async () => {
        const results = [];
        for (let index = 0; index < items.length; index += 1) results.push(await revokeItem(firm, items[index], index));
        return { summary: summarize(results), results };
      });
    },
  },
];

/** Clock skew allowed for a revocation time: a notice with a later revokedAt is rejected, because a stored revocation cannot be corrected. */
const MAX_REVOKED_AT_AHEAD_MS = 5 * 60_000;

interface ItemProblem {
  code: string;
  message: string;
}

interface RevocationNotice {
  reason: RevocationReason;
  revokedAt: Date;
  fingerprint?: string;
  serial?: string;
}

/** Check the fields of one revocation notice, collecting every problem rather than stopping at the first. */
function checkNotice(item: Record<string, unknown>): RevocationNotice | ItemProblem[] {
  const problems: ItemProblem[] = [];
  const invalid = (message: string) => problems.push({ code: 'FIELD_INVALID', message });

  const reason = (item.reason ?? 'unspecified') as RevocationReason;
  if (reason === 'removeFromCRL') {
    invalid('reason "removeFromCRL" means that a certificate is no longer revoked, and a revocation stored here cannot be withdrawn; send notices only for certificates revoked for good');
  } else if (reason === 'certificateHold') {
    invalid('reason "certificateHold" is a temporary suspension, and a revocation stored here is permanent; list the held certificate in your CRL or OCSP answers instead, which validation checks at every login');
  } else if (!NOTICE_REASONS.includes(reason)) {
    invalid(`reason ${JSON.stringify(item.reason)} is not an RFC 5280 reason; use one of ${NOTICE_REASONS.join(', ')}`);
  }

  const now = new Date();
  let revokedAt = now;
  if (item.revokedAt !== undefined && typeof item.revokedAt !== 'string') {
    invalid(`revokedAt must be a string (ISO 8601 time such as 2024-05-01T08:00:00Z), got ${jsonTypeOf(item.revokedAt)}`);
  } else if (item.revokedAt !== undefined) {
    revokedAt = new Date(item.revokedAt);
    if (Number.isNaN(revokedAt.getTime())) {
      invalid(`revokedAt ${JSON.stringify(item.revokedAt)} is not an ISO 8601 time`);
    } else if (revokedAt.getTime() - now.getTime() > MAX_REVOKED_AT_AHEAD_MS) {
      invalid(
        `revokedAt ${JSON.stringify(item.revokedAt)} is in the future (server time ${now.toISOString()}); it may be at most ${MAX_REVOKED_AT_AHEAD_MS / 60_000} minutes ahead of the server clock, so send the time the CA revoked the certificate, or leave revokedAt out to use the current time`,
      );
    }
  }

  if (item.fingerprint !== undefined && typeof item.fingerprint !== 'string') {
    invalid(`fingerprint must be a string (SHA-256 of the certificate, 64 hex digits), got ${jsonTypeOf(item.fingerprint)}`);
  } else if (typeof item.fingerprint === 'string' && !/^[0-9a-fA-F]{64}$/.test(item.fingerprint)) {
    invalid(`fingerprint ${JSON.stringify(item.fingerprint.slice(0, 80))} is not a SHA-256 fingerprint; send the 64 hex digits of the certificate's SHA-256`);
  }
  if (item.serial !== undefined && typeof item.serial !== 'string') {
    invalid(`serial must be a string of hex digits, got ${jsonTypeOf(item.serial)}`);
  }
  if (item.fingerprint === undefined && item.serial === undefined) {
    problems.push({ code: 'FIELD_MISSING', message: 'serial and fingerprint are both missing; each notice needs serial (hex) or fingerprint (SHA-256 hex)' });
  }

  if (problems.length > 0) return problems;
  return { reason, revokedAt, fingerprint: item.fingerprint as string | undefined, serial: item.serial as string | undefined };
}

/** Apply one revocation notice {serial | fingerprint, reason, revokedAt}. */
async function revokeItem(firm: CaFirm, raw: unknown, index: number) {
  const fail = (code: string, message: string) => ({ index, status: 'rejected', error: { code, message } });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('FIELD_INVALID', `item ${index} must be an object {serial or fingerprint, reason?, revokedAt?}, got ${jsonTypeOf(raw)}`);
  }
  const notice = checkNotice(raw as Record<string, unknown>);
  if (Array.isArray(notice)) return fail(notice[0].code, notice.map((problem) => problem.message).join('. Also, '));
  let bindings: CertificateBinding[];
  if (notice.fingerprint !== undefined) {
    const binding = await getBinding(notice.fingerprint.toLowerCase());
    bindings = binding ? [binding] : [];
    const serial = notice.serial !== undefined ? notice.serial.replace(/^0x/i, '').replace(/^0+(?=.)/, '').toUpperCase() : undefined;
    if (binding && serial !== undefined && serial !== binding.serial) {
      return fail('SERIAL_MISMATCH', `fingerprint ${binding.fingerprint} belongs to serial ${binding.serial}, not ${notice.serial}; send matching values or only one of them`);
    }
  } else if (notice.serial !== undefined) {
    try {
      bindings = await bindingsBySerial(firm, notice.serial);
    } catch (error) {
      if (error instanceof ApiError) return fail(error.code, error.message);
      throw error;
    }
  } else {
    return fail('FIELD_MISSING', 'each notice needs serial (hex) or fingerprint (SHA-256 hex)');
  }
  if (bindings.length === 0) return { index, status: 'not-found', error: { code: 'CERTIFICATE_NOT_FOUND', message: `no bound certificate matches ${notice.fingerprint ?? `serial ${notice.serial}`} under this client's CA profiles` } };
  if (bindings.length > 1) return fail('AMBIGUOUS_SERIAL', `serial ${notice.serial} matches ${bindings.length} certificates of different issuing CAs; send the fingerprint instead`);
  const binding = bindings[0];
  if (!firm.caProfiles.has(binding.caId)) {
    try {
      await denyForeign(firm, binding, 'revoke');
    } catch (error) {
      return fail('FORBIDDEN_CA', (error as Error).message);
    }
  }
  if (notice.revokedAt.getTime() < Date.parse(binding.notBefore)) {
    return fail('FIELD_INVALID', `revokedAt ${notice.revokedAt.toISOString()} is before the certificate's notBefore ${binding.notBefore}; send the time the CA revoked it`);
  }
  const outcome = await revokeBinding(binding.fingerprint, notice.reason, notice.revokedAt, `ca:${firm.clientId}`);
  if (outcome.state === 'not-bound') return { index, status: 'not-found', error: { code: 'CERTIFICATE_NOT_FOUND', message: `certificate ${binding.fingerprint} is no longer bound` } };
  return { index, status: outcome.state, fingerprint: binding.fingerprint, serial: binding.serial, revokedAt: outcome.binding.revokedAt };
}

/** Lambda entry point for the CA firm sync API (scope ca:sync). */
export const handler = router(routes);
