/**
 * Import a CA firm's historical certificates through the CA sync API, as that
 * firm's client (private_key_jwt).
 *
 *   npm run import -- --issuer URL --client-id ID --key KEY.pem [options] INPUT...
 *
 * INPUT is a PEM bundle, a folder of .pem/.cer/.crt/.der files, or a CSV file
 * with the columns certificate (PEM, base64 DER, or a file path) and
 * creditCode. Where no credit code is given it is read from the certificate
 * subject. The run can be interrupted and started again with the same
 * arguments: finished batches are skipped and unfinished ones are resent under
 * the same idempotency key. The state file records the issuer and client id,
 * and a run for another issuer or client rejects it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile, appendFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CaFirmSession } from '../../infra/local/ca-client.js';
import { parseCsv } from './csv.js';
import { locateCreditCode } from '../pki/credit-code-locator.js';
import { parseCertificate } from '../pki/der.js';
import { certificatePem } from '../pki/pem.js';
import { defaultProfile } from '../pki/trust-store.js';

interface SourceItem {
  source: string;
  certificate: string;
  creditCode?: string;
  /** Set for a CSV row whose creditCode cell is empty: the file promised a code for each row, so the row is rejected rather than filled in from the certificate. */
  creditCodeCellEmpty?: boolean;
}

interface ImportState {
  issuer: string;
  clientId: string;
  inputHash: string;
  batchSize: number;
  done: number[];
}

const HELP = `usage: npm run import -- --issuer URL --client-id ID --key KEY.pem [options] INPUT...

  --issuer URL        base URL of the service (its OIDC issuer)
  --client-id ID      the CA firm's client id
  --key FILE          the CA firm's private key (PEM, PKCS#8) registered for private_key_jwt
  --batch N           certificates per request (1-200, default 200)
  --concurrency N     requests in flight (1-16, default 4)
  --state FILE        progress file for resuming, tied to the issuer and client id
                      (default import-state.json)
  --rejects FILE      where rejected certificates are listed (default import-rejects.csv)
  --quiet             no progress bar

Interrupted (Ctrl-C, or stopped any other way), it resumes when run again with
the same inputs and --state FILE, with the batch size of the first run.
Exit status: 0 when every certificate was imported or already present, 1 when
some were rejected (see --rejects FILE) or the import failed, 2 for invalid
options, 130 when interrupted.
`;

export async function main(argv: string[]): Promise<number> {
  process.env.LOG_STREAM ??= 'stderr';
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      key: { type: 'string' },
      batch: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '4' },
      state: { type: 'string', default: 'import-state.json' },
      rejects: { type: 'string', default: 'import-rejects.csv' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const missing = ['issuer', 'client-id', 'key'].filter((name) => !values[name as 'issuer']);
  if (missing.length || positionals.length === 0) {
    process.stderr.write(`${missing.length ? `missing --${missing.join(', --')}` : 'no INPUT given'}\n\n${HELP}`);
    return 2;
  }
  const batchSize = Number(values.batch);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 200) return usage(`--batch ${values.batch} is not a whole number from 1 to 200`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) return usage(`--concurrency ${values.concurrency} is not a whole number from 1 to 16`);

  // Authenticate first, so a wrong key, client id or issuer fails before any file is read or written.
  const issuer = values.issuer!.replace(/\/+$/, '');
  const clientId = values['client-id']!;
  const session = await CaFirmSession.connect({ issuer, clientId, privateKeyPem: await readKeyFile(values.key!), keySource: `--key ${values.key}` });
  await session.accessToken();

  const items = (await Promise.all(positionals.map((input) => readInput(resolve(input))))).flat();
  const localRejects: { item: SourceItem; code: string; message: string }[] = [];
  const sendable: SourceItem[] = [];
  for (const item of items) {
    if (item.creditCodeCellEmpty) {
      localRejects.push({ item, code: 'FIELD_MISSING', message: `${item.source}: the creditCode cell is empty; fill it in with the enterprise's credit code, or leave out the creditCode column to take each code from its certificate` });
      continue;
    }
    if (item.creditCode) {
      sendable.push(item);
      continue;
    }
    try {
      const cert = parseCertificate(item.certificate, item.source);
      sendable.push({ ...item, creditCode: locateCreditCode(cert, { ...defaultProfile('cli', 'cli', []), allowInvalidCheckCharacter: true }).code });
    } catch (error) {
      localRejects.push({ item, code: (error as { code?: string }).code ?? 'MALFORMED', message: (error as Error).message });
    }
  }

  const inputHash = createHash('sha256').update(sendable.map((i) => i.certificate).join('\n')).digest('hex');
  const state = await loadState(values.state!, { issuer, clientId, inputHash, batchSize, done: [] });
  // Batches and their idempotency keys follow the batch size of the run being resumed.
  const size = state.batchSize;
  const batches: SourceItem[][] = [];
  for (let i = 0; i < sendable.length; i += size) batches.push(sendable.slice(i, i + size));

  const totals: Record<string, number> = { imported: 0, 'already-present': 0, rejected: 0 };
  const reasons: Record<string, number> = {};
  const rejectsFile = values.rejects!;
  // A resumed run appends to the list of the run it continues, which already names the local rejects.
  const resuming = state.done.length > 0 && existsSync(rejectsFile);
  if (!resuming) await writeFile(rejectsFile, 'source,code,message\n');
  for (const { item, code, message } of localRejects) {
    totals.rejected += 1;
    reasons[code] = (reasons[code] ?? 0) + 1;
    if (!resuming) await appendFile(rejectsFile, csvRow([item.source, code, message]));
  }

  const done = new Set(state.done);
  const earlier = batches.filter((_, i) => done.has(i)).reduce((n, b) => n + b.length, 0);
  const progress = new Progress(sendable.length, values.quiet!);
  progress.advance(earlier, true);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const index = next++;
      if (done.has(index)) continue;
      const batch = batches[index];
      const body = { items: batch.map((i) => ({ certificate: i.certificate, creditCode: i.creditCode })) };
      const response = await sendWithRetry(session, body, `import-${inputHash.slice(0, 16)}-${size}-${index}`);
      for (const result of response.results as { index: number; status: string; error?: { code: string; message: string } }[]) {
        totals[result.status] = (totals[result.status] ?? 0) + 1;
        if (result.status === 'rejected') {
          reasons[result.error!.code] = (reasons[result.error!.code] ?? 0) + 1;
          // The service names the item by its place in the request; the source column names the file and row instead.
          const message = result.error!.message.replace(new RegExp(`^item ${result.index} `), '');
          await appendFile(rejectsFile, csvRow([batch[result.index].source, result.error!.code, message]));
        }
      }
      done.add(index);
      state.done = [...done];
      await writeFile(values.state!, JSON.stringify(state));
      progress.advance(batch.length);
    }
  };
  const summary = (interrupted: boolean) =>
    [
      ...(interrupted ? ['interrupted: run the same command again to send the rest; finished batches are not sent again'] : []),
      `certificates read     ${items.length}${localRejects.length ? ` (${localRejects.length} rejected here before sending, so the progress counts ${sendable.length})` : ''}`,
      ...(earlier ? [`sent by an earlier run ${earlier} (not counted below)`] : []),
      `imported              ${totals.imported}`,
      `already present       ${totals['already-present']}`,
      `rejected              ${totals.rejected}${Object.keys(reasons).length ? ` (${Object.entries(reasons).map(([code, n]) => `${code}: ${n}`).join(', ')})` : ''}`,
      `rejected list         ${rejectsFile}`,
      '',
    ].join('\n');
  // The state file is written after every batch, so an interrupted run only needs to report what it did.
  const onInterrupt = () => {
    progress.finish();
    process.stdout.write(summary(true));
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
  progress.finish();
  process.stdout.write(summary(false));
  return totals.rejected > 0 ? 1 : 0;
}

async function sendWithRetry(session: CaFirmSession, body: unknown, idempotencyKey: string): Promise<{ results: unknown[] }> {
  for (let attempt = 1; ; attempt += 1) {
    let response: Awaited<ReturnType<CaFirmSession['request']>> | undefined;
    try {
      response = await session.request('POST', '/api/ca/certificates', body, { 'idempotency-key': idempotencyKey });
    } catch (error) {
      if (attempt >= 8) throw error;
    }
    if (response?.status === 200) return response.body;
    const retryable = !response || response.status === 409 || response.status === 429 || response.status >= 500;
    if (!retryable || attempt >= 8) {
      throw new Error(`batch ${idempotencyKey} failed with ${response?.status}: ${JSON.stringify(response?.body).slice(0, 500)}`);
    }
    await new Promise((done) => setTimeout(done, Math.min(30_000, 500 * 2 ** attempt)));
  }
}

async function readInput(path: string): Promise<SourceItem[]> {
  if (!existsSync(path)) throw new Error(`input ${path} does not exist`);
  if ((await stat(path)).isDirectory()) {
    const names = (await readdir(path)).filter((n) => ['.pem', '.cer', '.crt', '.der'].includes(extname(n).toLowerCase())).sort();
    return (await Promise.all(names.map((name) => readCertificateFile(join(path, name))))).flat();
  }
  if (extname(path).toLowerCase() === '.csv') return readCsv(path);
  return readCertificateFile(path);
}

async function readCertificateFile(path: string): Promise<SourceItem[]> {
  const bytes = await readFile(path);
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN CERTIFICATE-----')) {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    return blocks.map((block, i) => ({ source: blocks.length > 1 ? `${path}#${i + 1}` : path, certificate: block }));
  }
  try {
    return [{ source: path, certificate: certificatePem(parseCertificate(new Uint8Array(bytes), path)) }];
  } catch (error) {
    return [{ source: path, certificate: bytes.toString('base64') }];
  }
}

async function readCsv(path: string): Promise<SourceItem[]> {
  const rows = parseCsv(await readFile(path, 'utf8'));
  const header = rows.shift()?.map((h) => h.trim()) ?? [];
  const certColumn = header.indexOf('certificate');
  const codeColumn = header.indexOf('creditCode');
  if (certColumn < 0) throw new Error(`${path} has no "certificate" column; its header is ${header.join(',')}`);
  const items: SourceItem[] = [];
  for (const [i, row] of rows.entries()) {
    if (row.every((cell) => cell.trim() === '')) continue;
    let certificate = row[certColumn]?.trim() ?? '';
    if (certificate && !certificate.includes('BEGIN') && existsSync(resolve(path, '..', certificate))) {
      certificate = (await readCertificateFile(resolve(path, '..', certificate)))[0]?.certificate ?? '';
    }
    const code = codeColumn >= 0 ? (row[codeColumn]?.trim() ?? '') : undefined;
    items.push({ source: `${path}:${i + 2}`, certificate, ...(code ? { creditCode: code } : {}), ...(code === '' ? { creditCodeCellEmpty: true } : {}) });
  }
  return items;
}

const csvRow = (cells: string[]) => cells.map((c) => `"${c.replace(/"/g, '""')}"`).join(',') + '\n';

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read --key ${path}: ${(error as Error).message}`);
  }
}

/**
 * Load the progress of an earlier run with the same input and batch size.
 * Throws when the file was written for another issuer or client, because its
 * finished batches were sent to that one and would be skipped for this one.
 */
async function loadState(path: string, fresh: ImportState): Promise<ImportState> {
  if (!existsSync(path)) return fresh;
  let saved: Partial<ImportState>;
  try {
    saved = JSON.parse(await readFile(path, 'utf8')) as Partial<ImportState>;
  } catch (error) {
    throw new Error(`state file ${path} is not JSON (${(error as Error).message}); delete it to start from the beginning`);
  }
  if (saved.issuer !== fresh.issuer || saved.clientId !== fresh.clientId) {
    const owner = saved.issuer && saved.clientId ? `client ${saved.clientId} at ${saved.issuer}` : 'an unknown issuer and client';
    throw new Error(
      `state file ${path} was written for ${owner}, not client ${fresh.clientId} at ${fresh.issuer}; ` +
        'give another --state FILE, or delete this one to start from the beginning',
    );
  }
  if (saved.inputHash === fresh.inputHash && typeof saved.batchSize === 'number' && Array.isArray(saved.done)) {
    if (saved.batchSize !== fresh.batchSize) {
      process.stderr.write(`${path}: resuming the run that used --batch ${saved.batchSize}, so its batches are not sent again; --batch ${fresh.batchSize} is not used\n`);
    }
    return saved as ImportState;
  }
  process.stderr.write(`${path} belongs to other input; starting from the beginning\n`);
  return fresh;
}

function usage(message: string): number {
  process.stderr.write(`${message}\n\n${HELP}`);
  return 2;
}

/**
 * A one-line progress bar with rate and ETA on stderr. When stderr is not a
 * terminal (a log file, CI), it prints a plain line every 10 seconds instead
 * of redrawing with carriage returns.
 */
class Progress {
  private count = 0;
  private readonly started = Date.now();
  private resumed = 0;
  private lastDraw = 0;
  private readonly terminal = Boolean(process.stderr.isTTY);

  constructor(private readonly total: number, private readonly quiet: boolean) {}

  advance(n: number, fromEarlierRun = false): void {
    this.count += n;
    if (fromEarlierRun) this.resumed += n;
    const now = Date.now();
    if (this.quiet || this.count === this.total) return;
    if (this.terminal && now - this.lastDraw > 200) {
      this.lastDraw = now;
      process.stderr.write(`\r${this.line()}`);
    } else if (!this.terminal && now - this.lastDraw > 10_000) {
      this.lastDraw = now;
      process.stderr.write(`${this.line().trimEnd()}\n`);
    }
  }

  finish(): void {
    if (!this.quiet) process.stderr.write(this.terminal ? `\r${this.line()}\n` : `${this.line().trimEnd()}\n`);
  }

  private line(): string {
    const fraction = this.total ? this.count / this.total : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? (this.count - this.resumed) / seconds : 0;
    const eta = rate > 0 ? Math.ceil((this.total - this.count) / rate) : 0;
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.count}/${this.total} ${(fraction * 100).toFixed(1)}% ${rate.toFixed(0)}/s ETA ${eta}s   `;
  }
}

const isEntryPoint = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isEntryPoint) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`\nimport failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
