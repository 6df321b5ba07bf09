/**
 * Feed benchmark: delay from a change to its appearance in the feed and to its
 * delivery at 79 push receivers, and sustained event throughput.
 *
 *   npx tsx bench/feed.ts [changes=200] [rate=5] [bulkEvents=2500] [receivers=79]
 *
 * Everything runs on this machine: DynamoDB Local (in memory), the local host
 * with its in-process dispatcher, 79 receivers on 127.0.0.1 and a pull reader.
 * Baselines run in the same process and are reported next to each figure:
 * the change request's own round trip for the delays, and the same
 * transactions without the feed head and events (alternating batch by batch,
 * before any consumer exists) for commit throughput.
 *
 * Arguments: changes, changes per second, bulk events, receivers (default 79).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { dynamo, tableName } from '../functions/db/client.js';
import { commitWithEvents, readEvents } from '../functions/db/events.js';
import { EVENT_TYPES } from '../functions/lib/event-types.js';
import { savePlatformClient } from '../functions/services/clients.js';
import { postJson } from '../infra/local/journey.js';
import { startLocalService } from '../infra/local/service.js';
import { randomCreditCode } from '../test/helpers/codes.js';

const RECEIVERS = Number(process.argv[5] ?? 79);
const changes = Number(process.argv[2] ?? 200);
const rate = Number(process.argv[3] ?? 5);
const bulkEvents = Number(process.argv[4] ?? 2500);

process.env.LOG_LEVEL ??= 'error';
process.env.TABLE_NAME = `bench_${randomBytes(4).toString('hex')}`;
const tmp = await mkdtemp(join(tmpdir(), 'tif-bench-'));
const service = await startLocalService({ keysFile: join(tmp, 'oidc-keys.json'), port: 0 });

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const summary = (values: number[]) => ({ p50: quantile(values, 0.5), p99: quantile(values, 0.99), max: Math.max(...values) });
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function platformToken(): Promise<string> {
  const clientId = `bench-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  await savePlatformClient({ client_id: clientId, client_secret: secret, client_name: clientId, redirect_uris: [], response_types: [], grant_types: ['client_credentials'], scope: 'feed:read' });
  const configuration = await client.discovery(new URL(service.url), clientId, undefined, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
  return (await client.clientCredentialsGrant(configuration, { scope: 'feed:read' })).access_token;
}

// Part 0, before any consumer exists: commit throughput of 25-event transactions (a CA import batch)
// against the same 25 puts without the feed head and events, batches alternating so both see the same load.
let withEventsMs = 0;
let withoutEventsMs = 0;
for (let done = 0; done < bulkEvents; done += 25) {
  const size = Math.min(25, bulkEvents - done);
  const events = Array.from({ length: size }, (_, i) => {
    const code = randomCreditCode();
    return { type: EVENT_TYPES.enterpriseUpdated, creditCode: code, enterpriseSeq: 1, data: { creditCode: code, batch: done, i } };
  });
  let begin = performance.now();
  await commitWithEvents([], events);
  withEventsMs += performance.now() - begin;
  const items = Array.from({ length: size }, (_, i) => ({
    Put: { TableName: tableName(), Item: marshall({ pk: `BASELINE#${done + i}`, sk: 'BASELINE', data: { batch: done, i } }) },
  }));
  begin = performance.now();
  await dynamo().send(new TransactWriteItemsCommand({ TransactItems: items }));
  withoutEventsMs += performance.now() - begin;
}

/** creditCode -> arrival times (performance.now()) at each receiver. */
const arrivals = new Map<string, number[]>();
let delivered = 0;
const servers: Server[] = [];
for (let i = 0; i < RECEIVERS; i += 1) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const payload = decodeJwt(Buffer.concat(chunks).toString()) as { sub_id?: { id: string } };
      const code = payload.sub_id?.id ?? '';
      const list = arrivals.get(code) ?? [];
      list.push(at);
      arrivals.set(code, list);
      delivered += 1;
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  servers.push(server);
  const token = await platformToken();
  const response = await fetch(`${service.url}/api/feed/push`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, cursor: 'head' }),
  });
  if (response.status !== 201) throw new Error(`push registration failed: ${response.status} ${await response.text()}`);
}

// Pull reader: reads the feed after its cursor in a tight loop, as a platform polling hard would.
const reader = await platformToken();
const seenInFeed = new Map<string, number>();
let readerCursor = (await readEvents(0, 1)).head;
let reading = true;
const pull = (async () => {
  while (reading) {
    const response = await fetch(`${service.url}/api/feed/events?after=${readerCursor}&limit=1000`, { headers: { authorization: `Bearer ${reader}` } });
    const page = (await response.json()) as { sets: { set: string }[]; cursor: number };
    const at = performance.now();
    for (const item of page.sets) {
      const code = (decodeJwt(item.set) as { sub_id?: { id: string } }).sub_id?.id ?? '';
      if (!seenInFeed.has(code)) seenInFeed.set(code, at);
    }
    readerCursor = page.cursor;
    if (page.sets.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
})();

// Part 1: paced changes (registrations over HTTP), each producing one event.
const started = new Map<string, number>();
const requestTimes: number[] = [];
const pending: Promise<void>[] = [];
const t0 = performance.now();
for (let i = 0; i < changes; i += 1) {
  const due = t0 + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const code = randomCreditCode();
  const begin = performance.now();
  started.set(code, begin);
  pending.push(
    postJson(`${service.url}/api/enterprises`, { creditCode: code, name: '基准测试有限公司', legalRepresentative: '王五', contact: { name: '赵六', phone: '0755-12345678' } }).then((response) => {
      if (response.status !== 201) throw new Error(`registration failed: ${response.status}`);
      requestTimes.push(performance.now() - begin);
    }),
  );
}
await Promise.all(pending);
const waitUntil = async (done: () => boolean, what: string) => {
  const deadline = Date.now() + 300_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
await waitUntil(() => [...started.keys()].every((code) => seenInFeed.has(code) && (arrivals.get(code)?.length ?? 0) >= RECEIVERS), 'every change at every receiver');

const feedDelays = [...started].map(([code, begin]) => seenInFeed.get(code)! - begin);
const deliveryDelays = [...started].flatMap(([code, begin]) => arrivals.get(code)!.slice(0, RECEIVERS).map((at) => at - begin));
const request = summary(requestTimes);
const feed = summary(feedDelays);
const delivery = summary(deliveryDelays);

// Part 2: delivery throughput: commit bulk events in 25-event transactions, wait until every receiver has them.
const deliveredBefore = delivered;
const bulkStart = performance.now();
for (let done = 0; done < bulkEvents; done += 25) {
  const events = Array.from({ length: Math.min(25, bulkEvents - done) }, (_, i) => {
    const code = randomCreditCode();
    return { type: EVENT_TYPES.enterpriseUpdated, creditCode: code, enterpriseSeq: 1, data: { creditCode: code, batch: done, i } };
  });
  await commitWithEvents([], events);
}
await waitUntil(() => delivered - deliveredBefore >= bulkEvents * RECEIVERS, 'bulk delivery');
const deliverSeconds = (performance.now() - bulkStart) / 1000;

reading = false;
await pull;
for (const server of servers) server.close();
await service.stop();

console.log(`feed benchmark: ${changes} changes at ${rate}/s, ${RECEIVERS} push receivers, ${bulkEvents} bulk events`);
console.log(`change request round trip (baseline)  p50 ${fmt(request.p50)}  p99 ${fmt(request.p99)}`);
console.log(`change -> feed (pull reader)          p50 ${fmt(feed.p50)}  p99 ${fmt(feed.p99)}  max ${fmt(feed.max)}  p99 ratio ${(feed.p99 / request.p99).toFixed(2)}`);
console.log(`change -> delivery (x${RECEIVERS})         p50 ${fmt(delivery.p50)}  p99 ${fmt(delivery.p99)}  max ${fmt(delivery.max)}  p99 ratio ${(delivery.p99 / request.p99).toFixed(2)}`);
console.log(`bulk commit, 25 events per transaction  ${((bulkEvents * 1000) / withEventsMs).toFixed(0)} events/s; baseline without events ${((bulkEvents * 1000) / withoutEventsMs).toFixed(0)} items/s; ratio ${(withoutEventsMs / withEventsMs).toFixed(2)}`);
console.log(`bulk delivery to ${RECEIVERS} receivers          ${((bulkEvents * RECEIVERS) / deliverSeconds).toFixed(0)} deliveries/s (${(bulkEvents / deliverSeconds).toFixed(0)} events/s to every receiver)`);
process.exit(0);
