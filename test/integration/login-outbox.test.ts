import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamo, tableName } from '../../functions/db/client.js';
import { readEvents, readFeedHead, type StoredEvent } from '../../functions/db/events.js';
import { loginContextKey } from '../../functions/db/login-context.js';
import { readLoginStats } from '../../functions/db/login-stats.js';
import { pendingLogin, publishLoginEvents, publishPendingLogins, type PendingLogin } from '../../functions/feed/login-outbox.js';
import { handler as dispatcherLambda } from '../../functions/handlers/dispatcher.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { recordLogin } from '../../functions/services/login-interaction.js';
import { randomCreditCode } from '../helpers/codes.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;

beforeAll(async () => {
  // Without the in-process dispatcher, nothing publishes the outbox unless the test does.
  service = await startTestService({ dispatcher: false });
});

afterAll(async () => {
  await service?.stop();
});

let counter = 0;

/** Record a certificate login for a new interaction, as the certificate login route does after verifying it. */
async function login(creditCode: string): Promise<string> {
  counter += 1;
  const uid = `outbox-${process.pid}-${counter}-${Date.now()}`;
  await recordLogin(
    { uid, clientId: 'outbox-platform', params: { client_id: 'outbox-platform', scope: 'openid enterprise' }, audience: 'enterprise' },
    {
      accountId: `sub-${creditCode}`,
      context: { creditCode, method: 'certificate', amr: ['pop', 'x509'], acr: 'urn:trading-identity:acr:certificate' },
      items: [],
      eventData: { creditCode, certificate: 'ab'.repeat(32) },
    },
  );
  return uid;
}

async function storedContext(uid: string): Promise<Record<string, unknown>> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(loginContextKey(uid)), ConsistentRead: true }));
  return unmarshall(result.Item!);
}

async function eventsSince(after: number): Promise<StoredEvent[]> {
  return (await readEvents(after, 10_000)).events;
}

const loginEventsOf = (events: StoredEvent[], creditCode: string) => events.filter((event) => event.type === EVENT_TYPES.login && event.creditCode === creditCode);

describe('login event outbox', () => {
  it('records a login without a feed event until it is published', async () => {
    const creditCode = randomCreditCode();
    const head = await readFeedHead();
    const uid = await login(creditCode);
    expect(await readFeedHead()).toBe(head);
    const stored = await storedContext(uid);
    expect(stored.gsi3pk).toBe('LOGINOUTBOX');
    expect(pendingLogin(marshall(stored))?.event.type).toBe(EVENT_TYPES.login);

    const run = await publishLoginEvents();
    expect(run.published).toBeGreaterThanOrEqual(1);
    const [event] = loginEventsOf(await eventsSince(head), creditCode);
    expect(event.data.clientId).toBe('outbox-platform');
    expect(event.data.method).toBe('certificate');
    expect(typeof event.data.authenticatedAt).toBe('string');
    const cleared = await storedContext(uid);
    expect(cleared.gsi3pk).toBeUndefined();
    expect(cleared.outboxEvent).toBeUndefined();
  });

  it('publishes each login once when publishers race', async () => {
    const creditCode = randomCreditCode();
    await publishLoginEvents();
    const head = await readFeedHead();
    const clientCountBefore = (await readLoginStats(1))[0]?.byClient['outbox-platform'] ?? 0;
    // More logins than one publishing transaction holds.
    const uids: string[] = [];
    for (let i = 0; i < 45; i += 1) uids.push(await login(creditCode));
    const pending = (await Promise.all(uids.map(storedContext))).map((item) => pendingLogin(marshall(item))) as PendingLogin[];
    expect(pending.every(Boolean)).toBe(true);

    const runs = await Promise.all([publishLoginEvents(), publishPendingLogins(pending), publishPendingLogins([...pending].reverse())]);
    // A publisher that gave up on a contended batch leaves it pending, and the next run takes it.
    await publishLoginEvents();
    const events = loginEventsOf(await eventsSince(head), creditCode);
    expect(events).toHaveLength(45);
    const [today] = await readLoginStats(1);
    expect(today.byClient['outbox-platform'] - clientCountBefore).toBe(45);
    expect(runs.reduce((sum, run) => sum + run.published, 0)).toBeLessThanOrEqual(45);
    const seqs = (await eventsSince(head)).map((event) => event.seq);
    expect(seqs).toEqual(seqs.map((_, index) => head + index + 1));
    expect((await publishLoginEvents()).published).toBe(0);
  });

  it('publishes logins from table stream records', async () => {
    const creditCode = randomCreditCode();
    const head = await readFeedHead();
    const uid = await login(creditCode);
    const image = marshall(await storedContext(uid));
    const record = { eventSource: 'aws:dynamodb', eventName: 'INSERT', dynamodb: { NewImage: image } };
    const stream = { Records: [record, record] } as unknown as DynamoDBStreamEvent;
    // A stream batch delivered twice still publishes once.
    await dispatcherLambda(stream);
    await dispatcherLambda(stream);
    expect(loginEventsOf(await eventsSince(head), creditCode)).toHaveLength(1);
    expect((await storedContext(uid)).gsi3pk).toBeUndefined();
  });

  it('leaves fresh logins to the stream when the sweep runs', async () => {
    const creditCode = randomCreditCode();
    const head = await readFeedHead();
    const uid = await login(creditCode);
    await dispatcherLambda({ source: 'aws.events', 'detail-type': 'Scheduled Event' } as never);
    expect(loginEventsOf(await eventsSince(head), creditCode)).toHaveLength(0);
    expect((await storedContext(uid)).gsi3pk).toBe('LOGINOUTBOX');
    await publishLoginEvents();
    expect(loginEventsOf(await eventsSince(head), creditCode)).toHaveLength(1);
  });
});
