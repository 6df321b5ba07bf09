import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KeyAlgorithm, TestCa } from '../../infra/local/openssl-ca.js';

const run = promisify(execFile);

/** How the responder signs and which status it returns; `set` changes it between requests. */
export interface ResponderSettings {
  /** CA whose certificates the responder covers (-CA). */
  ca: TestCa;
  /** openssl ca database that gives the status (-index); the CA's own index.txt by default. */
  index?: string;
  /** Signing certificate and key (-rsigner, -rkey); the CA itself by default. */
  signer?: { certPath: string; keyPath: string; algorithm: KeyAlgorithm };
  /** Minutes until nextUpdate (-nmin); no nextUpdate when absent. */
  nextUpdateMinutes?: number;
  /** Respond for this certificate instead of the one in the request. */
  answerFor?: string;
}

/**
 * Start an OCSP responder on 127.0.0.1: an HTTP server that hands each POSTed
 * request to `openssl ocsp -index ... -reqin ... -respout ...` and returns the
 * response that openssl signed. The HTTP part is Node's because
 * `openssl ocsp -port` (OpenSSL 3.0) listens on every interface.
 */
export async function startOcspResponder(initial: ResponderSettings): Promise<{ url: string; set: (settings: Partial<ResponderSettings>) => void; requests: () => number; stop: () => Promise<void> }> {
  let settings = initial;
  let count = 0;
  const dir = await mkdtemp(join(tmpdir(), 'tif-ocsp-'));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      count += 1;
      signOcspResponse(Buffer.concat(chunks), settings, join(dir, String(count))).then(
        (body) => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(body),
        (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/ocsp`,
    set: (change) => {
      settings = { ...settings, ...change };
    },
    requests: () => count,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Respond to one DER OCSP request with `openssl ocsp`, writing its files next to the path `stem`. */
export async function signOcspResponse(request: Uint8Array, settings: ResponderSettings, stem: string): Promise<Buffer> {
  const { ca } = settings;
  const signer = settings.signer ?? { certPath: ca.certPath, keyPath: ca.keyPath, algorithm: ca.algorithm };
  let requestPath = `${stem}.req`;
  await writeFile(requestPath, request);
  if (settings.answerFor) {
    // A request for another certificate, so the signed response names another serial.
    requestPath = `${stem}.other.req`;
    await run('openssl', ['ocsp', '-issuer', ca.certPath, '-sha256', '-cert', settings.answerFor, '-no_nonce', '-reqout', requestPath]);
  }
  const signing = signer.algorithm === 'sm2' ? ['-rmd', 'sm3', '-rsigopt', 'distid:1234567812345678'] : signer.algorithm === 'ec384' ? ['-rmd', 'sha384'] : ['-rmd', 'sha256'];
  await run('openssl', [
    'ocsp', '-index', settings.index ?? join(ca.dir, 'index.txt'), '-CA', ca.certPath, '-rsigner', signer.certPath, '-rkey', signer.keyPath,
    '-reqin', requestPath, '-respout', `${stem}.resp`, ...signing,
    ...(settings.nextUpdateMinutes !== undefined ? ['-nmin', String(settings.nextUpdateMinutes)] : []),
  ]);
  return readFile(`${stem}.resp`);
}
