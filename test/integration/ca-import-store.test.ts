import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type CertificateBinding } from '../../functions/db/certificates.js';
import { dynamo } from '../../functions/db/client.js';
import { getEnterprise, newSubject, putNewEnterprise, type Enterprise } from '../../functions/db/enterprises.js';
import { readEvents, readFeedHead } from '../../functions/db/events.js';
import { storeAccepted, type AcceptedCertificate, type StoreOutcome } from '../../functions/services/ca-import-store.js';
import { randomCreditCode } from '../helpers/codes.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
});
afterAll(async () => {
  await service?.stop();
});
afterEach(() => {
  dynamo().middlewareStack.remove('observe');
});

/** Build an accepted certificate as validation leaves it. Storage does not look inside the PEM, so a stub is enough. */
function accepted(index: number, creditCode: string): AcceptedCertificate {
  const now = new Date().toISOString();
  const binding: CertificateBinding = {
    fingerprint: randomBytes(32).toString('hex'),
    creditCode,
    subject: `CN=存储测试企业${index}, C=CN`,
    issuer: 'CN=Store Test CA, C=CN',
    serial: (1000 + index).toString(16).toUpperCase(),
    issuerNameHash: randomBytes(32).toString('hex'),
    notBefore: now,
    notAfter: new Date(Date.now() + 86400_000).toISOString(),
    caId: 'store-test-ca',
    anchorSpkiHash: randomBytes(32).toString('hex'),
    pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    status: 'active',
    boundAt: now,
    source: 'ca',
  };
  return { index, binding, organization: `存储测试企业${index}` };
}

async function store(items: AcceptedCertificate[]): Promise<Map<number, StoreOutcome>> {
  const outcomes = new Map<number, StoreOutcome>();
  await storeAccepted(items, (item, outcome) => outcomes.set(item.index, outcome));
  return outcomes;
}

describe('CA import storage', () => {
  it('keeps an enterprise registered mid-import', async () => {
    const codes = [randomCreditCode(), randomCreditCode(), randomCreditCode()];
    const items = codes.map((code, i) => accepted(i, code));
    const now = new Date().toISOString();
    const registered: Enterprise = {
      creditCode: codes[0],
      sub: newSubject(),
      details: { name: '自行登记公司', legalRepresentative: '孙七', contact: { name: '周八', phone: '13700137000' } },
      detailsConfirmed: false,
      status: 'unverified',
      source: 'self',
      registeredAt: now,
      updatedAt: now,
      version: 1,
    };
    // Another process registers the first enterprise after the import read it as absent and before the import commits.
    let registeredMidImport = false;
    dynamo().middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && !registeredMidImport) {
          registeredMidImport = true;
          for (const write of putNewEnterprise(registered)) await dynamo().send(new PutItemCommand(write.Put!));
        }
        return next(args);
      },
      { step: 'initialize', name: 'observe' },
    );
    const before = await readFeedHead();

    const outcomes = await store(items);

    expect(registeredMidImport).toBe(true);
    expect(outcomes.get(0)).toEqual({ status: 'imported', enterpriseCreated: false });
    expect(outcomes.get(1)).toEqual({ status: 'imported', enterpriseCreated: true });
    expect(outcomes.get(2)).toEqual({ status: 'imported', enterpriseCreated: true });
    const enterprise = await getEnterprise(codes[0]);
    expect(enterprise?.sub).toBe(registered.sub);
    expect(enterprise?.source).toBe('self');
    expect(enterprise?.details?.legalRepresentative).toBe('孙七');
    expect(enterprise?.status).toBe('verified');
    expect(enterprise?.version).toBe(2);
    // Only the transaction that succeeded reached the feed: one event, with the registered enterprise as a change, not a creation.
    const { events } = await readEvents(before, 100);
    expect(events).toHaveLength(1);
    const entries = events[0].data.enterprises as { creditCode: string; enterpriseSeq: number; created: boolean }[];
    expect(entries.map((entry) => [entry.creditCode, entry.enterpriseSeq, entry.created])).toEqual([
      [codes[0], 2, false],
      [codes[1], 1, true],
      [codes[2], 1, true],
    ]);
  });
});
