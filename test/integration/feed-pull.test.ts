import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamo, tableName } from '../../functions/db/client.js';
import { certificateKey, getBinding } from '../../functions/db/certificates.js';
import { enterpriseKey, getEnterprise, replaceEnterprise } from '../../functions/db/enterprises.js';
import { ConditionFailed, commitWithEvents, readEvents, readFeedHead } from '../../functions/db/events.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { bind, register } from '../../infra/local/journey.js';
import { randomCreditCode } from '../helpers/codes.js';
import { getJson, platformToken, setVerifier } from '../helpers/feed.js';
import { createRootCa, enterpriseHolder, tempDir } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let platform: { clientId: string; token: string };
let ca: Awaited<ReturnType<typeof createRootCa>>;

beforeAll(async () => {
  service = await startTestService();
  ca = await createRootCa(await tempDir(), 'Feed Test CA', 'ec');
  const profile = defaultProfile('feed-ca', 'Feed Test CA', [ca.certPem]);
  profile.revocation = { ...profile.revocation, failPolicy: 'open' };
  await saveCaProfile(profile);
  platform = await platformToken(service.url);
});
afterAll(async () => {
  await service?.stop();
});

const details = (creditCode: string) => ({
  creditCode,
  name: '申报名称有限公司',
  legalRepresentative: '王五',
  contact: { name: '赵六', phone: '0755-12345678' },
});

/** Revoke a binding the way the revocation service records it: binding, enterprise version and event in one transaction. */
async function revokeBinding(fingerprint: string): Promise<void> {
  const binding = (await getBinding(fingerprint))!;
  const enterprise = (await getEnterprise(binding.creditCode))!;
  const now = new Date().toISOString();
  const next = { ...enterprise, version: enterprise.version + 1, updatedAt: now };
  await commitWithEvents(
    [
      replaceEnterprise(next, enterprise.version),
      {
        Update: {
          TableName: tableName(),
          Key: marshall(certificateKey(fingerprint)),
          UpdateExpression: 'SET #status = :revoked, revokedAt = :now',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: marshall({ ':revoked': 'revoked', ':now': now }),
        },
      },
    ],
    [{ type: EVENT_TYPES.certificateRevoked, creditCode: binding.creditCode, enterpriseSeq: next.version, caId: binding.caId, data: { creditCode: binding.creditCode, fingerprint, revokedAt: now, reason: 'keyCompromise' } }],
  );
}

interface Copy {
  status: string;
  name: string | null;
  version: number;
  certificates: Map<string, { status: string; serial: string; caId: string; notAfter: string }>;
}

/** A platform's copy of the enterprises, built only from verified SETs. */
function applyEvent(copies: Map<string, Copy>, payload: any): void {
  const [[type, data]] = Object.entries(payload.events as Record<string, any>);
  const code = payload.sub_id?.id as string;
  const copy = copies.get(code) ?? { status: 'unverified', name: null, version: 0, certificates: new Map() };
  copies.set(code, copy);
  if (typeof payload.enterprise_seq === 'number') copy.version = Math.max(copy.version, payload.enterprise_seq);
  if (type === EVENT_TYPES.enterpriseRegistered) copy.status = data.status;
  if (type === EVENT_TYPES.enterpriseVerified) {
    copy.status = 'verified';
    copy.name = data.name ?? null;
  }
  if (type === EVENT_TYPES.certificateBound) copy.certificates.set(data.fingerprint, { status: 'active', serial: data.serial, caId: data.caId, notAfter: data.notAfter });
  if (type === EVENT_TYPES.certificateRevoked) copy.certificates.get(data.fingerprint)!.status = 'revoked';
}

describe('feed pull', () => {
  it('rebuilds a copy from cursor zero', async () => {
    const codes = [randomCreditCode(), randomCreditCode(), randomCreditCode()];
    for (const code of codes) expect((await register(service.url, details(code))).status).toBe(201);
    const fingerprints: string[] = [];
    for (const [i, code] of codes.slice(0, 2).entries()) {
      for (const n of [1, 2]) {
        const holder = await enterpriseHolder(ca, `rebuild-${i}-${n}`, code, { name: `重建测试${i}公司` });
        const bound = await bind(service.url, code, holder, { confirmDetails: n === 1 });
        expect(bound.status).toBe(201);
        fingerprints.push(bound.body.certificate.fingerprint);
      }
    }
    await revokeBinding(fingerprints[1]);

    const verify = setVerifier(service.url, platform.clientId);
    const copies = new Map<string, Copy>();
    let cursor = 0;
    let pages = 0;
    for (let more = true; more; pages += 1) {
      const page = await getJson(`${service.url}/api/feed/events?after=${cursor}&limit=3`, platform.token);
      expect(page.status).toBe(200);
      for (const item of page.body.sets) {
        const payload = await verify(item.set);
        expect(payload.jti).toBe(item.jti);
        expect(payload.seq).toBe(item.seq);
        expect(item.seq).toBeGreaterThan(cursor);
        applyEvent(copies, payload);
      }
      cursor = page.body.cursor;
      more = page.body.moreAvailable;
    }
    expect(pages).toBeGreaterThan(1);
    expect(cursor).toBe(await readFeedHead());

    for (const code of codes) {
      const snapshot = (await getJson(`${service.url}/api/feed/enterprises/${code}`, platform.token)).body;
      const copy = copies.get(code)!;
      expect(copy.status).toBe(snapshot.status);
      expect(copy.name).toBe(snapshot.name);
      expect(copy.version).toBe(snapshot.version);
      const certificates = Object.fromEntries(snapshot.certificates.map((c: any) => [c.fingerprint, { status: c.status, serial: c.serial, caId: c.caId, notAfter: c.notAfter }]));
      expect(Object.fromEntries(copy.certificates)).toEqual(certificates);
    }
    expect(copies.get(codes[0])!.certificates.get(fingerprints[1])!.status).toBe('revoked');
  });

  it('returns the snapshot by fingerprint', async () => {
    const code = randomCreditCode();
    await register(service.url, details(code));
    const bound = await bind(service.url, code, await enterpriseHolder(ca, 'by-fingerprint', code), { confirmDetails: true });
    const fingerprint = bound.body.certificate.fingerprint as string;
    const response = await getJson(`${service.url}/api/feed/certificates/${fingerprint.toUpperCase()}`, platform.token);
    expect(response.status).toBe(200);
    expect(response.body.certificate).toMatchObject({ fingerprint, status: 'active', caId: 'feed-ca' });
    expect(response.body.enterprise).toMatchObject({ creditCode: code, status: 'verified' });
  });

  it.each([
    ['/api/feed/certificates/abc', 400, 'FIELD_INVALID'],
    [`/api/feed/certificates/${'0'.repeat(64)}`, 404, 'CERTIFICATE_NOT_BOUND'],
    [`/api/feed/enterprises/${randomCreditCode()}`, 404, 'NOT_REGISTERED'],
    ['/api/feed/events?after=-1', 400, 'FIELD_INVALID'],
    ['/api/feed/events?limit=1001', 400, 'FIELD_INVALID'],
  ])('rejects %s', async (path, status, error) => {
    const response = await getJson(`${service.url}${path}`, platform.token);
    expect(response.status).toBe(status);
    expect(response.body.error).toBe(error);
  });

  it('requires a client token with the feed scope', async () => {
    expect((await getJson(`${service.url}/api/feed/events`)).status).toBe(401);
    expect((await getJson(`${service.url}/api/feed/events`, 'not-a-token')).status).toBe(401);
    const other = await platformToken(service.url, 'ca:sync');
    const response = await getJson(`${service.url}/api/feed/events`, other.token);
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('INSUFFICIENT_SCOPE');
  });

  it('shows a login only to its platform', async () => {
    const code = randomCreditCode();
    const before = await readFeedHead();
    await commitWithEvents([], [{ type: EVENT_TYPES.login, creditCode: code, data: { creditCode: code, clientId: 'another-platform', method: 'certificate' } }]);
    const own = await commitWithEvents([], [{ type: EVENT_TYPES.login, creditCode: code, data: { creditCode: code, clientId: platform.clientId, method: 'certificate' } }]);
    const page = await getJson(`${service.url}/api/feed/events?after=${before}`, platform.token);
    expect(page.body.sets.map((item: any) => item.jti)).toEqual([own[0].jti]);
    expect(page.body.cursor).toBe(own[0].seq);
  });
});

describe('feed transactions', () => {
  it('writes no event for a failed change', async () => {
    const code = randomCreditCode();
    expect((await register(service.url, details(code))).status).toBe(201);
    const head = await readFeedHead();
    expect((await register(service.url, details(code))).status).toBe(409);
    expect(await readFeedHead()).toBe(head);
    expect((await readEvents(head, 10)).events).toHaveLength(0);
  });

  it('writes no change when the event fails', async () => {
    const code = randomCreditCode();
    const head = await readFeedHead();
    // The second event's item already exists, so the whole transaction is cancelled.
    const blocker = { pk: 'FEED#0', sk: String(head + 2).padStart(15, '0') };
    await dynamo().send(new PutItemCommand({ TableName: tableName(), Item: marshall({ ...blocker, kind: 'blocker' }) }));
    const change = { Put: { TableName: tableName(), Item: marshall({ ...enterpriseKey(code), kind: 'enterprise', creditCode: code, version: 1 }) } };
    const events = [1, 2].map(() => ({ type: EVENT_TYPES.enterpriseUpdated, creditCode: code, enterpriseSeq: 1, data: { creditCode: code } }));
    await expect(commitWithEvents([change], events)).rejects.toThrow(/already exists beyond the feed head/);
    await dynamo().send(new DeleteItemCommand({ TableName: tableName(), Key: marshall(blocker) }));
    expect(await getEnterprise(code)).toBeUndefined();
    expect(await readFeedHead()).toBe(head);
    expect((await readEvents(head, 10)).events).toHaveLength(0);
  });

  it('raises ConditionFailed and writes nothing', async () => {
    const code = randomCreditCode();
    const head = await readFeedHead();
    const guarded = replaceEnterprise({ creditCode: code, version: 2 } as never, 1);
    await expect(commitWithEvents([guarded], [{ type: EVENT_TYPES.enterpriseUpdated, creditCode: code, data: {} }])).rejects.toBeInstanceOf(ConditionFailed);
    expect(await readFeedHead()).toBe(head);
  });

  it('numbers 40 concurrent commits without gaps', async () => {
    const head = await readFeedHead();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => commitWithEvents([], [{ type: EVENT_TYPES.enterpriseUpdated, creditCode: randomCreditCode(), data: { i } }])),
    );
    const seqs = results.flat().map((event) => event.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => head + i + 1));
    expect(await readFeedHead()).toBe(head + 40);
  });
});
