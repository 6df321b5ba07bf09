/**
 * Measure the CPU of DynamoDB Local per imported certificate, by the way the
 * import's items are written. Every variant writes the items of new
 * certificates of new enterprises into one DynamoDB Local in memory. These
 * are the enterprise record with its name index entry, the subject mapping,
 * the binding with its three index entries, and a certificates-imported
 * event per transaction. The variants take turns within each round, so load on the
 * machine affects them alike.
 *
 *   npx tsx bench/import-storage.ts [certificates per variant and round] [rounds]
 *
 * Defaults: 1600 certificates, 5 rounds. Variants:
 *   import        storeAccepted as the CA sync API calls it: 4 batches of 200
 *                 at once, each read first (BatchGetItem), then packed
 *                 transactions of up to 32 certificates with the feed head
 *   import-1      as import, one batch at a time
 *   tx-N          the same items in transactions of N certificates (with feed
 *                 head and event), without the reads
 *   tx-32-nocond  as tx-32 with the conditions on the own items left out
 *   batch         the same items and one event per 32 certificates in
 *                 BatchWriteItem, 25 items per request, no conditions
 *   batch-noindex as batch without the index attributes
 *   raw           one 1,500-byte item without indexes per certificate, as the
 *                 raw baseline of bench/import.ts
 *   reads         only the reads of the import: certificate and enterprise
 *                 keys of new certificates, 100 per BatchGetItem
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { BatchGetItemCommand, BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, type TransactWriteItem, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { certificateKey, putNewBinding, type CertificateBinding } from '../functions/db/certificates.js';
import { setDynamoClient, tableName } from '../functions/db/client.js';
import { enterpriseKey, newSubject, putNewEnterprise, type Enterprise } from '../functions/db/enterprises.js';
import { commitBuiltWithEvents, type DomainEvent } from '../functions/db/events.js';
import { EVENT_TYPES } from '../functions/lib/event-types.js';
import { storeAccepted, type AcceptedCertificate } from '../functions/services/ca-import-store.js';
import { startDynamoDbLocal } from '../infra/local/dynamodb-local.js';
import { ensureTable } from '../infra/local/tables.js';

process.env.LOG_LEVEL = 'error';
const perRound = Number(process.argv[2] ?? 1600);
const rounds = Number(process.argv[3] ?? 5);

const db = await startDynamoDbLocal();
const client = new DynamoDBClient({ endpoint: db.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
setDynamoClient(client);
process.env.TABLE_NAME = 'storage-bench';
await ensureTable(client, tableName());
await client.send(
  new CreateTableCommand({
    TableName: 'raw-baseline',
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }),
);
const javaPid = await dynamoDbLocalPid(db.port);
if (javaPid === undefined) throw new Error('the DynamoDB Local JVM was not found in /proc; this bench needs Linux');

let serial = 0;
const now = new Date().toISOString();

/** Build a binding of the size an imported ECDSA or SM2 leaf has (PEM of about 900 characters), with its new enterprise. */
function newBinding(): { binding: CertificateBinding; enterprise: Enterprise } {
  serial += 1;
  const creditCode = `9144${String(serial).padStart(13, '0')}X`;
  const fingerprint = randomBytes(32).toString('hex');
  const binding: CertificateBinding = {
    fingerprint,
    creditCode,
    subject: `CN=企业${serial}, SERIALNUMBER=${creditCode}, O=企业${serial}, C=CN`,
    issuer: 'CN=Bench CA 1, O=Bench CA 1, C=CN',
    serial: serial.toString(16).toUpperCase(),
    issuerNameHash: randomBytes(32).toString('hex'),
    notBefore: now,
    notAfter: new Date(Date.now() + 365 * 86400_000).toISOString(),
    caId: 'bench-ec-1',
    anchorSpkiHash: randomBytes(32).toString('hex'),
    pem: `-----BEGIN CERTIFICATE-----\n${randomBytes(640).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`,
    status: 'active',
    boundAt: now,
    source: 'ca',
  };
  const enterprise: Enterprise = {
    creditCode,
    sub: newSubject(),
    detailsConfirmed: false,
    status: 'verified',
    source: 'ca',
    registeredAt: now,
    verifiedAt: now,
    updatedAt: now,
    version: 1,
    certifiedName: `企业${serial}`,
  };
  return { binding, enterprise };
}

/** Build the certificates-imported event of a transaction as ca-import-store.ts does. */
function importEvent(certificates: { binding: CertificateBinding; enterprise: Enterprise }[]): DomainEvent {
  return {
    type: EVENT_TYPES.certificatesImported,
    caId: 'bench-ec-1',
    data: {
      caId: 'bench-ec-1',
      source: 'ca',
      enterprises: certificates.map(({ binding, enterprise }) => ({
        creditCode: binding.creditCode,
        enterpriseSeq: 1,
        created: true,
        verified: true,
        status: 'verified',
        name: enterprise.certifiedName,
        detailsConfirmed: false,
        certificates: [{ fingerprint: binding.fingerprint, serial: binding.serial, issuer: binding.issuer, notAfter: binding.notAfter }],
      })),
    },
  };
}

function ownItems(certificates: { binding: CertificateBinding; enterprise: Enterprise }[], firstSeq: number): TransactWriteItem[] {
  return [
    ...certificates.flatMap(({ enterprise }) => putNewEnterprise(enterprise)),
    ...certificates.map(({ binding }) => putNewBinding({ ...binding, importSeq: firstSeq })),
  ];
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Run `work` on each part with 4 parts in flight, as the CLI's 4 batches are. */
async function fourAtOnce<T>(parts: T[], work: (part: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < parts.length) await work(parts[next++]);
    }),
  );
}

async function batchWrite(table: string, requests: WriteRequest[]): Promise<void> {
  await fourAtOnce(chunks(requests, 25), async (chunk) => {
    let pending = chunk;
    while (pending.length) {
      const result = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = result.UnprocessedItems?.[table] ?? [];
    }
  });
}

async function transactions(size: number, withConditions: boolean): Promise<void> {
  const certificates = Array.from({ length: perRound }, newBinding);
  // Transactions of one process commit one at a time on the feed head, so a single sequence matches the service.
  for (const part of chunks(certificates, size)) {
    await commitBuiltWithEvents((firstSeq) => {
      const items = ownItems(part, firstSeq);
      if (!withConditions) for (const item of items) delete item.Put!.ConditionExpression;
      return items;
    }, [importEvent(part)]);
  }
}

async function storeBatches(inFlight: number): Promise<void> {
  const accepted: AcceptedCertificate[] = Array.from({ length: perRound }, (_, index) => ({ index, binding: newBinding().binding, organization: `企业${serial}` }));
  const batches = chunks(accepted, 200);
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches.length) {
        await storeAccepted(batches[next++], (_item, outcome) => {
          if (outcome.status !== 'imported') throw new Error(`storeAccepted reported ${JSON.stringify(outcome)}`);
        });
      }
    }),
  );
}

const variants: Record<string, () => Promise<void>> = {
  import: () => storeBatches(4),
  'import-1': () => storeBatches(1),
  'tx-8': () => transactions(8, true),
  'tx-16': () => transactions(16, true),
  'tx-32': () => transactions(32, true),
  'tx-32-nocond': () => transactions(32, false),
  batch: async () => {
    const certificates = Array.from({ length: perRound }, newBinding);
    const requests: WriteRequest[] = [];
    for (const part of chunks(certificates, 32)) {
      for (const item of ownItems(part, 1)) requests.push({ PutRequest: { Item: item.Put!.Item! } });
      const event = importEvent(part);
      requests.push({ PutRequest: { Item: marshall({ pk: `FEEDBENCH#${serial}`, sk: '0', kind: 'event', type: event.type, caId: event.caId, data: event.data, gsi2pk: `EVT#CA#${event.caId}`, gsi2sk: now }) } });
    }
    await batchWrite(tableName(), requests);
  },
  'batch-noindex': async () => {
    const certificates = Array.from({ length: perRound }, newBinding);
    const requests: WriteRequest[] = [];
    for (const part of chunks(certificates, 32)) {
      for (const item of ownItems(part, 1)) {
        const { gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, ...rest } = item.Put!.Item!;
        requests.push({ PutRequest: { Item: rest } });
      }
      const event = importEvent(part);
      requests.push({ PutRequest: { Item: marshall({ pk: `FEEDBENCH#${serial}`, sk: '0', kind: 'event', type: event.type, caId: event.caId, data: event.data }) } });
    }
    await batchWrite(tableName(), requests);
  },
  raw: async () => {
    const payload = 'x'.repeat(1500);
    const requests = Array.from({ length: perRound }, () => ({ PutRequest: { Item: { pk: { S: `CERT#${(serial += 1)}` }, sk: { S: 'CERT' }, pem: { S: payload } } } }));
    await batchWrite('raw-baseline', requests);
  },
  reads: async () => {
    const certificates = Array.from({ length: perRound }, newBinding);
    const keys = certificates.flatMap(({ binding }) => [certificateKey(binding.fingerprint), enterpriseKey(binding.creditCode)]);
    await fourAtOnce(chunks(keys, 100), async (chunk) => {
      await client.send(new BatchGetItemCommand({ RequestItems: { [tableName()]: { Keys: chunk.map((key) => marshall(key)), ConsistentRead: true } } }));
    });
  },
};

// Warm the JVM up on every variant first, because a fresh JVM spends seconds compiling each code path.
for (const run of Object.values(variants)) await run();

// DynamoDB requests sent by each variant, to tell apart the cost per request from the cost per item.
let requests = 0;
client.middlewareStack.add(
  (next) => async (args) => {
    requests += 1;
    return next(args);
  },
  { step: 'initialize', name: 'benchRequestCount' },
);

const names = Object.keys(variants);
const totals = new Map(names.map((name) => [name, { java: 0, node: 0, seconds: 0, requests: 0 }]));
for (let round = 0; round < rounds; round += 1) {
  // Rotate the order so no variant always runs right after the same other one.
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    const java = jvmCpuSeconds(javaPid);
    const node = process.cpuUsage();
    const started = performance.now();
    const sent = requests;
    await variants[name]();
    const total = totals.get(name)!;
    total.requests += requests - sent;
    total.seconds += (performance.now() - started) / 1000;
    total.java += jvmCpuSeconds(javaPid) - java;
    const used = process.cpuUsage(node);
    total.node += (used.user + used.system) / 1e6;
  }
}

const certificates = perRound * rounds;
const ms = (seconds: number) => ((seconds * 1000) / certificates).toFixed(3).padStart(7);
console.log(`${certificates} certificates per variant in ${rounds} rounds; load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);
console.log('variant         DynamoDB Local CPU   Node CPU   wall   (per certificate, ms)   requests per 100 certificates');
for (const [name, total] of totals) {
  console.log(`${name.padEnd(16)} ${ms(total.java)}           ${ms(total.node)}  ${ms(total.seconds)}   ${((100 * total.requests) / certificates).toFixed(1).padStart(27)}`);
}
await db.stop();
process.exit(0);

/** Read the user plus system CPU seconds of a process from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s). */
function jvmCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Find the DynamoDB Local JVM listening on `port`, as bench/import.ts does. */
async function dynamoDbLocalPid(port: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = commandLine.split('\0');
    if (args[0]?.endsWith('java') && args.includes('-port') && args[args.indexOf('-port') + 1] === String(port)) return Number(entry);
  }
  return undefined;
}
