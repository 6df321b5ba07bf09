import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as importMain } from '../../functions/cli/import.js';
import { getBinding } from '../../functions/db/certificates.js';
import { fingerprint } from '../../functions/pki/certificate.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { randomCreditCode } from '../helpers/codes.js';
import { registerCaFirm } from '../helpers/clients.js';
import { createRootCa, enterpriseHolder, tempDir, type TestCa, profileWithoutRevocation } from '../helpers/pki.js';
import { eventually } from '../helpers/feed.js';
import { startTestService } from '../helpers/service.js';

const run = promisify(execFile);

let service: Awaited<ReturnType<typeof startTestService>>;
let ca: TestCa;
let work: string;
let keyFile: string;
const certs: string[] = [];

beforeAll(async () => {
  service = await startTestService();
  work = await tempDir('tif-import-');
  ca = await createRootCa(join(work, 'ca'), 'Import CA', 'ec');
  await saveCaProfile(profileWithoutRevocation('import-ca', 'Import CA', [ca.certPem]));
  const firm = await registerCaFirm('import-firm', ['import-ca']);
  keyFile = join(work, 'firm.key');
  await writeFile(keyFile, firm.privateKeyPem);
  for (let i = 0; i < 7; i += 1) certs.push((await enterpriseHolder(ca, `hist-${i}`, randomCreditCode())).certPem);
});
afterAll(async () => {
  await service?.stop();
});

async function importCli(args: string[]) {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'functions/cli/import.ts', '--issuer', service.url, '--client-id', 'import-firm', '--key', keyFile, '--quiet', ...args], { cwd: process.cwd() });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('import CLI', () => {
  it('imports bundles, folders and CSV', async () => {
    const bundle = join(work, 'bundle.pem');
    await writeFile(bundle, certs.slice(0, 3).join('\n'));
    const folder = join(work, 'folder');
    await mkdir(folder);
    const der = Buffer.from(certs[3].replace(/-----[^-]+-----|\s/g, ''), 'base64');
    await writeFile(join(folder, 'a.der'), der);
    await writeFile(join(folder, 'b.pem'), certs[4]);
    await writeFile(join(folder, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const csv = join(work, 'list.csv');
    const code5 = /serialNumber=([0-9A-Z]{18})/.exec((await import('../../functions/pki/certificate.js')).nameToString(parseCertificate(certs[5]).subject))![1];
    await writeFile(csv, `certificate,creditCode\n"${certs[5]}",${code5}\n"${certs[6]}",${randomCreditCode()}\n`);
    const rejects = join(work, 'rejects.csv');
    const result = await importCli(['--batch', '2', '--state', join(work, 'state.json'), '--rejects', rejects, bundle, folder, csv]);
    expect(result.stderr).not.toContain('import failed');
    // Some certificates were rejected, so the exit status is 1.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/certificates read\s+8 \(1 rejected here before sending, so the progress counts 7\)/);
    expect(result.stdout).toMatch(/imported\s+6/);
    expect(result.stdout).toMatch(/rejected\s+2 \(/);
    expect(result.stdout).toContain('CREDIT_CODE_MISMATCH: 1');
    const listed = await readFile(rejects, 'utf8');
    expect(listed).toContain('broken.pem');
    expect(listed).toContain('list.csv:3');
    for (const pem of certs.slice(0, 6)) expect((await getBinding(fingerprint(parseCertificate(pem))))?.source).toBe('ca');
  });

  it('rejects a CSV row with an empty creditCode', async () => {
    const holder = await enterpriseHolder(ca, 'empty-cell', randomCreditCode());
    const csv = join(work, 'empty-cell.csv');
    await writeFile(csv, `certificate,creditCode\n"${holder.certPem}",\n`);
    const rejects = join(work, 'empty-cell-rejects.csv');
    const result = await importCli(['--state', join(work, 'empty-cell-state.json'), '--rejects', rejects, csv]);
    expect(result.stdout).toMatch(/rejected\s+1 \(/);
    expect(result.stdout).toContain('FIELD_MISSING: 1');
    expect(await readFile(rejects, 'utf8')).toContain('the creditCode cell is empty');
    expect(await getBinding(fingerprint(parseCertificate(holder.certPem)))).toBeUndefined();
  });

  it('lists a service rejection by CSV row', async () => {
    const csv = join(work, 'malformed.csv');
    await writeFile(csv, `certificate,creditCode\nnot-a-certificate,${randomCreditCode()}\n`);
    const rejects = join(work, 'malformed-rejects.csv');
    const result = await importCli(['--state', join(work, 'malformed-state.json'), '--rejects', rejects, csv]);
    expect(result.stdout).toContain('MALFORMED: 1');
    const listed = await readFile(rejects, 'utf8');
    expect(listed).toContain('malformed.csv:2');
    expect(listed).not.toMatch(/,"?item \d+ /);
  });

  it('resumes without resending finished batches', async () => {
    const bundle = join(work, 'resume.pem');
    const fresh = [];
    for (let i = 0; i < 4; i += 1) fresh.push((await enterpriseHolder(ca, `resume-${i}`, randomCreditCode())).certPem);
    await writeFile(bundle, fresh.join('\n'));
    const state = join(work, 'resume-state.json');
    const first = await importCli(['--batch', '2', '--state', state, '--rejects', join(work, 'r1.csv'), bundle]);
    expect(first.stdout).toMatch(/imported\s+4/);
    // Pretend the run was interrupted after its first batch.
    const saved = JSON.parse(await readFile(state, 'utf8'));
    await writeFile(state, JSON.stringify({ ...saved, done: [0] }));
    const resumed = await importCli(['--batch', '2', '--state', state, '--rejects', join(work, 'r2.csv'), bundle]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/imported\s+2/);
    expect(resumed.stdout).toMatch(/already present\s+0/);
    // Another batch size makes other idempotency keys, so the service checks each certificate again.
    const again = await importCli(['--batch', '4', '--state', join(work, 'other-state.json'), '--rejects', join(work, 'r3.csv'), bundle]);
    expect(again.stdout).toMatch(/already present\s+4/);
    expect(again.code).toBe(0);
  });

  it('resumes with the batch size of the interrupted run', async () => {
    const bundle = join(work, 'resize.pem');
    const fresh = [];
    for (let i = 0; i < 4; i += 1) fresh.push((await enterpriseHolder(ca, `resize-${i}`, randomCreditCode())).certPem);
    await writeFile(bundle, fresh.join('\n'));
    const state = join(work, 'resize-state.json');
    expect((await importCli(['--batch', '2', '--state', state, '--rejects', join(work, 'z1.csv'), bundle])).stdout).toMatch(/imported\s+4/);
    const saved = JSON.parse(await readFile(state, 'utf8'));
    await writeFile(state, JSON.stringify({ ...saved, done: [0] }));
    const resumed = await importCli(['--batch', '3', '--state', state, '--rejects', join(work, 'z2.csv'), bundle]);
    expect(resumed.stderr).toContain('resuming the run that used --batch 2');
    expect(resumed.stdout).toMatch(/sent by an earlier run 2/);
    expect(resumed.stdout).toMatch(/imported\s+2/);
  });

  it('prints a summary when interrupted', async () => {
    const bundle = join(work, 'interrupt.pem');
    const fresh = [];
    for (let i = 0; i < 12; i += 1) fresh.push((await enterpriseHolder(ca, `interrupt-${i}`, randomCreditCode())).certPem);
    await writeFile(bundle, fresh.join('\n'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/cli/import.ts', '--issuer', service.url, '--client-id', 'import-firm', '--key', keyFile, '--quiet', '--batch', '1', '--concurrency', '1', '--state', join(work, 'interrupt-state.json'), '--rejects', join(work, 'i1.csv'), bundle]);
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // Interrupt once the first batch is recorded in the state file.
    await eventually(async () => (existsSync(join(work, 'interrupt-state.json')) ? true : undefined), 'the first batch');
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(130);
    expect(stdout).toContain('interrupted: run the same command again');
    expect(stdout).toMatch(/imported\s+\d/);
  });

  it('explains missing arguments', async () => {
    const result = await run('npx', ['tsx', 'functions/cli/import.ts', 'x.pem']).catch((error) => error);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing --issuer');
  });

  it('rejects a state file of another client', async () => {
    const bundle = join(work, 'owner.pem');
    await writeFile(bundle, certs[0]);
    const state = join(work, 'owner-state.json');
    await writeFile(state, JSON.stringify({ issuer: service.url, clientId: 'other-firm', inputHash: 'x', batchSize: 200, done: [0] }));
    const run = importMain(['--issuer', service.url, '--client-id', 'import-firm', '--key', keyFile, '--quiet', '--state', state, '--rejects', join(work, 'owner.csv'), bundle]);
    await expect(run).rejects.toThrow(`state file ${state} was written for client other-firm at ${service.url.replace(/\/+$/, '')}`);
    await expect(run).rejects.toThrow('delete this one to start from the beginning');
    expect(JSON.parse(await readFile(state, 'utf8')).clientId).toBe('other-firm');
  });

  it('rejects bad credentials after a finished run', async () => {
    const bundle = join(work, 'finished.pem');
    await writeFile(bundle, (await enterpriseHolder(ca, 'finished', randomCreditCode())).certPem);
    const state = join(work, 'finished-state.json');
    const first = await importCli(['--state', state, '--rejects', join(work, 'f1.csv'), bundle]);
    expect(first.stdout).toMatch(/imported\s+1/);
    expect(JSON.parse(await readFile(state, 'utf8'))).toMatchObject({ clientId: 'import-firm', done: [0] });

    const wrongKey = join(work, 'wrong.key');
    await writeFile(wrongKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const common = ['--issuer', service.url, '--quiet', '--state', state, '--rejects', join(work, 'f2.csv'), bundle];
    await expect(importMain(['--client-id', 'import-firm', '--key', wrongKey, ...common])).rejects.toThrow(/token endpoint rejected client import-firm .*invalid_client/);
    await expect(importMain(['--client-id', 'no-such-firm', '--key', keyFile, ...common])).rejects.toThrow(/token endpoint rejected client no-such-firm/);
  });

  it('explains a certificate given as --key', async () => {
    const certFile = join(work, 'not-a-key.pem');
    await writeFile(certFile, certs[0]);
    const run = importMain(['--issuer', service.url, '--client-id', 'import-firm', '--key', certFile, '--quiet', join(work, 'bundle.pem')]);
    await expect(run).rejects.toThrow(`--key ${certFile} is not a PKCS#8 private key in PEM (it contains a CERTIFICATE)`);
  });

  it('names an unreachable issuer', async () => {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as { port: number }).port;
    await new Promise((done) => server.close(done));
    const run = importMain(['--issuer', `http://127.0.0.1:${port}`, '--client-id', 'import-firm', '--key', keyFile, '--quiet', join(work, 'bundle.pem')]);
    await expect(run).rejects.toThrow(`issuer http://127.0.0.1:${port}/`);
    await expect(run).rejects.toThrow('check the issuer URL and that the service is running');
  });
});
