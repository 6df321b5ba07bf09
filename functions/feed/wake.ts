import { SendMessageBatchCommand, SQSClient, type SendMessageBatchCommandOutput } from '@aws-sdk/client-sqs';
import { log } from '../lib/log.js';

/** Body of a dispatcher queue message: run delivery for this feed consumer. */
export interface WakeMessage {
  consumer: string;
}

/** How wake-ups reach the dispatcher: in-process on the local host, a queue message on AWS. */
export type Waker = (consumerIds: string[], delayMs?: number) => Promise<void>;

/** The part of the SQS client that wake-ups use. */
export interface QueueClient {
  send(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput>;
}

let localWaker: Waker | undefined;
let sqs: QueueClient | undefined;

/** Route wake-ups to an in-process dispatcher (the local host); undefined restores the queue. */
export function setWaker(waker: Waker | undefined): void {
  localWaker = waker;
}

/** Send queue messages with this client instead of one built from the environment; undefined restores the default. */
export function setQueueClient(client: QueueClient | undefined): void {
  sqs = client;
}

/** Environment variable with the URL of the dispatcher queue, set by the CDK stack on functions that send to it. */
export const QUEUE_URL_VARIABLE = 'DELIVERY_QUEUE_URL';

/** Longest delay SQS allows on a message, in seconds. */
const MAX_SQS_DELAY_SECONDS = 900;

/**
 * Ask the dispatcher to run delivery for the given consumers, after `delayMs`
 * when given (a negative delay counts as none). On AWS this sends one message
 * per consumer to the queue named by DELIVERY_QUEUE_URL, in batches of 10.
 * With neither that nor an in-process dispatcher, wake-ups are dropped and
 * the scheduled sweep finds the work.
 */
export async function wakeConsumers(consumerIds: string[], delayMs = 0): Promise<void> {
  if (consumerIds.length === 0) return;
  if (localWaker) return localWaker(consumerIds, delayMs);
  const queueUrl = process.env[QUEUE_URL_VARIABLE];
  if (!queueUrl) {
    log.debug(`no dispatcher to wake; ${QUEUE_URL_VARIABLE} is not set`, { consumers: consumerIds.length });
    return;
  }
  sqs ??= new SQSClient({});
  const delaySeconds = Math.max(0, Math.min(MAX_SQS_DELAY_SECONDS, Math.ceil(delayMs / 1000)));
  for (let i = 0; i < consumerIds.length; i += 10) {
    const batch = consumerIds.slice(i, i + 10);
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((consumer, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({ consumer } satisfies WakeMessage),
          DelaySeconds: delaySeconds,
        })),
      }),
    );
    if (result.Failed?.length) {
      throw new Error(`the dispatcher queue rejected ${result.Failed.length} wake-up messages: ${result.Failed.map((f) => f.Message ?? f.Code).join('; ')}`);
    }
  }
}
