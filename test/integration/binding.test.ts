import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { bind, postJson, signChallenge, type Holder } from '../../infra/local/journey.js';
import { randomCreditCode } from '../helpers/codes.js';
import { createRootCa, enterpriseHolder, issueIntermediateCa, tempDir, type TestCa, profileWithoutRevocation } from '../helpers/pki.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
let trusted: TestCa;
let untrusted: TestCa;
let intermediate: TestCa;

beforeAll(async () => {
  service = await startTestService();
  const dir = await tempDir();
  trusted = await createRootCa(`${dir}/trusted`, 'Trusted Test CA', 'ec');
  untrusted = await createRootCa(`${dir}/untrusted`, 'Rogue CA', 'ec');
  intermediate = await issueIntermediateCa(trusted, `${dir}/intermediate`, 'Trusted Issuing CA', 'rsa');
  await saveCaProfile(profileWithoutRevocation('trusted', 'Trusted Test CA', [trusted.certPem]));
});
afterAll(async () => {
  await service?.stop();
});

async function registered(name = '绑定测试有限公司'): Promise<string> {
  const code = randomCreditCode();
  const response = await postJson(`${service.url}/api/enterprises`, {
    creditCode: code,
    name,
    legalRepresentative: '钱七',
    contact: { name: '孙八', phone: '13800138000' },
  });
  expect(response.status).toBe(201);
  return code;
}

async function challengeFor(code: string): Promise<string> {
  const response = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode: code });
  expect(response.status).toBe(201);
  return response.body.challenge;
}

async function submit(code: string, holder: Holder, challenge: string, signature = signChallenge(holder.keyPem, challenge)) {
  return postJson(`${service.url}/api/enterprises/${code}/certificates`, {
    certificate: holder.certPem,
    chain: holder.chainPems ?? [],
    challenge,
    signature,
  });
}

describe('certificate binding', () => {
  it('binds a certificate and verifies the enterprise', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'ok', code, { name: '证书上的公司名' });
    const response = await bind(service.url, code, holder);
    expect(response.status).toBe(201);
    expect(response.body.enterprise.status).toBe('verified');
    expect(response.body.certificate).toMatchObject({ creditCode: code, status: 'active', caId: 'trusted', source: 'self' });
    expect(response.body.certificate.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(response.body.certificate.issuer).toContain('Trusted Test CA Root');
    // Details typed in before the certificate proved ownership stay unconfirmed; the CA's name is used.
    expect(response.body.enterprise.detailsConfirmed).toBe(false);
    expect(response.body.enterprise.name).toBe('证书上的公司名');
  });

  it('keeps earlier details when the holder confirms them', async () => {
    const code = await registered('自己登记的名称');
    const holder = await enterpriseHolder(trusted, 'confirm', code);
    const response = await bind(service.url, code, holder, { confirmDetails: true });
    expect(response.status).toBe(201);
    expect(response.body.enterprise.detailsConfirmed).toBe(true);
    expect(response.body.enterprise.name).toBe('自己登记的名称');
  });

  it('lets the holder replace details entered by someone else', async () => {
    const code = await registered('抢注者填写的名称');
    const holder = await enterpriseHolder(trusted, 'replace', code);
    const details = { name: '真实公司', legalRepresentative: '周九', contact: { name: '吴十', phone: '13900139000' } };
    const response = await bind(service.url, code, holder, { details });
    expect(response.status).toBe(201);
    expect(response.body.enterprise.name).toBe('真实公司');
    expect(response.body.enterprise.detailsConfirmed).toBe(true);
  });

  it('guides a code owner past ALREADY_REGISTERED', async () => {
    const code = await registered('抢注者填写的名称');
    const details = { name: '真实公司', legalRepresentative: '周九', contact: { name: '吴十', phone: '13900139000' } };
    const refused = await postJson(`${service.url}/api/enterprises`, { creditCode: code, ...details });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('ALREADY_REGISTERED');
    expect(refused.body.message).toContain(`bind a certificate that carries credit code ${code}`);
    expect(refused.body.message).toContain('"details"');
    expect(refused.body.details).toEqual({ creditCode: code, challengePath: '/api/challenges', bindPath: `/api/enterprises/${code}/certificates` });

    // Following the message: a challenge from challengePath, then the bind with details at bindPath.
    const holder = await enterpriseHolder(trusted, 'owner-after-409', code);
    const challenge = await postJson(`${service.url}${refused.body.details.challengePath}`, { purpose: 'bind', creditCode: code });
    const bound = await postJson(`${service.url}${refused.body.details.bindPath}`, {
      certificate: holder.certPem,
      challenge: challenge.body.challenge,
      signature: signChallenge(holder.keyPem, challenge.body.challenge),
      details,
    });
    expect(bound.status).toBe(201);
    expect(bound.body.enterprise.name).toBe('真实公司');
    expect(bound.body.enterprise.detailsConfirmed).toBe(true);
  });

  it.each([
    [{ confirmDetails: 'yes' }, 'confirmDetails'],
    [{ details: 'abc' }, 'details'],
    [{ details: { name: 123, legalRepresentative: 'x', contact: { name: 'y', phone: '13800138000' } } }, 'details.name'],
  ])('rejects invalid binding options %#', async (extra, field) => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, `options-${field}`, code);
    const response = await bind(service.url, code, holder, extra);
    expect(response.status).toBe(400);
    expect(response.body.details.field).toBe(field);
  });

  it('completes a leaf-only chain from a supplied intermediate', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(intermediate, 'via-intermediate', code, { algorithm: 'rsa', chain: [intermediate] });
    expect((await bind(service.url, code, holder)).status).toBe(201);
  });

  it('answers a second bind of the same certificate with 200', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'twice', code);
    expect((await bind(service.url, code, holder)).status).toBe(201);
    const again = await bind(service.url, code, holder);
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);
  });

  it('rejects a certificate from an untrusted CA', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(untrusted, 'rogue', code);
    const response = await bind(service.url, code, holder);
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('UNTRUSTED');
    expect(response.body.message).toContain('Rogue CA Root');
    expect(response.body.details.certificate.serial).toMatch(/^[0-9A-F]+$/);
    expect(response.body.details.explanation.zh).toBeTruthy();
  });

  it('rejects an expired certificate', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'expired', code, { startDate: '20200101000000Z', endDate: '20210101000000Z' });
    const response = await bind(service.url, code, holder);
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('EXPIRED');
    expect(response.body.message).toContain('2021-01-01');
  });

  it('rejects a certificate that is not yet valid', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'future', code, { startDate: '20900101000000Z', endDate: '20910101000000Z' });
    const response = await bind(service.url, code, holder);
    expect(response.body.error).toBe('NOT_YET_VALID');
  });

  it('rejects a certificate whose key cannot sign', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'encipher', code, { extensions: 'encipher_only_ext' });
    const response = await bind(service.url, code, holder);
    expect(response.body.error).toBe('KEY_USAGE');
  });

  it('rejects a certificate for another credit code', async () => {
    const code = await registered();
    const other = randomCreditCode();
    const holder = await enterpriseHolder(trusted, 'other-code', other);
    const response = await bind(service.url, code, holder);
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('CREDIT_CODE_MISMATCH');
    expect(response.body.message).toContain(other);
    expect(response.body.message).toContain(code);
  });

  it('rejects a certificate without a credit code', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'no-code', code, { subject: '/C=CN/O=无代码公司/CN=无代码公司' });
    expect((await bind(service.url, code, holder)).body.error).toBe('CREDIT_CODE_MISSING');
  });

  it('finds the code inside the CN', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'cn-code', code, { subject: `/C=CN/O=某公司/CN=某公司@${code}@01` });
    expect((await bind(service.url, code, holder)).status).toBe(201);
  });

  it('rejects a signature over a different challenge', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'wrong-sig', code);
    const issued = await challengeFor(code);
    const other = await challengeFor(code);
    const response = await submit(code, holder, issued, signChallenge(holder.keyPem, other));
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('SIGNATURE_INVALID');
  });

  it('rejects a signature by another key', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'cert-a', code);
    const thief = await enterpriseHolder(trusted, 'cert-b', code);
    const challenge = await challengeFor(code);
    const response = await submit(code, holder, challenge, signChallenge(thief.keyPem, challenge));
    expect(response.body.error).toBe('SIGNATURE_INVALID');
  });

  it('rejects a replayed challenge', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'replay', code);
    const challenge = await challengeFor(code);
    expect((await submit(code, holder, challenge)).status).toBe(201);
    const replay = await submit(code, holder, challenge);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('CHALLENGE_INVALID');
    expect(replay.body.message).toContain('already used');
  });

  it('rejects a challenge issued for another enterprise', async () => {
    const code = await registered();
    const other = await registered();
    const holder = await enterpriseHolder(trusted, 'cross', code);
    const challenge = await challengeFor(other);
    const response = await submit(code, holder, challenge);
    expect(response.body.error).toBe('CHALLENGE_INVALID');
    expect(response.body.message).toContain(other);
  });

  it('rejects an altered challenge text', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'altered', code);
    const challenge = (await challengeFor(code)).replace('purpose=bind', 'purpose=login');
    expect((await submit(code, holder, challenge)).body.error).toBe('CHALLENGE_INVALID');
  });

  it('binds once when the same request races', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'race', code);
    const challenge = await challengeFor(code);
    const results = await Promise.all(Array.from({ length: 5 }, () => submit(code, holder, challenge)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 400 && r.body.error === 'CHALLENGE_INVALID')).toHaveLength(4);
  });

  it('rejects binding to an unregistered code', async () => {
    const code = randomCreditCode();
    const holder = await enterpriseHolder(trusted, 'unregistered', code);
    const response = await bind(service.url, code, holder);
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('NOT_REGISTERED');
  });

  it.each([
    ['garbage', 'not a certificate'],
    ['trailing bytes', 'TRAILING'],
  ])('rejects a malformed certificate (%s)', async (_label, kind) => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, `bad-${kind.length}`, code);
    const der = Buffer.from(holder.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const certificate = kind === 'TRAILING' ? Buffer.concat([der, Buffer.from([0, 0])]).toString('base64') : Buffer.from(kind).toString('base64');
    const challenge = await challengeFor(code);
    const response = await postJson(`${service.url}/api/enterprises/${code}/certificates`, {
      certificate,
      challenge,
      signature: signChallenge(holder.keyPem, challenge),
    });
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('MALFORMED');
  });

  it.each([
    ['plain text', 'hello'],
    ['base64 of text', Buffer.from('not a certificate').toString('base64')],
    ['a PEM key', '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----'],
  ])('says %s is not a certificate', async (label, certificate) => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, `text-${label.length}`, code);
    const challenge = await challengeFor(code);
    const response = await postJson(`${service.url}/api/enterprises/${code}/certificates`, { certificate, challenge, signature: signChallenge(holder.keyPem, challenge) });
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('MALFORMED');
    expect(response.body.message).not.toContain('canonical DER');
    if (label === 'a PEM key') expect(response.body.message).toContain('PEM label is PUBLIC KEY');
    else expect(response.body.message).toContain('not a PEM or base64 DER certificate');
  });

  it('keeps the DER message for real DER', async () => {
    const code = await registered();
    const holder = await enterpriseHolder(trusted, 'der-trailing', code);
    const der = Buffer.from(holder.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const challenge = await challengeFor(code);
    const certificate = Buffer.concat([der, Buffer.from([0, 0])]).toString('base64');
    const response = await postJson(`${service.url}/api/enterprises/${code}/certificates`, { certificate, challenge, signature: signChallenge(holder.keyPem, challenge) });
    expect(response.status).toBe(422);
    expect(response.body.message).toContain('2 trailing byte(s) after the DER value');
    expect(response.body.message).not.toContain('not a PEM or base64 DER certificate');
  });

  it('refuses to list certificates without a token', async () => {
    const code = await registered();
    const response = await fetch(`${service.url}/api/enterprises/${code}/certificates`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('enterprise');
  });
});
