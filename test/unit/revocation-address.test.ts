import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setHostResolver } from '../../functions/feed/push-endpoint.js';
import { ApiError } from '../../functions/lib/errors.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { parseCaProfileInput } from '../../functions/services/ca-profile-input.js';
import { clearOcspCache, ocspStatus } from '../../functions/services/ocsp-client.js';
import { clearCrlCache, downloadCrl, fetchCrl } from '../../functions/services/revocation-source.js';
import { createRootCa, enterpriseHolder, tempDir, type TestCa } from '../helpers/pki.js';
import { randomCreditCode } from '../helpers/codes.js';

/** Run `body` as the handlers run on AWS Lambda, where loopback servers are forbidden. */
async function inProduction<T>(body: () => Promise<T> | T): Promise<T> {
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'trading-identity-test-revocation';
  try {
    return await body();
  } finally {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  }
}

let server: Server;
let base: string;
let requests = 0;
let ca: TestCa;

beforeAll(async () => {
  server = createServer((request, response) => {
    requests += 1;
    request.resume();
    response.writeHead(404).end('no such CRL');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ca = await createRootCa(`${await tempDir()}/ca`, 'Revocation Address CA', 'ec');
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});
afterEach(() => {
  setHostResolver(undefined);
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  clearCrlCache();
  clearOcspCache();
});

describe('CRL download address policy', () => {
  it('rejects instance metadata', async () => {
    const url = 'http://169.254.169.254/latest/meta-data/ca.crl';
    const result = await downloadCrl(url);
    expect(result.crl).toBeUndefined();
    expect(result.error).toContain(url);
    expect(result.error).toContain('is 169.254.169.254');
    expect(result.error).toContain('169.254.0.0/16');
    expect(result.error).toContain('only from public addresses');
  });

  it('rejects a name resolving to a private address', async () => {
    setHostResolver(async (hostname) => (hostname === 'crl.ca.test' ? ['203.0.114.9', '10.1.2.3'] : []));
    const result = await fetchCrl('http://crl.ca.test/ca.crl');
    expect(result.error).toContain('CRL distribution point http://crl.ca.test/ca.crl resolves to 10.1.2.3');
    expect(result.error).toContain('10.0.0.0/8');
  });

  it('reaches loopback in local development', async () => {
    const before = requests;
    const result = await downloadCrl(`${base}/missing.crl`);
    expect(result.error).toBe('HTTP 404');
    expect(requests).toBe(before + 1);
  });

  it('rejects loopback in production', async () => {
    const before = requests;
    const result = await inProduction(() => downloadCrl(`${base}/missing.crl`));
    expect(result.error).toContain(`is 127.0.0.1`);
    expect(result.error).toContain('loopback servers are accepted only in local development');
    expect(requests).toBe(before);
  });
});

describe('OCSP request address policy', () => {
  async function statusFrom(ocspUrl: string) {
    const holder = await enterpriseHolder(ca, `ocsp-${Math.random().toString(36).slice(2)}`, randomCreditCode(), { algorithm: ca.algorithm });
    const leaf = parseCertificate(holder.certPem, 'leaf');
    const issuer = parseCertificate(ca.certPem, 'issuer');
    const profile = defaultProfile('address-ca', 'Address CA', [ca.certPem]);
    return ocspStatus(leaf, issuer, { ...profile, revocation: { ...profile.revocation, ocspUrl } }, new Date(), 1);
  }

  it('rejects instance metadata', async () => {
    const status = await statusFrom('http://169.254.169.254/ocsp');
    expect(status.status).toBe('unknown');
    const problems = status.status === 'unknown' ? status.problems.join(' ') : '';
    expect(problems).toContain('OCSP responder http://169.254.169.254/ocsp is 169.254.169.254');
    expect(problems).toContain('only from public addresses');
  });

  it('rejects a name resolving to link-local IPv6', async () => {
    setHostResolver(async () => ['fe80::1']);
    const status = await statusFrom('http://ocsp.ca.test/');
    const problems = status.status === 'unknown' ? status.problems.join(' ') : '';
    expect(problems).toContain('resolves to fe80::1');
  });

  it('reaches loopback in local development', async () => {
    const before = requests;
    const status = await statusFrom(`${base}/ocsp`);
    const problems = status.status === 'unknown' ? status.problems.join(' ') : '';
    expect(problems).toContain('HTTP 404');
    expect(requests).toBe(before + 1);
  });
});

describe('CA profile ocspUrl input', () => {
  const body = (ocspUrl: string) => ({ id: 'input-ca', name: 'Input CA', anchors: [ca.certPem], revocation: { ocspUrl } });

  function rejectionOf(ocspUrl: string): ApiError {
    try {
      parseCaProfileInput(body(ocspUrl));
    } catch (error) {
      if (error instanceof ApiError) return error;
      throw error;
    }
    throw new Error(`${ocspUrl} was accepted`);
  }

  it('rejects non-public IP literals', () => {
    for (const [url, address] of [
      ['http://169.254.169.254/latest', '169.254.169.254'],
      ['http://10.0.0.7/ocsp', '10.0.0.7'],
      ['http://[fd00::5]/ocsp', 'fd00::5'],
    ]) {
      const error = rejectionOf(url);
      expect(error.code).toBe('FIELD_INVALID');
      expect(error.message).toContain('revocation.ocspUrl');
      expect(error.message).toContain(address);
      expect(error.message).toContain('public address');
    }
  });

  it('accepts loopback only in local development', async () => {
    expect(parseCaProfileInput(body('http://127.0.0.1:9/ocsp')).revocation.ocspUrl).toBe('http://127.0.0.1:9/ocsp');
    const error = await inProduction(() => rejectionOf('http://127.0.0.1:9/ocsp'));
    expect(error.message).toContain('loopback addresses are accepted only in local development');
  });

  it('accepts public addresses and names', () => {
    expect(parseCaProfileInput(body('http://203.0.114.20/ocsp')).revocation.ocspUrl).toBe('http://203.0.114.20/ocsp');
    expect(parseCaProfileInput(body('http://ocsp.ca.test/')).revocation.ocspUrl).toBe('http://ocsp.ca.test/');
  });
});

describe('CA profile crlUrls input', () => {
  const body = (crlUrl: string) => ({ id: 'input-ca', name: 'Input CA', anchors: [ca.certPem], revocation: { crlUrls: ['http://crl.ca.test/ca.crl', crlUrl] } });

  it('rejects non-public IP literals', () => {
    for (const [url, address] of [
      ['http://169.254.169.254/latest/meta-data', '169.254.169.254'],
      ['http://192.168.1.10/ca.crl', '192.168.1.10'],
      ['http://[::ffff:10.0.0.1]/ca.crl', '::ffff:a00:1'],
    ]) {
      let error: unknown;
      try {
        parseCaProfileInput(body(url));
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).message).toContain('revocation.crlUrls[1]');
      expect((error as ApiError).message).toContain(address);
      expect((error as ApiError).message).toContain('give a CRL at a public address');
    }
  });

  it('accepts loopback in local development and public hosts', () => {
    expect(parseCaProfileInput(body('http://127.0.0.1:9/ca.crl')).revocation.crlUrls).toEqual(['http://crl.ca.test/ca.crl', 'http://127.0.0.1:9/ca.crl']);
    expect(parseCaProfileInput(body('http://203.0.114.20/ca.crl')).revocation.crlUrls).toHaveLength(2);
  });
});
