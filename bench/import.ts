/**
 * Import N generated certificates (several CAs, RSA, ECDSA and SM2 mixed) through
 * the import CLI into DynamoDB Local in memory, next to a raw BatchWriteItem of
 * the same number of items of the same size into the same DynamoDB Local.
 *
 *   npx tsx bench/import.ts [count]      (default 130000)
 *
 * Certificates are generated once with pkijs, WebCrypto (RSA, ECDSA) and
 * sm-crypto-v2 (SM2 with SM3 under the default signer ID), and cached in
 * bench/results/ (git-ignored). Leaves of one CA share a key pair, which does
 * not change the work the service does (every leaf signature is verified).
 *
 * Besides the two rates it prints the CPU seconds per item of the service (this
 * process), DynamoDB Local and the CLI, the rate of validation alone in this
 * process (on at most 20,000 of the certificates), and the service's DynamoDB
 * calls by command. It also prints the peak resident memory of the service
 * process and of DynamoDB Local as the kernel reports it (Linux only).
 *
 * BENCH_TRACE=1 also counts the calls by key prefix. IMPORT_CONCURRENCY sets
 * the CLI's --concurrency (default 4). BENCH_PROFILE=FILE writes a V8 CPU
 * profile of the service process during the import to FILE (.cpuprofile,
 * readable by Chrome DevTools), and profiles of the CLI's processes to
 * FILE.cli/.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Session } from 'node:inspector/promises';
import { BatchGetItemCommand, BatchWriteItemCommand, CreateTableCommand, TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { dynamo } from '../functions/db/client.js';
import { creditCodeCheckCharacter, CREDIT_CODE_ALPHABET } from '../functions/lib/credit-code.js';
import { fingerprint, issuerNameHash } from '../functions/pki/certificate.js';
import { locateCreditCode } from '../functions/pki/credit-code-locator.js';
import { parseCertificate } from '../functions/pki/der.js';
import { certificatePem } from '../functions/pki/pem.js';
import { ALGORITHM_OID, DEFAULT_SM2_SIGNER_ID } from '../functions/pki/signature.js';
import { defaultProfile } from '../functions/pki/trust-store.js';
import { saveCaProfile } from '../functions/services/ca-profiles.js';
import { savePlatformClient } from '../functions/services/clients.js';
import { validateForService } from '../functions/services/validation.js';
import { startLocalService } from '../infra/local/service.js';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK } from 'jose';
import { sm2 } from 'sm-crypto-v2';

const run = promisify(execFile);
const count = Number(process.argv[2] ?? 130_000);
process.env.LOG_LEVEL = 'error';

type Algorithm = 'ec' | 'rsa' | 'sm2';
const CAS: { id: string; algorithm: Algorithm; share: number }[] = [
  { id: 'bench-ec-1', algorithm: 'ec', share: 0.3 },
  { id: 'bench-ec-2', algorithm: 'ec', share: 0.25 },
  { id: 'bench-rsa', algorithm: 'rsa', share: 0.25 },
  { id: 'bench-sm2', algorithm: 'sm2', share: 0.2 },
];

const cacheDir = join('bench', 'results', `import-${count}-${CAS.map((ca) => ca.algorithm).join('-')}`);
const bundlePath = join(cacheDir, 'certificates.csv');
if (!existsSync(bundlePath)) await generate();
const cas = JSON.parse(await readFile(join(cacheDir, 'cas.json'), 'utf8')) as { id: string; pem: string }[];

const work = await mkdtemp(join(tmpdir(), 'tif-bench-import-'));
const service = await startLocalService({ keysFile: join(work, 'keys.json'), port: 0 });
for (const ca of cas) await saveCaProfile({ ...defaultProfile(ca.id, ca.id, [ca.pem]), revocation: { useCrlDistributionPoints: false, crlUrls: [], failPolicy: 'open' } });
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
await savePlatformClient({
  client_id: 'bench-firm',
  client_name: 'bench',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256' }] },
  scope: 'ca:sync',
  ca_profiles: cas.map((c) => c.id),
});
const keyFile = join(work, 'firm.key');
await writeFile(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());

await warmUpDynamoDbLocal();

// Time spent in each DynamoDB command the service sends during the import (requests overlap, so the sums can exceed the run).
const dynamoTime = new Map<string, { count: number; ms: number }>();
const traces = new Map<string, number>();
dynamo().middlewareStack.add(
  (next, context) => async (args) => {
    const begun = performance.now();
    try {
      return await next(args);
    } finally {
      if (process.env.BENCH_TRACE) {
        const input = args.input as any;
        const keyPrefix = (key: any) => String(key?.pk?.S ?? '').replace(/#.*/, '');
        let prefix = '';
        if (input.Key) prefix = keyPrefix(input.Key);
        else if (input.Item) prefix = keyPrefix(input.Item);
        else if (input.KeyConditionExpression) prefix = String(input.ExpressionAttributeValues?.[':pk']?.S ?? '').replace(/#.*/, '');
        const label = `${context.commandName} ${prefix}`;
        traces.set(label, (traces.get(label) ?? 0) + 1);
      }
      const entry = dynamoTime.get(context.commandName!) ?? { count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += performance.now() - begun;
      dynamoTime.set(context.commandName!, entry);
    }
  },
  { step: 'initialize', name: 'benchTiming' },
);

const javaPid = await dynamoDbLocalPid(service.db.port);
const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
const importCpu = startCpuClock(javaPid);
const started = performance.now();
// bash's `times` prints the CPU time of the CLI and every process it started (npx, tsx, node).
const cliProfile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', `${process.env.BENCH_PROFILE}.cli`] : [];
const cliCommand = ['npx', 'tsx', ...cliProfile, 'functions/cli/import.ts', '--issuer', service.url, '--client-id', 'bench-firm', '--key', keyFile, '--quiet', '--concurrency', process.env.IMPORT_CONCURRENCY ?? '4', '--state', join(work, 'state.json'), '--rejects', join(work, 'rejects.csv'), bundlePath];
const { stdout } = await run('bash', ['-c', '"$@" && times', 'bench', ...cliCommand], { maxBuffer: 10 * 1024 * 1024 });
const importSeconds = (performance.now() - started) / 1000;
const cliTimes = stdout.trim().split('\n').slice(-1)[0].split(/\s+/).map(minutesSeconds);
const importUsage = { ...importCpu(), cli: cliTimes[0] + cliTimes[1] };
const peakMemory = { service: process.resourceUsage().maxRSS / 1024, java: peakResidentMegabytes(javaPid) };
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  await writeFile(process.env.BENCH_PROFILE!, JSON.stringify(profile));
  profiler.disconnect();
}
process.stdout.write(stdout.trim().split('\n').slice(0, -2).join('\n') + '\n');
dynamo().middlewareStack.remove('benchTiming');
if (process.env.BENCH_TRACE) console.log(traces);
for (const [command, { count: calls, ms }] of dynamoTime) console.log(`${command.padEnd(26)} ${String(calls).padStart(7)} calls  ${(ms / 1000).toFixed(1).padStart(7)} s  ${(ms / calls).toFixed(1)} ms each`);

// Raw baseline: the same number of items, padded to the size of a stored binding, 25 per BatchWriteItem.
await dynamo().send(
  new CreateTableCommand({
    TableName: 'raw-baseline',
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }),
);
const payload = 'x'.repeat(1500);
const rawCpu = startCpuClock(javaPid);
const rawStarted = performance.now();
const batches: number[][] = [];
for (let i = 0; i < count; i += 25) batches.push(Array.from({ length: Math.min(25, count - i) }, (_, j) => i + j));
let nextBatch = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (nextBatch < batches.length) {
      const batch = batches[nextBatch++];
      let requests = batch.map((n) => ({ PutRequest: { Item: { pk: { S: `CERT#${n}` }, sk: { S: 'CERT' }, pem: { S: payload } } } }));
      while (requests.length) {
        const result = await dynamo().send(new BatchWriteItemCommand({ RequestItems: { 'raw-baseline': requests } }));
        requests = (result.UnprocessedItems?.['raw-baseline'] ?? []) as typeof requests;
      }
    }
  }),
);
const rawSeconds = (performance.now() - rawStarted) / 1000;
const rawUsage = rawCpu();

// Validation alone: what the service does to each item before storing it, in this one process, 4 items at a time.
// Above 20,000 certificates, an evenly spaced sample keeps the mix of CAs and does not add minutes to the run.
const allPems = (await readFile(bundlePath, 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
const sampleStep = Math.ceil(allPems.length / 20_000);
const pems = allPems.filter((_, i) => i % sampleStep === 0);
const validationStarted = performance.now();
const validationCpu = startCpuClock(undefined);
let nextPem = 0;
let issuerCached = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (nextPem < pems.length) {
      const leaf = parseCertificate(pems[nextPem++]);
      const validated = await validateForService(leaf, [], 'bind', { actor: 'bench' });
      if (validated.issuerCached) issuerCached += 1;
      locateCreditCode(leaf, validated.profile);
      fingerprint(leaf);
      issuerNameHash(leaf);
      certificatePem(leaf);
    }
  }),
);
const validationSeconds = (performance.now() - validationStarted) / 1000;
const validationUsage = validationCpu();
const perItem = (seconds: number) => `${((seconds * 1000) / count).toFixed(2)} ms`;
console.log(`\ncertificates            ${count}`);
console.log(`import through CLI      ${importSeconds.toFixed(1)} s   ${(count / importSeconds).toFixed(0)} items/s`);
console.log(`raw BatchWriteItem      ${rawSeconds.toFixed(1)} s   ${(count / rawSeconds).toFixed(0)} items/s`);
console.log(`import rate / raw rate  ${((count / importSeconds) / (count / rawSeconds)).toFixed(2)}`);
const validationPerItem = `${((validationUsage.node * 1000) / pems.length).toFixed(2)} ms`;
console.log(`validation alone        ${validationSeconds.toFixed(1)} s   ${(pems.length / validationSeconds).toFixed(0)} items/s, CPU ${validationPerItem} per item (${pems.length} certificates in one process, no storage, issuer path cached for ${issuerCached})`);
console.log(`CPU per item, import    service ${perItem(importUsage.node)}, DynamoDB Local ${perItem(importUsage.java)}, CLI ${perItem(importUsage.cli)}`);
console.log(`peak resident memory    service ${peakMemory.service.toFixed(0)} MB, DynamoDB Local ${peakMemory.java?.toFixed(0) ?? 'unknown'} MB (at the end of the import)`);
console.log(`CPU per item, raw       writer ${perItem(rawUsage.node)}, DynamoDB Local ${perItem(rawUsage.java)}`);
console.log(`load average            ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);
await service.stop();
process.exit(0);

/**
 * Run DynamoDB Local's write and read paths for a while before timing
 * anything. A fresh JVM spends several CPU seconds compiling them: in one
 * measurement on this bench's machine, 100-item transactions cost about 3.5 ms
 * of JVM CPU per certificate at first and under 1 ms once warm. Without this
 * step the import, which runs first, would pay that cost and the raw baseline
 * would not.
 */
async function warmUpDynamoDbLocal(): Promise<void> {
  await dynamo().send(
    new CreateTableCommand({
      TableName: 'jvm-warm-up',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }),
  );
  const item = (n: number) => ({ pk: { S: `WARM#${n}` }, sk: { S: 'WARM' }, pem: { S: 'x'.repeat(1500) } });
  for (let n = 0; n < 5000; n += 100) {
    const keys = Array.from({ length: 100 }, (_, i) => n + i);
    await dynamo().send(new TransactWriteItemsCommand({ TransactItems: keys.map((k) => ({ Put: { TableName: 'jvm-warm-up', Item: item(k), ConditionExpression: 'attribute_not_exists(pk)' } })) }));
    await dynamo().send(new BatchGetItemCommand({ RequestItems: { 'jvm-warm-up': { Keys: keys.map((k) => ({ pk: { S: `WARM#${k + 5000}` }, sk: { S: 'WARM' } })), ConsistentRead: true } } }));
    for (let i = 0; i < 100; i += 25) {
      await dynamo().send(new BatchWriteItemCommand({ RequestItems: { 'jvm-warm-up': keys.slice(i, i + 25).map((k) => ({ PutRequest: { Item: item(k + 10_000) } })) } }));
    }
  }
}

/** Start counting the CPU seconds of this process and of the DynamoDB Local JVM. Returns a function that reads them. */
function startCpuClock(javaPid: number | undefined): () => { node: number; java: number } {
  const node = process.cpuUsage();
  const java = jvmCpuSeconds(javaPid);
  return () => {
    const used = process.cpuUsage(node);
    return { node: (used.user + used.system) / 1e6, java: jvmCpuSeconds(javaPid) - java };
  };
}

/** Read the user plus system CPU seconds of a process from /proc (Linux). Returns 0 when it cannot be read. */
function jvmCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Read the peak resident set size (VmHWM) of a process in MB from /proc (Linux). Returns undefined when it cannot be read. */
function peakResidentMegabytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Find the process id of the DynamoDB Local JVM listening on `port` through /proc. Returns undefined off Linux. */
async function dynamoDbLocalPid(port: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = commandLine.split('\0');
    if (args[0]?.endsWith('java') && args.includes('-port') && args[args.indexOf('-port') + 1] === String(port)) return Number(entry);
  }
  return undefined;
}

/** Parse a duration from bash's `times`, such as 1m2.345s. */
function minutesSeconds(text: string): number {
  const match = /^(\d+)m([\d.]+)s$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : 0;
}

async function generate(): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const rows = ['certificate,creditCode'];
  const casOut: { id: string; pem: string }[] = [];
  let produced = 0;
  for (const [index, ca] of CAS.entries()) {
    const caKeys = await newKeyPair(ca.algorithm);
    const leafKeys = await newKeyPair(ca.algorithm);
    const caName = `Bench CA ${index + 1}`;
    const caCert = await makeCertificate({ subject: caName, issuer: caName, serial: 1, publicKey: caKeys, signingKey: caKeys, isCa: true });
    casOut.push({ id: ca.id, pem: certificatePem(caCert) });
    const share = index === CAS.length - 1 ? count - produced : Math.round(count * ca.share);
    for (let i = 0; i < share; i += 1) {
      const code = creditCode(produced + i);
      const leaf = await makeCertificate({ subject: `企业${produced + i}`, creditCode: code, issuer: caName, serial: 1000 + i, publicKey: leafKeys, signingKey: caKeys, isCa: false });
      rows.push(`"${certificatePem(leaf).trim()}",${code}`);
      if ((produced + i) % 10000 === 0) process.stderr.write(`generated ${produced + i}\n`);
    }
    produced += share;
  }
  await writeFile(bundlePath, rows.join('\n') + '\n');
  await writeFile(join(cacheDir, 'cas.json'), JSON.stringify(casOut));
}

function creditCode(n: number): string {
  let body = '91440300';
  let rest = n;
  for (let i = 0; i < 9; i += 1) {
    body += CREDIT_CODE_ALPHABET[rest % 31];
    rest = Math.floor(rest / 31);
  }
  return body + creditCodeCheckCharacter(body);
}

type KeyPair = { kind: 'webcrypto'; keys: CryptoKeyPair } | { kind: 'sm2'; publicKeyHex: string; privateKeyHex: string };

async function newKeyPair(algorithm: Algorithm): Promise<KeyPair> {
  if (algorithm === 'sm2') {
    const keys = sm2.generateKeyPairHex();
    return { kind: 'sm2', publicKeyHex: keys.publicKey, privateKeyHex: keys.privateKey };
  }
  const params = algorithm === 'ec' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return { kind: 'webcrypto', keys: (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair };
}

async function makeCertificate(options: { subject: string; issuer: string; creditCode?: string; serial: number; publicKey: KeyPair; signingKey: KeyPair; isCa: boolean }): Promise<pkijs.Certificate> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: options.serial });
  const name = (cn: string, code?: string) => {
    const rdn = new pkijs.RelativeDistinguishedNames();
    rdn.typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: '2.5.4.6', value: new asn1js.PrintableString({ value: 'CN' }) }));
    rdn.typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1js.Utf8String({ value: cn }) }));
    if (code) rdn.typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: '2.5.4.5', value: new asn1js.PrintableString({ value: code }) }));
    rdn.typesAndValues.push(new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) }));
    return rdn;
  };
  cert.subject = name(options.subject, options.creditCode);
  cert.issuer = name(options.issuer);
  cert.notBefore.value = new Date(Date.now() - 24 * 3600 * 1000);
  cert.notAfter.value = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  if (options.publicKey.kind === 'sm2') {
    cert.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({
      algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.ecPublicKey, algorithmParams: new asn1js.ObjectIdentifier({ value: ALGORITHM_OID.sm2Curve }) }),
      subjectPublicKey: new asn1js.BitString({ valueHex: Buffer.from(options.publicKey.publicKeyHex, 'hex') }),
    });
  } else {
    await cert.subjectPublicKeyInfo.importKey(options.publicKey.keys.publicKey);
  }
  const basic = new pkijs.BasicConstraints({ cA: options.isCa });
  const usage = new asn1js.BitString({ valueHex: new Uint8Array([options.isCa ? 0x06 : 0xc0]).buffer, unusedBits: options.isCa ? 1 : 6 });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: basic.toSchema().toBER(false), parsedValue: basic }),
    new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: usage.toBER(false) }),
  ];
  if (options.signingKey.kind === 'sm2') {
    cert.signature = new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm2WithSm3 });
    cert.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm2WithSm3 });
    const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
    const signature = sm2.doSignature(tbs, options.signingKey.privateKeyHex, { hash: true, der: true, userId: DEFAULT_SM2_SIGNER_ID });
    cert.tbsView = tbs;
    cert.signatureValue = new asn1js.BitString({ valueHex: Buffer.from(signature, 'hex') });
  } else {
    await cert.sign(options.signingKey.keys.privateKey, 'SHA-256');
  }
  return cert;
}
