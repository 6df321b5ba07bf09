import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

/** A message as SQS stores it after SendMessageBatch. */
export interface QueuedMessage {
  messageId: string;
  queueUrl: string;
  body: string;
  delaySeconds: number;
}

const REGION = 'ap-east-1';
const ACCOUNT = '123456789012';

/**
 * The SendMessageBatch action of SQS on 127.0.0.1, for the real SQS client
 * (AWS JSON 1.0 protocol). It checks the limits SQS enforces on a batch (1 to
 * 10 entries, distinct ids, DelaySeconds from 0 to 900) and records every
 * message. `failNext` makes the next batch report its entries as failed.
 */
export class RecordingQueue {
  readonly messages: QueuedMessage[] = [];
  failNext = false;
  private server?: Server;
  private endpoint = '';

  get queueUrl(): string {
    return `${this.endpoint}/${ACCOUNT}/deliveries`;
  }

  /** Create a real SQS client that sends to this queue. */
  client(): SQSClient {
    return new SQSClient({ endpoint: this.endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const [status, body] = this.handle(String(request.headers['x-amz-target']), Buffer.concat(chunks).toString('utf8'));
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(target: string, text: string): [number, unknown] {
    const invalid = (message: string): [number, unknown] => [400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message }];
    if (target !== 'AmazonSQS.SendMessageBatch') return invalid(`unsupported action ${target}`);
    const request = JSON.parse(text) as { QueueUrl: string; Entries: { Id: string; MessageBody: string; DelaySeconds?: number }[] };
    if (request.QueueUrl !== this.queueUrl) return [400, { __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: `no queue ${request.QueueUrl}` }];
    if (!request.Entries?.length || request.Entries.length > 10) return invalid(`a batch holds 1 to 10 entries, got ${request.Entries?.length}`);
    if (new Set(request.Entries.map((entry) => entry.Id)).size !== request.Entries.length) return [400, { __type: 'com.amazonaws.sqs#BatchEntryIdsNotDistinct', message: 'entry ids are not distinct' }];
    for (const entry of request.Entries) {
      const delay = entry.DelaySeconds ?? 0;
      if (!Number.isInteger(delay) || delay < 0 || delay > 900) return invalid(`DelaySeconds ${delay} is not an integer from 0 to 900`);
    }
    if (this.failNext) {
      this.failNext = false;
      return [200, { Successful: [], Failed: request.Entries.map((entry) => ({ Id: entry.Id, SenderFault: false, Code: 'InternalError', Message: 'queue unavailable' })) }];
    }
    const successful = request.Entries.map((entry) => {
      const message = { messageId: randomUUID(), queueUrl: request.QueueUrl, body: entry.MessageBody, delaySeconds: entry.DelaySeconds ?? 0 };
      this.messages.push(message);
      return { Id: entry.Id, MessageId: message.messageId, MD5OfMessageBody: createHash('md5').update(entry.MessageBody).digest('hex') };
    });
    return [200, { Successful: successful, Failed: [] }];
  }

  /** Remove and return every recorded message. */
  take(): QueuedMessage[] {
    return this.messages.splice(0);
  }
}

/** Build the event Lambda receives for a batch of queue messages, as the SQS event source mapping does. */
export function sqsEvent(messages: { messageId?: string; body: string }[]): SQSEvent {
  const now = Date.now();
  return {
    Records: messages.map(
      (message): SQSRecord => ({
        messageId: message.messageId ?? randomUUID(),
        receiptHandle: randomUUID(),
        body: message.body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(now),
          SenderId: 'AROAEXAMPLE:trading-identity-test-dispatcher',
          ApproximateFirstReceiveTimestamp: String(now),
        },
        messageAttributes: {},
        md5OfBody: createHash('md5').update(message.body).digest('hex'),
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:deliveries`,
        awsRegion: REGION,
      }),
    ),
  };
}
