import { beforeAll, describe, expect, it } from 'vitest';
import { verifyChallengeSignature } from '../../functions/pki/challenge-signature.js';
import { parseCertificate } from '../../functions/pki/der.js';
import { CertificateRejected } from '../../functions/pki/reasons.js';
import { createRootCa, issueCertificate, type KeyAlgorithm } from '../../infra/local/openssl-ca.js';
import { tempDir } from '../helpers/pki.js';
import { signCmsSm2, signCmsWithOpenssl, signRaw } from '../helpers/signing.js';

const ALGORITHMS: KeyAlgorithm[] = ['rsa', 'ec', 'ec384', 'sm2'];
const CHALLENGE = 'trading-identity challenge v1\npurpose=bind\norigin=http://localhost:3000\ncontext=91440300MA5EXAMPLE\nnonce=abc\nexpires=2030-01-01T00:00:00.000Z';
const holders = new Map<KeyAlgorithm, { certPem: string; keyPem: string }>();

beforeAll(async () => {
  for (const algorithm of ALGORITHMS) {
    const ca = await createRootCa(await tempDir(), `Sig ${algorithm} CA`, algorithm);
    const issued = await issueCertificate(ca, { id: 'holder', subject: '/C=CN/O=Holder/CN=Holder', algorithm });
    holders.set(algorithm, issued);
  }
}, 60_000);

const encode = (text: string) => new TextEncoder().encode(text);
const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));

async function rejection(work: Promise<unknown>): Promise<CertificateRejected> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(CertificateRejected);
  return error as CertificateRejected;
}

async function cmsFor(algorithm: KeyAlgorithm, text: string): Promise<string> {
  const holder = holders.get(algorithm)!;
  if (algorithm === 'sm2') return signCmsSm2(holder.certPem, holder.keyPem, text);
  return signCmsWithOpenssl(holder.certPem, holder.keyPem, text, algorithm === 'ec384' ? 'sha384' : 'sha256');
}

describe.each(ALGORITHMS)('challenge signature with %s', (algorithm) => {
  it('accepts a raw signature', async () => {
    const holder = holders.get(algorithm)!;
    const signature = await signRaw(holder.keyPem, CHALLENGE, algorithm);
    await verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(signature), 'raw');
  });

  it('rejects a raw signature over other text', async () => {
    const holder = holders.get(algorithm)!;
    const signature = await signRaw(holder.keyPem, CHALLENGE.replace('purpose=bind', 'purpose=login'), algorithm);
    const error = await rejection(verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(signature), 'raw'));
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('accepts a detached CMS signature', async () => {
    const holder = holders.get(algorithm)!;
    await verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(await cmsFor(algorithm, CHALLENGE)), 'cms');
  });

  it('rejects a CMS signature over other text', async () => {
    const holder = holders.get(algorithm)!;
    const cms = await cmsFor(algorithm, CHALLENGE.replace('purpose=bind', 'purpose=login'));
    const error = await rejection(verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(cms), 'cms'));
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.message).toContain('message digest');
  });
});

describe('challenge signature input checks', () => {
  it('rejects a CMS signature from another certificate', async () => {
    const cms = await cmsFor('ec', CHALLENGE);
    const error = await rejection(verifyChallengeSignature(parseCertificate(holders.get('rsa')!.certPem), encode(CHALLENGE), bytes(cms), 'cms'));
    expect(error.message).toContain('signer is not this certificate');
  });

  it('rejects trailing bytes after a CMS signature', async () => {
    const cms = bytes(await cmsFor('ec', CHALLENGE));
    const error = await rejection(verifyChallengeSignature(parseCertificate(holders.get('ec')!.certPem), encode(CHALLENGE), new Uint8Array([...cms, 0]), 'cms'));
    expect(error.code).toBe('MALFORMED');
  });

  it('rejects an SM2 signature under the empty signer ID', async () => {
    const holder = holders.get('sm2')!;
    const signature = await signRaw(holder.keyPem, CHALLENGE, 'sm2');
    const error = await rejection(verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(signature), 'raw', ''));
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.message).toContain('checked as SM2 with SM3 under signer ID ""');
  });

  it('names the SM2 signer ID for CMS', async () => {
    const holder = holders.get('sm2')!;
    const cms = await cmsFor('sm2', CHALLENGE);
    const error = await rejection(verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(cms), 'cms', 'ALICE123@YAHOO.COM'));
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.message).toContain('under signer ID "ALICE123@YAHOO.COM"');
  });

  it('names no signer ID for ECDSA', async () => {
    const holder = holders.get('ec')!;
    const signature = await signRaw(holder.keyPem, CHALLENGE.replace('nonce=abc', 'nonce=abd'), 'ec');
    const error = await rejection(verifyChallengeSignature(parseCertificate(holder.certPem), encode(CHALLENGE), bytes(signature), 'raw'));
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.message).not.toContain('signer ID');
  });
});
