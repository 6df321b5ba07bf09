import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as certCli } from '../../functions/cli/cert.js';
import { clearOcspCache } from '../../functions/services/ocsp-client.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { buildOcspRequest, checkOcspResponse, type OcspCheckOptions, type OcspVerdict } from '../../functions/pki/ocsp.js';
import { defaultProfile, type CaProfile } from '../../functions/pki/trust-store.js';
import { createRootCa, issueCertificate, revokeCertificate, type KeyAlgorithm, type TestCa } from '../../infra/local/openssl-ca.js';
import { signOcspResponse, startOcspResponder, type ResponderSettings } from '../helpers/ocsp-responder.js';
import { tempDir } from '../helpers/pki.js';

const HOUR = 3600_000;

/** The problem of an unusable verdict, or the status of any other, so a failed assertion shows which. */
const problemOf = (verdict: OcspVerdict) => (verdict.status === 'unusable' ? verdict.problem : `status ${verdict.status}`);

interface Fixture {
  ca: TestCa;
  profile: CaProfile;
  leaf: ReturnType<typeof parseCertificate>;
  issuer: ReturnType<typeof parseCertificate>;
  leafPath: string;
}

async function fixture(algorithm: KeyAlgorithm, name: string): Promise<Fixture> {
  const ca = await createRootCa(await tempDir(), name, algorithm);
  const leaf = await issueCertificate(ca, { id: 'leaf', subject: `/C=CN/O=${name} Holder/CN=${name} Holder`, algorithm });
  return { ca, profile: defaultProfile(name.toLowerCase().replace(/\W+/g, '-'), name, [ca.certPem]), leaf: parseCertificate(leaf.certPem), issuer: parseCertificate(ca.certPem), leafPath: leaf.certPath };
}

/** Ask openssl for a response to a request built by the service, and check it at `at`. */
async function answer(f: Fixture, settings: Partial<ResponderSettings>, options: { at?: Date; withNonce?: boolean; checkWith?: ReturnType<typeof buildOcspRequest>; requireNonce?: boolean; maxAgeSeconds?: number; hash?: 'sha256' | 'sha1' } = {}) {
  const request = buildOcspRequest(f.leaf, f.issuer, options.hash ?? 'sha256', options.withNonce ?? true);
  const der = await signOcspResponse(request.der, { ca: f.ca, ...settings }, join(f.ca.dir, `ocsp-${Math.random().toString(36).slice(2)}`));
  const check: OcspCheckOptions = {
    at: options.at ?? new Date(),
    request: options.checkWith ?? request,
    requireNonce: options.requireNonce ?? true,
    maxAgeSeconds: options.maxAgeSeconds ?? 3600,
  };
  return checkOcspResponse(new Uint8Array(der), f.leaf, f.issuer, f.profile, check);
}

describe('OCSP responses signed with SM2', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await fixture('sm2', 'SM2 OCSP CA');
  }, 30_000);

  it('accepts a good response signed by the SM2 CA', async () => {
    const verdict = await answer(f, { nextUpdateMinutes: 60 });
    expect(verdict.status, JSON.stringify(verdict)).toBe('good');
  });

  it('reports a revoked SM2 certificate with its reason', async () => {
    const other = await issueCertificate(f.ca, { id: 'sm2-revoked', subject: '/C=CN/O=SM2 Revoked/CN=SM2 Revoked', algorithm: 'sm2' });
    await revokeCertificate(f.ca, other.certPath, 'cessationOfOperation');
    const revoked: Fixture = { ...f, leaf: parseCertificate(other.certPem), leafPath: other.certPath };
    const verdict = await answer(revoked, { nextUpdateMinutes: 60 });
    expect(verdict.status).toBe('revoked');
    expect((verdict as Extract<OcspVerdict, { status: 'revoked' }>).reason).toBe('cessationOfOperation');
  });

  it('rejects an SM2 signature under another signer ID', async () => {
    const verdict = await answer({ ...f, profile: { ...f.profile, sm2SignerId: '' } }, { nextUpdateMinutes: 60 });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('does not verify');
  });
});

describe('OCSP response checks', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await fixture('ec', 'EC OCSP CA');
  }, 30_000);

  it('accepts a CertID hashed with SHA-1', async () => {
    const verdict = await answer(f, { nextUpdateMinutes: 60 }, { hash: 'sha1' });
    expect(verdict.status, JSON.stringify(verdict)).toBe('good');
  });

  it('rejects a response past its nextUpdate', async () => {
    const verdict = await answer(f, { nextUpdateMinutes: 60 }, { at: new Date(Date.now() + 2 * HOUR) });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('stale');
  });

  it('rejects a response older than the maximum age without nextUpdate', async () => {
    const verdict = await answer(f, {}, { at: new Date(Date.now() + 2 * HOUR), maxAgeSeconds: 3600 });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('no nextUpdate');
  });

  it('accepts a response without nextUpdate within the maximum age', async () => {
    const verdict = await answer(f, {}, { maxAgeSeconds: 3600 });
    expect(verdict.status).toBe('good');
    expect((verdict as Extract<OcspVerdict, { status: 'good' }>).until.getTime()).toBeLessThanOrEqual(Date.now() + HOUR);
  });

  it('rejects a response issued after the validation time', async () => {
    const verdict = await answer(f, { nextUpdateMinutes: 60 }, { at: new Date(Date.now() - HOUR) });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('after the validation time');
  });

  it('rejects a response carrying another nonce', async () => {
    const other = buildOcspRequest(f.leaf, f.issuer, 'sha256', true);
    const verdict = await answer(f, { nextUpdateMinutes: 60 }, { checkWith: other });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('nonce other than');
  });

  it('rejects a response without the nonce when nonces are required', async () => {
    const sent = buildOcspRequest(f.leaf, f.issuer, 'sha256', true);
    const verdict = await answer(f, { nextUpdateMinutes: 60 }, { withNonce: false, checkWith: sent });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('does not echo the nonce');
  });

  it('accepts a response without the nonce when the responder does not support nonces', async () => {
    const sent = buildOcspRequest(f.leaf, f.issuer, 'sha256', true);
    const verdict = await answer(f, { nextUpdateMinutes: 60 }, { withNonce: false, checkWith: sent, requireNonce: false });
    expect(verdict.status).toBe('good');
  });

  it('rejects a response signed with an algorithm the profile does not allow', async () => {
    const verdict = await answer({ ...f, profile: { ...f.profile, allowedSignatureAlgorithms: ['1.2.840.113549.1.1.11'] } }, { nextUpdateMinutes: 60 });
    expect(verdict.status).toBe('unusable');
    expect(problemOf(verdict)).toContain('not allowed');
  });

  it('rejects bytes that are not an OCSP response', () => {
    const request = buildOcspRequest(f.leaf, f.issuer, 'sha256', true);
    const verdict = checkOcspResponse(new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x00]), f.leaf, f.issuer, f.profile, { at: new Date(), request, requireNonce: true, maxAgeSeconds: 3600 });
    expect(verdict.status).toBe('unusable');
  });
});

describe('cert verify CLI with OCSP', () => {
  let f: Fixture;
  let responder: Awaited<ReturnType<typeof startOcspResponder>>;

  beforeAll(async () => {
    f = await fixture('ec', 'CLI OCSP CA');
    responder = await startOcspResponder({ ca: f.ca, nextUpdateMinutes: 60 });
  }, 30_000);

  afterAll(async () => {
    await responder?.stop();
  });

  async function verify(args: string[]): Promise<{ code: number; report: any }> {
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      chunks.push(String(chunk));
      return true;
    });
    try {
      const code = await certCli(['verify', '--cert', f.leafPath, '--anchor', f.ca.certPath, '--usage', 'path', '--json', ...args]);
      return { code, report: JSON.parse(chunks.join('')) };
    } finally {
      spy.mockRestore();
    }
  }

  it('reports a good OCSP response', async () => {
    const { code, report } = await verify(['--ocsp-url', responder.url]);
    expect(code).toBe(0);
    expect(report.revocation[0].detail).toContain(`OCSP responder ${responder.url}`);
  });

  it('reports a revoked OCSP response', async () => {
    await revokeCertificate(f.ca, f.leafPath, 'keyCompromise');
    // Each CLI run is a new process, without the response the run before cached.
    clearOcspCache();
    const { code, report } = await verify(['--ocsp-url', responder.url]);
    expect(code).toBe(1);
    expect(report.code).toBe('REVOKED');
    expect(report.message).toContain('OCSP responder');
  });

  it('rejects without OCSP or CRLs', async () => {
    const { code, report } = await verify([]);
    expect(code).toBe(1);
    expect(report.code).toBe('REVOCATION_UNKNOWN');
  });

  it('accepts an unknown status with --fail-open', async () => {
    const { code, report } = await verify(['--fail-open']);
    expect(code).toBe(0);
    expect(report.verdict).toBe('valid');
    expect(report.revocation[0].status).toBe('unknown-accepted');
  });
});
