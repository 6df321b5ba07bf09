import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitWithEvents, readFeedHead } from '../../functions/db/events.js';
import { deliveryView } from '../../functions/services/platform-clients.js';
import { getConsumer } from '../../functions/db/push-subscriptions.js';
import { setHostResolver } from '../../functions/feed/push-endpoint.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { randomCreditCode } from '../helpers/codes.js';
import { commitSyntheticEvents, eventually, getJson, platformToken, sendJson, TestReceiver } from '../helpers/feed.js';
import { startTestService } from '../helpers/service.js';

// A consumer that fails for 300 ms goes to the dead-letter state here (72 hours by default).
process.env.FEED_RETRY_BASE_MS = '20';
process.env.FEED_RETRY_MAX_MS = '100';
process.env.FEED_DEAD_LETTER_AFTER_MS = '300';

let service: Awaited<ReturnType<typeof startTestService>>;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => {
  await service?.stop();
});

describe('push endpoint registration', () => {
  it.each([
    ['http://example.com/events', 'uses http'],
    ['ftp://127.0.0.1/events', 'uses ftp:'],
    ['https://user:pw@example.com/events', 'user name or password'],
    ['not a url', 'not an absolute URL'],
  ])('rejects %s', async (endpoint, message) => {
    const platform = await platformToken(service.url);
    const response = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint });
    expect(response.status).toBe(400);
    expect(response.body.message).toContain(message);
  });

  it('rejects localhost in production', async () => {
    const platform = await platformToken(service.url);
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'trading-identity-test-feed';
    try {
      const https = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: 'https://localhost/events' });
      expect(https.status).toBe(400);
      expect(https.body.error).toBe('ENDPOINT_NOT_PUBLIC');
      expect(https.body.message).toMatch(/^endpoint https:\/\/localhost\/events resolves to (127\.0\.0\.1|::1) \(loopback/);
      expect(['127.0.0.1', '::1']).toContain(https.body.details.address);
      const http = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: `http://localhost:${service.port}/events` });
      expect(http.status).toBe(400);
      expect(http.body.message).toContain('uses http; use https');
    } finally {
      delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    }
    expect((await getJson(`${service.url}/api/feed/push`, platform.token)).status).toBe(404);
  });

  it('rejects a host with a private address', async () => {
    const platform = await platformToken(service.url);
    setHostResolver(async (hostname) => (hostname === 'push.platform.test' ? ['172.20.0.3'] : []));
    try {
      const response = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: 'https://push.platform.test/events' });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('ENDPOINT_NOT_PUBLIC');
      expect(response.body.message).toContain('https://push.platform.test/events resolves to 172.20.0.3 (private, 172.16.0.0/12)');
      const unknown = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: 'https://other.platform.test/events' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error).toBe('ENDPOINT_NOT_RESOLVED');
    } finally {
      setHostResolver(undefined);
    }
    expect((await getJson(`${service.url}/api/feed/push`, platform.token)).status).toBe(404);
  });

  it('rejects a cursor beyond the head', async () => {
    const platform = await platformToken(service.url);
    const response = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: 'http://localhost:9/events', cursor: 10 ** 9 });
    expect(response.status).toBe(400);
    expect(response.body.message).toContain('beyond the feed head');
  });

  it('accepts the same registration twice', async () => {
    const platform = await platformToken(service.url);
    const body = { endpoint: 'http://localhost:9/events', cursor: 'head' };
    const [first, second] = await Promise.all([1, 2].map(() => sendJson('PUT', `${service.url}/api/feed/push`, platform.token, body)));
    expect([200, 201]).toContain(first.status);
    expect([200, 201]).toContain(second.status);
    const status = await getJson(`${service.url}/api/feed/push`, platform.token);
    expect(status.body.endpoint).toBe(body.endpoint);
    expect((await sendJson('DELETE', `${service.url}/api/feed/push`, platform.token)).status).toBe(204);
    expect((await getJson(`${service.url}/api/feed/push`, platform.token)).status).toBe(404);
  });
});

describe('dead-letter state', () => {
  it('stops after a long outage and replays from a cursor', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    const registered = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    const start = registered.body.cursor as number;
    await receiver.down();
    const events = await commitSyntheticEvents(30, 3);

    const dead = await eventually(async () => {
      const consumer = await getConsumer(platform.clientId);
      return consumer?.status === 'dead-letter' ? consumer : undefined;
    }, 'the dead-letter state');
    expect(dead.cursor).toBe(start);

    const admin = await platformToken(service.url, 'admin');
    const deliveries = await getJson(`${service.url}/api/feed/deliveries`, admin.token);
    expect(deliveries.status).toBe(200);
    const shown = deliveries.body.consumers.find((consumer: any) => consumer.id === platform.clientId);
    expect(shown).toMatchObject({ status: 'dead-letter', endpoint: receiver.url, cursor: start });
    expect(shown.lastError).toContain('ECONNREFUSED');
    expect(shown.leaseOwner).toBeUndefined();
    expect((await getJson(`${service.url}/api/feed/deliveries`, platform.token)).status).toBe(403);

    await receiver.up();
    const replay = await sendJson('POST', `${service.url}/api/feed/push/replay`, platform.token, { cursor: start });
    expect(replay.status).toBe(200);
    expect(replay.body.status).toBe('active');
    await receiver.waitFor(() => events.every((event) => receiver.jtis.has(event.jti)), 'the replayed events');
    expect((await getConsumer(platform.clientId))?.status).toBe('active');
    await sendJson('DELETE', `${service.url}/api/feed/push`, platform.token);
    await receiver.down();
  });

  it('skips an event the receiver rejects', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    receiver.answerStatus = 400;
    const [rejected] = await commitSyntheticEvents(1, 1);
    const consumer = await eventually(async () => {
      const current = await getConsumer(platform.clientId);
      return current && current.rejected > 0 ? current : undefined;
    }, 'the rejection');
    expect(consumer.lastRejection?.jti).toBe(rejected.jti);
    // Operators see an endpoint that rejects events as such, although the consumer stays active.
    expect(consumer.status).toBe('active');
    expect(deliveryView(consumer, await readFeedHead()).status).toBe('rejecting');
    receiver.answerStatus = 202;
    const [accepted] = await commitSyntheticEvents(1, 1);
    await receiver.waitFor(() => receiver.jtis.has(accepted.jti), 'the next event');
    expect(receiver.jtis.has(rejected.jti)).toBe(false);
    const recovered = await eventually(async () => {
      const current = await getConsumer(platform.clientId);
      return current && current.delivered > 0 ? current : undefined;
    }, 'the delivery');
    expect(deliveryView(recovered, await readFeedHead()).status).toBe('active');
    await sendJson('DELETE', `${service.url}/api/feed/push`, platform.token);
    await receiver.down();
  });
});

describe('audit view', () => {
  it('queries by enterprise, CA and time', async () => {
    const admin = await platformToken(service.url, 'admin');
    const code = randomCreditCode();
    const caId = `audit-ca-${Date.now()}`;
    const [first] = await commitWithEvents([], [{ type: EVENT_TYPES.enterpriseRegistered, creditCode: code, enterpriseSeq: 1, data: { creditCode: code } }]);
    const [login] = await commitWithEvents([], [{ type: EVENT_TYPES.login, creditCode: code, data: { creditCode: code, clientId: 'p1', method: 'certificate' } }]);
    const [caEvent] = await commitWithEvents([], [{ type: EVENT_TYPES.caStatusChanged, caId, data: { caId, status: 'suspended' } }]);

    const byEnterprise = await getJson(`${service.url}/api/feed/audit?creditCode=${code}`, admin.token);
    expect(byEnterprise.status).toBe(200);
    expect(byEnterprise.body.events.map((event: any) => event.jti)).toEqual([first.jti, login.jti]);

    const logins = await getJson(`${service.url}/api/feed/audit?creditCode=${code}&type=${encodeURIComponent(EVENT_TYPES.login)}`, admin.token);
    expect(logins.body.events.map((event: any) => event.data.clientId)).toEqual(['p1']);

    const unknownType = await getJson(`${service.url}/api/feed/audit?type=nope`, admin.token);
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.details.field).toBe('type');
    const backwards = await getJson(`${service.url}/api/feed/audit?from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`, admin.token);
    expect(backwards.status).toBe(400);
    expect(backwards.body.details.field).toBe('from');

    const byCa = await getJson(`${service.url}/api/feed/audit?caId=${caId}`, admin.token);
    expect(byCa.body.events.map((event: any) => event.jti)).toEqual([caEvent.jti]);

    const byTime = await getJson(`${service.url}/api/feed/audit?from=${encodeURIComponent(caEvent.time)}&limit=1000`, admin.token);
    expect(byTime.body.events.map((event: any) => event.jti)).toContain(caEvent.jti);
    expect(byTime.body.events.every((event: any) => event.time >= caEvent.time)).toBe(true);

    const paged = await getJson(`${service.url}/api/feed/audit?creditCode=${code}&limit=1`, admin.token);
    expect(paged.body.events).toHaveLength(1);
    const next = await getJson(`${service.url}/api/feed/audit?creditCode=${code}&limit=1&next=${paged.body.next}`, admin.token);
    expect(next.body.events[0].jti).toBe(login.jti);
  });

  it('rejects bad parameters and platform tokens', async () => {
    const admin = await platformToken(service.url, 'admin');
    const badTime = await getJson(`${service.url}/api/feed/audit?from=yesterday`, admin.token);
    expect(badTime.status).toBe(400);
    expect(badTime.body.message).toContain('ISO 8601');
    const platform = await platformToken(service.url);
    expect((await getJson(`${service.url}/api/feed/audit`, platform.token)).status).toBe(403);
  });
});
