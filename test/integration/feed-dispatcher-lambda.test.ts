import { randomUUID } from 'node:crypto';
import { GetItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamo, tableName } from '../../functions/db/client.js';
import { feedPartition, feedSortKey, readFeedHead, type StoredEvent } from '../../functions/db/events.js';
import { ensureConsumer, getConsumer, putConsumer } from '../../functions/db/push-subscriptions.js';
import { SESSIONS_CONSUMER } from '../../functions/feed/session-revocation.js';
import { QUEUE_URL_VARIABLE, setQueueClient } from '../../functions/feed/wake.js';
import { handler } from '../../functions/handlers/dispatcher.js';
import { commitSyntheticEvents, platformToken, sendJson, TestReceiver } from '../helpers/feed.js';
import { RecordingQueue, sqsEvent, type QueuedMessage } from '../helpers/queue.js';
import { startTestService } from '../helpers/service.js';

// Without the in-process dispatcher, wake-ups go to the queue, as in a Lambda function.
let service: Awaited<ReturnType<typeof startTestService>>;
const queue = new RecordingQueue();

beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
  await queue.start();
  process.env[QUEUE_URL_VARIABLE] = queue.queueUrl;
  setQueueClient(queue.client());
});
afterAll(async () => {
  setQueueClient(undefined);
  delete process.env[QUEUE_URL_VARIABLE];
  await queue.stop();
  await service?.stop();
});
beforeEach(() => {
  queue.take();
});

/** Read an item of the table as DynamoDB stores it, for a stream record's image. */
async function storedItem(key: Record<string, string>): Promise<Record<string, AttributeValue>> {
  const result = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(key), ConsistentRead: true }));
  if (!result.Item) throw new Error(`item ${JSON.stringify(key)} not found`);
  return result.Item;
}

let sequenceNumber = 1000;

/** Build a table stream record as the DynamoDB event source mapping delivers it (stream view NEW_AND_OLD_IMAGES). */
function streamRecord(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', item: Record<string, AttributeValue>): DynamoDBRecord {
  sequenceNumber += 1;
  // aws-lambda declares its own AttributeValue type, with the same JSON shape as the SDK's.
  const image = (value: Record<string, AttributeValue>) => value as never;
  return {
    eventID: randomUUID().replace(/-/g, ''),
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'ap-east-1',
    eventSourceARN: `arn:aws:dynamodb:ap-east-1:123456789012:table/${tableName()}/stream/2025-01-01T00:00:00.000`,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: image({ pk: item.pk, sk: item.sk }),
      ...(eventName !== 'REMOVE' ? { NewImage: image(item) } : {}),
      ...(eventName !== 'INSERT' ? { OldImage: image(item) } : {}),
      SequenceNumber: String(sequenceNumber).padStart(21, '0'),
      SizeBytes: JSON.stringify(item).length,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const eventItem = (event: StoredEvent) => storedItem({ pk: feedPartition(event.seq), sk: feedSortKey(event.seq) });
const consumerItem = (id: string) => storedItem({ pk: `PUSH#${id}`, sk: 'PUSH' });

const scheduledEvent = (): ScheduledEvent => ({
  version: '0',
  id: randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'ap-east-1',
  resources: ['arn:aws:events:ap-east-1:123456789012:rule/trading-identity-test-dispatcherSchedule'],
  detail: {},
});

const woken = (messages: QueuedMessage[]) => messages.map((message) => (JSON.parse(message.body) as { consumer: string }).consumer).sort();

async function setStatus(id: string, status: 'dead-letter' | 'failing', nextAttemptAt?: number): Promise<void> {
  await dynamo().send(
    new UpdateItemCommand({
      TableName: tableName(),
      Key: marshall({ pk: `PUSH#${id}`, sk: 'PUSH' }),
      UpdateExpression: nextAttemptAt === undefined ? 'SET #status = :status' : 'SET #status = :status, nextAttemptAt = :next',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: marshall(nextAttemptAt === undefined ? { ':status': status } : { ':status': status, ':next': nextAttemptAt }),
    }),
  );
}

describe('dispatcher Lambda entry points', () => {
  it('registration wakes the consumer through the queue', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    const registered = await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    expect(registered.status).toBe(201);
    const [message, ...rest] = queue.take();
    expect(rest).toEqual([]);
    expect(message.queueUrl).toBe(queue.queueUrl);
    expect(JSON.parse(message.body)).toEqual({ consumer: platform.clientId });
    expect(message.delaySeconds).toBe(0);
    await receiver.down();
  });

  it('stream wakes active consumers on feed events only', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const active = await platformToken(service.url);
    await sendJson('PUT', `${service.url}/api/feed/push`, active.token, { endpoint: receiver.url, cursor: 'head' });
    const stopped = await platformToken(service.url);
    await sendJson('PUT', `${service.url}/api/feed/push`, stopped.token, { endpoint: receiver.url, cursor: 'head' });
    await setStatus(stopped.clientId, 'dead-letter');
    queue.take();

    // Cursor saves and other item changes also reach the table stream, and they wake no consumer.
    const others: DynamoDBStreamEvent = { Records: [streamRecord('MODIFY', await consumerItem(active.clientId)), streamRecord('REMOVE', await consumerItem(stopped.clientId))] };
    await expect(handler(others)).resolves.toBeUndefined();
    expect(queue.take()).toEqual([]);

    const [event] = await commitSyntheticEvents(1, 1);
    await handler({ Records: [streamRecord('MODIFY', await consumerItem(active.clientId)), streamRecord('INSERT', await eventItem(event))] });
    const messages = queue.take();
    const ids = woken(messages);
    expect(ids).toContain(active.clientId);
    expect(ids).toContain(SESSIONS_CONSUMER);
    expect(ids).not.toContain(stopped.clientId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(messages.every((message) => message.delaySeconds === 0)).toBe(true);
    await receiver.down();
  });

  it('stream batch fails when the queue rejects messages', async () => {
    const [event] = await commitSyntheticEvents(1, 1);
    queue.failNext = true;
    await expect(handler({ Records: [streamRecord('INSERT', await eventItem(event))] })).rejects.toThrow(/rejected \d+ wake-up messages: queue unavailable/);
  });

  it('delivery pushes the events the stream announced', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    queue.take();
    const events = await commitSyntheticEvents(30, 3);
    await handler({ Records: await Promise.all(events.map(async (event) => streamRecord('INSERT', await eventItem(event)))) });
    const mine = queue.take().filter((message) => JSON.parse(message.body).consumer === platform.clientId);
    expect(mine).toHaveLength(1);

    // The same message twice and a malformed one in one batch: one run, nothing to retry.
    const batch = sqsEvent([mine[0], { body: mine[0].body }, { body: 'not json' }, { body: '{"consumer": 7}' }]);
    const response = await handler(batch);
    expect(response).toEqual({ batchItemFailures: [] });
    expect([...receiver.jtis].sort()).toEqual(events.map((event) => event.jti).sort());
    const consumer = await getConsumer(platform.clientId);
    expect(consumer?.cursor).toBe(await readFeedHead());
    expect(consumer?.status).toBe('active');
    expect(consumer?.leaseOwner).toBeUndefined();
    expect(queue.take()).toEqual([]);
    await receiver.down();
  });

  it('delivery failure sends a delayed message', async () => {
    const receiver = new TestReceiver();
    await receiver.up();
    const platform = await platformToken(service.url);
    await sendJson('PUT', `${service.url}/api/feed/push`, platform.token, { endpoint: receiver.url, cursor: 'head' });
    await receiver.down();
    queue.take();
    await commitSyntheticEvents(2, 1);

    const response = await handler(sqsEvent([{ body: JSON.stringify({ consumer: platform.clientId }) }]));
    expect(response).toEqual({ batchItemFailures: [] });
    const consumer = await getConsumer(platform.clientId);
    expect(consumer?.status).toBe('failing');
    expect(consumer?.lastError).toContain('ECONNREFUSED');
    const [retry, ...rest] = queue.take();
    expect(rest).toEqual([]);
    expect(JSON.parse(retry.body)).toEqual({ consumer: platform.clientId });
    expect(retry.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(retry.delaySeconds).toBeLessThanOrEqual(900);
  });

  it('delivery reports a run that throws', async () => {
    // A platform consumer without an endpoint cannot be delivered to: its run throws.
    const broken = `platform-${randomUUID().slice(0, 8)}`;
    await ensureConsumer(broken, 0);
    await commitSyntheticEvents(1, 1);
    const fine = sqsEvent([{ body: JSON.stringify({ consumer: SESSIONS_CONSUMER }) }]).Records[0];
    const failing = sqsEvent([{ body: JSON.stringify({ consumer: broken }) }]).Records[0];
    const response = await handler({ Records: [fine, failing] });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: failing.messageId }] });
    expect((await getConsumer(broken))?.leaseOwner).toBeUndefined();
  });

  it('sweep wakes consumers that are behind and due', async () => {
    const head = await readFeedHead();
    const id = () => `platform-${randomUUID().slice(0, 8)}`;
    const [behind, waiting, dead, caughtUp, due] = [id(), id(), id(), id(), id()];
    for (const consumer of [behind, waiting, dead, due]) await putConsumer(consumer, { endpoint: 'http://127.0.0.1:9/events', cursor: Math.max(0, head - 1) });
    await putConsumer(caughtUp, { endpoint: 'http://127.0.0.1:9/events', cursor: head });
    await setStatus(waiting, 'failing', Date.now() + 3_600_000);
    await setStatus(due, 'failing', Date.now() - 1000);
    await setStatus(dead, 'dead-letter');
    queue.take();

    await expect(handler(scheduledEvent())).resolves.toBeUndefined();
    const ids = woken(queue.take());
    expect(ids).toContain(behind);
    expect(ids).toContain(due);
    expect(ids).not.toContain(waiting);
    expect(ids).not.toContain(dead);
    expect(ids).not.toContain(caughtUp);
  });

  it('rejects an event from another source', async () => {
    await expect(handler({ Records: [{ eventSource: 'aws:s3' }] } as never)).rejects.toThrow(/cannot handle records from aws:s3/);
    await expect(handler({ hello: 'world' } as never)).rejects.toThrow(/neither a table stream batch/);
    await expect(handler({ Records: [] })).resolves.toBeUndefined();
  });
});
