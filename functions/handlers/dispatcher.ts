import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamEvent, ScheduledEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { readFeedHead } from '../db/events.js';
import { ensureConsumer, listConsumers } from '../db/push-subscriptions.js';
import { INTERNAL_CONSUMERS, handlerFor } from '../feed/consumers.js';
import { pendingLogin, publishLoginEvents, publishPendingLogins } from '../feed/login-outbox.js';
import { runConsumer } from '../feed/dispatcher.js';
import { wakeConsumers, type WakeMessage } from '../feed/wake.js';
import { log } from '../lib/log.js';

/**
 * Lambda entry points of the push dispatcher on AWS, all in one function
 * whose `handler` passes each event to the entry point for its source:
 *
 *   table stream (NEW_IMAGE) -> streamHandler -> SQS queue (DELIVERY_QUEUE_URL) -> deliveryHandler
 *   schedule (every minute)  -> sweepHandler  -> SQS queue
 *
 * Queue messages are JSON `{"consumer": "<platform client id or internal:name>"}`
 * (WakeMessage). They only say "deliver to this consumer": the events
 * themselves are read from the feed after the consumer's stored cursor, so a
 * lost, repeated or reordered message never loses or reorders an event. The
 * queue needs a dead-letter queue for messages whose handling keeps throwing
 * (not for failed deliveries, which the consumer's own retry state covers);
 * its visibility timeout must exceed FEED_RUN_BUDGET_MS plus one request timeout.
 */

let internalReady: Promise<void> | undefined;

/** Create the internal consumers once per instance, starting at the current head when new. */
function ensureInternalConsumers(): Promise<void> {
  internalReady ??= (async () => {
    const head = await readFeedHead();
    for (const id of INTERNAL_CONSUMERS) await ensureConsumer(id, head);
  })().catch((error) => {
    internalReady = undefined;
    throw error;
  });
  return internalReady;
}

async function activeConsumerIds(): Promise<string[]> {
  await ensureInternalConsumers();
  return (await listConsumers()).filter((consumer) => consumer.status !== 'dead-letter').map((consumer) => consumer.id);
}

/**
 * Handle a batch of table stream records: publish the login events of new
 * logins from the outbox, and when the batch contains a new feed event, wake
 * every consumer that is not in the dead-letter state. Other records (every
 * other item kind shares the table) are ignored.
 */
export async function streamHandler(event: DynamoDBStreamEvent): Promise<void> {
  // Each login's stream record reaches one invocation, so publishing from it rarely races another publisher.
  // Publishing commits feed events, whose own stream records wake the consumers.
  const logins = event.Records.flatMap((record) =>
    record.eventName === 'INSERT' && record.dynamodb?.NewImage ? (pendingLogin(record.dynamodb.NewImage as Record<string, AttributeValue>) ?? []) : [],
  );
  if (logins.length > 0) await publishPendingLogins(logins);
  const newEvents = event.Records.filter((record) => record.eventName === 'INSERT' && record.dynamodb?.NewImage?.kind?.S === 'event');
  if (newEvents.length === 0) return;
  const ids = await activeConsumerIds();
  await wakeConsumers(ids);
  log.debug('feed events woke the dispatcher', { events: newEvents.length, consumers: ids.length });
}

/**
 * Run delivery for the consumers named in a batch of queue messages. A run
 * that must retry later sends a delayed message for itself (SQS delays by at
 * most 15 minutes; the sweep covers longer backoffs). A message whose run
 * throws is reported as a batch item failure, so SQS retries it and finally
 * moves it to the dead-letter queue.
 */
export async function deliveryHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const byConsumer = new Map<string, string[]>();
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    let message: WakeMessage;
    try {
      message = JSON.parse(record.body) as WakeMessage;
      if (typeof message.consumer !== 'string' || message.consumer === '') throw new Error('no consumer');
    } catch (error) {
      // A malformed message can never succeed; it is logged and dropped rather than retried.
      log.error('dispatcher queue message is not {"consumer": "<id>"}', { messageId: record.messageId, error });
      continue;
    }
    byConsumer.set(message.consumer, [...(byConsumer.get(message.consumer) ?? []), record.messageId]);
  }
  await Promise.all(
    [...byConsumer].map(async ([consumer, messageIds]) => {
      try {
        const outcome = await runConsumer(consumer, handlerFor(consumer));
        if (outcome.state === 'retry' && outcome.retryAt) await wakeConsumers([consumer], outcome.retryAt - Date.now());
        if (outcome.state === 'budget' || outcome.state === 'lost') await wakeConsumers([consumer]);
      } catch (error) {
        log.error('feed delivery run failed', { consumer, error });
        failures.push(...messageIds.map((itemIdentifier) => ({ itemIdentifier })));
      }
    }),
  );
  return { batchItemFailures: failures };
}

/**
 * Publish login events left in the outbox and wake, from a schedule, every
 * consumer that is behind the feed head or due for a retry. This is the safety
 * net for lost stream batches, dropped wake-ups and backoffs longer than the
 * queue's maximum delay.
 */
export async function sweepHandler(): Promise<void> {
  await ensureInternalConsumers();
  // Entries younger than a minute are left to the stream records still on their way.
  const outbox = await publishLoginEvents({ minAgeMs: 60_000 });
  if (outbox.published > 0) log.info('login events published by the sweep', { ...outbox });
  const head = await readFeedHead();
  const now = Date.now();
  const due = (await listConsumers())
    .filter((consumer) => consumer.status !== 'dead-letter')
    .filter((consumer) => consumer.cursor < head && (consumer.nextAttemptAt === undefined || consumer.nextAttemptAt <= now))
    .map((consumer) => consumer.id);
  await wakeConsumers(due);
  log.info('feed sweep', { head, woken: due.length });
}

/** Any event the dispatcher function is invoked with. */
export type DispatcherEvent = DynamoDBStreamEvent | SQSEvent | ScheduledEvent;

/**
 * Lambda entry point of the dispatcher function: passes table stream batches
 * to streamHandler, queue batches to deliveryHandler and scheduled events to
 * sweepHandler. Throws on any other event, so a wrong trigger shows up as a
 * function error instead of being ignored.
 */
export async function handler(event: DispatcherEvent): Promise<SQSBatchResponse | void> {
  if ('Records' in event && Array.isArray(event.Records)) {
    const sources = new Set(event.Records.map((record) => record.eventSource));
    if (sources.size === 0) return;
    if (sources.size === 1 && sources.has('aws:dynamodb')) return streamHandler(event as DynamoDBStreamEvent);
    if (sources.size === 1 && sources.has('aws:sqs')) return deliveryHandler(event as SQSEvent);
    throw new Error(`the dispatcher cannot handle records from ${[...sources].join(', ')}; it handles aws:dynamodb and aws:sqs records`);
  }
  if ('detail-type' in event && event['detail-type'] === 'Scheduled Event') return sweepHandler();
  throw new Error('the dispatcher received an event that is neither a table stream batch, a queue batch nor a scheduled event');
}
