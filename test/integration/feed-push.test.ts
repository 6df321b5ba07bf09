import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConsumer } from '../../functions/db/push-subscriptions.js';
import { commitSyntheticEvents, getJson, platformToken, sendJson, setVerifier, TestReceiver, eventually } from '../helpers/feed.js';
import { startTestService } from '../helpers/service.js';

// Short backoff, so that a receiver that comes back is retried within a fraction of a second.
process.env.FEED_RETRY_BASE_MS = '20';
process.env.FEED_RETRY_MAX_MS = '200';

let service: Awaited<ReturnType<typeof startTestService>>;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => {
  await service?.stop();
});

describe('feed push delivery', () => {
  it('delivers 10,000 events after an outage', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    const registered = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    expect(registered.status).toBe(201);
    await receiver.down();

    const committed = await commitSyntheticEvents(10_000, 100);
    const failing = await eventually(async () => {
      const consumer = await getConsumer(platform.clientId);
      return consumer?.status === 'failing' ? consumer : undefined;
    }, 'the consumer to fail while the receiver is down');
    expect(failing.lastError).toContain('ECONNREFUSED');
    expect(receiver.received).toHaveLength(0);

    await receiver.up();
    await receiver.waitFor(() => receiver.jtis.size >= committed.length, 'all 10,000 events at the receiver');

    const unique = new Map(receiver.received.map((set) => [String(set.payload.jti), set]));
    expect(unique.size).toBe(committed.length);
    expect([...unique.keys()].sort()).toEqual(committed.map((event) => event.jti).sort());
    // Duplicates carry the jti of the first delivery, so the receiver drops them.
    const duplicates = receiver.received.length - unique.size;
    expect(duplicates).toBeGreaterThanOrEqual(0);

    // After dropping duplicates, each enterprise's events arrive in order without gaps.
    const seen = new Set<string>();
    const lastByEnterprise = new Map<string, number>();
    for (const set of receiver.received) {
      const jti = String(set.payload.jti);
      if (seen.has(jti)) continue;
      seen.add(jti);
      const enterprise = set.payload.sub_id!.id;
      const previous = lastByEnterprise.get(enterprise) ?? 0;
      expect(set.payload.enterprise_seq).toBe(previous + 1);
      lastByEnterprise.set(enterprise, set.payload.enterprise_seq!);
    }
    expect(lastByEnterprise.size).toBe(100);

    // The cursor is saved when the dispatcher checkpoints, shortly after the last delivery.
    const status = await eventually(async () => {
      const current = await getJson(`${service.url}/api/feed/push`, platform.token);
      return current.body.behind === 0 ? current : undefined;
    }, 'the saved cursor to reach the head');
    expect(status.body.status).toBe('active');
    expect(status.body.delivered).toBeGreaterThanOrEqual(committed.length);
    expect((await sendJson('DELETE', `${service.url}/api/feed/push`, platform.token)).status).toBe(204);
    await receiver.down();
  }, 120_000);

  it('signs pushed events for jose against the JWKS', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    const [event] = await commitSyntheticEvents(1, 1);
    await receiver.waitFor(() => receiver.received.length >= 1, 'the pushed event');
    const payload = await setVerifier(service.url, platform.clientId)(receiver.received[0].token);
    expect(payload.jti).toBe(event.jti);
    expect(payload.seq).toBe(event.seq);
    expect(payload.events).toEqual({ [event.type]: event.data });
    await receiver.down();
  });
});
