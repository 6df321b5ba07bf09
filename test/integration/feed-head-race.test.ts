import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamo, tableName } from '../../functions/db/client.js';
import { readEvents, readFeedHead } from '../../functions/db/events.js';
import { commitMarkers, markerKey } from '../helpers/commit-worker.js';
import { startTestService } from '../helpers/service.js';

const WORKER_SCRIPT = fileURLToPath(new URL('../helpers/commit-worker.ts', import.meta.url));
const COMMITS = 40;

let service: Awaited<ReturnType<typeof startTestService>>;
beforeAll(async () => {
  service = await startTestService({ dispatcher: false });
});
afterAll(async () => {
  await service?.stop();
});

interface WorkerResult {
  worker: string;
  commits: { commit: number; seqs: number[] }[];
}

/** Start a commit worker process on the test table; it commits when `go` is called. */
function startWorker(name: string): { go: () => void; done: Promise<WorkerResult> } {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
    env: { ...process.env, WORKER: name, COMMITS: String(COMMITS), LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`commit worker ${name} exited with ${code}: ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as WorkerResult);
    });
  });
  return { go: () => child.stdin!.end('go\n'), done };
}

describe('feed head under racing processes', () => {
  it('keeps the feed gap-free with one event set per change', async () => {
    const workers = ['alpha', 'beta', 'gamma'].map((name) => ({ name, ...startWorker(name) }));
    workers.forEach((worker) => worker.go());
    // This process races too, through its own in-process commit queue.
    const [local, ...children] = await Promise.all([commitMarkers('local', COMMITS).then((commits) => ({ worker: 'local', commits })), ...workers.map((worker) => worker.done)]);
    const results: WorkerResult[] = [local, ...children];

    const expectedEvents = results.length * Array.from({ length: COMMITS }, (_, commit) => 1 + (commit % 3)).reduce((sum, parts) => sum + parts, 0);
    const head = await readFeedHead();
    expect(head).toBe(expectedEvents);

    // Gap-free and ordered: the feed contains exactly seq 1..head, in order.
    const page = await readEvents(0, head + 10);
    expect(page.events.map((event) => event.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(new Set(page.events.map((event) => event.jti)).size).toBe(head);

    const bySeq = new Map(page.events.map((event) => [event.seq, event]));
    const seen = new Set<string>();
    for (const result of results) {
      let previousLast = 0;
      for (const { commit, seqs } of result.commits) {
        // A commit's events are consecutive, and a process's commits keep their order.
        expect(seqs.length, `${result.worker} commit ${commit}`).toBe(1 + (commit % 3));
        expect(seqs, `${result.worker} commit ${commit}`).toEqual(seqs.map((_, i) => seqs[0] + i));
        expect(seqs[0], `${result.worker} commit ${commit} after the previous one`).toBeGreaterThan(previousLast);
        previousLast = seqs[seqs.length - 1];
        seqs.forEach((seq, part) => {
          expect(bySeq.get(seq)?.data, `event ${seq}`).toEqual({ worker: result.worker, commit, part });
          seen.add(`${result.worker}#${commit}#${part}`);
        });
        const marker = await dynamo().send(new GetItemCommand({ TableName: tableName(), Key: marshall(markerKey(result.worker, commit)), ConsistentRead: true }));
        expect(marker.Item, `marker of ${result.worker} commit ${commit}`).toBeDefined();
      }
    }
    // Every event belongs to exactly one reported change.
    expect(seen.size).toBe(head);
  }, 120_000);
});
