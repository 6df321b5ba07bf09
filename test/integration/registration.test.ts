import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from '../../infra/local/journey.js';
import { randomCreditCode, withWrongCheck } from '../helpers/codes.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => {
  await service?.stop();
});

const details = (creditCode: string, name = '测试建设有限公司') => ({
  creditCode,
  name,
  legalRepresentative: '王五',
  contact: { name: '赵六', phone: '+86 755 1234 5678', email: 'contact@example.com' },
});

describe('enterprise registration', () => {
  it('creates an unverified enterprise', async () => {
    const code = randomCreditCode();
    const response = await postJson(`${service.url}/api/enterprises`, details(code));
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/api/enterprises/${code}`);
    expect(response.body).toMatchObject({ creditCode: code, status: 'unverified', source: 'self', detailsConfirmed: false });
  });

  it('normalises a lower-case code', async () => {
    const code = randomCreditCode();
    const response = await postJson(`${service.url}/api/enterprises`, details(code.toLowerCase()));
    expect(response.status).toBe(201);
    expect(response.body.creditCode).toBe(code);
  });

  it('rejects a wrong check character naming the expected one', async () => {
    const code = randomCreditCode();
    const response = await postJson(`${service.url}/api/enterprises`, details(withWrongCheck(code)));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('INVALID_CREDIT_CODE');
    expect(response.body.details.expectedCheckCharacter).toBe(code[17]);
    expect(response.body.message).toContain(`require ${code[17]}`);
  });

  it('rejects a second registration without overwriting', async () => {
    const code = randomCreditCode();
    expect((await postJson(`${service.url}/api/enterprises`, details(code, '第一家公司'))).status).toBe(201);
    const second = await postJson(`${service.url}/api/enterprises`, details(code, '冒名公司'));
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('ALREADY_REGISTERED');
    const { getEnterprise } = await import('../../functions/db/enterprises.js');
    expect((await getEnterprise(code))?.details?.name).toBe('第一家公司');
  });

  it('lets exactly one of 20 concurrent registrations win', async () => {
    const code = randomCreditCode();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postJson(`${service.url}/api/enterprises`, details(code, `并发公司${i}`))),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const winner = responses.find((r) => r.status === 201)!;
    const { getEnterprise } = await import('../../functions/db/enterprises.js');
    const stored = await getEnterprise(code);
    expect(stored?.version).toBe(1);
    expect(winner.body.name).toBe(stored?.details?.name);
  });

  it.each([
    [{ name: '', legalRepresentative: 'x', contact: { name: 'a', phone: '12345678' } }, 'FIELD_MISSING', 'name'],
    [{ name: 'x', legalRepresentative: 'x' }, 'FIELD_MISSING', 'contact'],
    [{ name: 'x', legalRepresentative: 'x', contact: { name: 'a', phone: 'call me' } }, 'FIELD_INVALID', 'contact.phone'],
    [{ name: 'x', legalRepresentative: 'x', contact: { name: 'a', phone: '12345678', email: 'nope' } }, 'FIELD_INVALID', 'contact.email'],
    [{ name: 'x'.repeat(201), legalRepresentative: 'x', contact: { name: 'a', phone: '12345678' } }, 'FIELD_INVALID', 'name'],
    [{ name: 42, legalRepresentative: 'x', contact: { name: 'a', phone: '12345678' } }, 'FIELD_INVALID', 'name'],
  ])('rejects invalid details %#', async (body, error, field) => {
    const response = await postJson(`${service.url}/api/enterprises`, { creditCode: randomCreditCode(), ...body });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(error);
    expect(response.body.details.field).toBe(field);
  });

  it.each([
    [{ creditCode: 914403001922038216 }, 'FIELD_INVALID', 'creditCode'],
    [{ creditCode: undefined }, 'FIELD_MISSING', 'creditCode'],
    [{ name: '正常\u202e司公' }, 'FIELD_INVALID', 'name'],
    [{ name: 'A\ud800B' }, 'FIELD_INVALID', 'name'],
    [{ contact: { name: 'a', phone: '138' } }, 'FIELD_INVALID', 'contact.phone'],
  ])('rejects a wrong type or text %#', async (override, error, field) => {
    const body = { ...details(randomCreditCode()), ...override };
    const response = await postJson(`${service.url}/api/enterprises`, body);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe(error);
    expect(response.body.details.field).toBe(field);
  });

  it.each([
    ['a string', 'str', 'got string'],
    ['an array', [], 'got array'],
    ['a number', 5, 'got number'],
  ])('rejects contact as %s', async (_, contact, received) => {
    const response = await postJson(`${service.url}/api/enterprises`, { ...details(randomCreditCode()), contact });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('FIELD_INVALID');
    expect(response.body.details.field).toBe('contact');
    expect(response.body.message).toContain('contact must be an object {"name": ..., "phone": ..., "email": ...}');
    expect(response.body.message).toContain(received);
  });

  it('names a control character and its position', async () => {
    const response = await postJson(`${service.url}/api/enterprises`, { ...details(randomCreditCode()), name: '  深圳\u0007建设' });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('FIELD_INVALID');
    expect(response.body.details).toMatchObject({ field: 'name', character: 'U+0007', position: 5 });
    expect(response.body.message).toContain('U+0007 at position 5');
    expect(response.body.message).toContain('remove it');
  });

  it('explains the phone rule', async () => {
    const response = await postJson(`${service.url}/api/enterprises`, { ...details(randomCreditCode()), contact: { name: 'a', phone: '138' } });
    expect(response.body.message).toContain('5 to 29');
  });

  it('rejects a challenge request without purpose', async () => {
    const response = await postJson(`${service.url}/api/challenges`, { creditCode: randomCreditCode() });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('FIELD_MISSING');
  });

  it('rejects a challenge for an unregistered code', async () => {
    const response = await postJson(`${service.url}/api/challenges`, { purpose: 'bind', creditCode: randomCreditCode() });
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('NOT_REGISTERED');
  });

  it('rejects a body that is not JSON', async () => {
    const response = await fetch(`${service.url}/api/enterprises`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"creditCode":' });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('BODY_NOT_JSON');
  });

  it('rejects a malformed percent-encoding', async () => {
    const response = await fetch(`${service.url}/api/enterprises/%E0%A4%A`);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('PATH_INVALID');
  });

  it('rejects a body over the host limit', async () => {
    const response = await fetch(`${service.url}/api/enterprises`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(response.status).toBe(413);
    expect((await response.json()).error).toBe('BODY_TOO_LARGE');
  });

  it('rejects a body over the function limit with 413', async () => {
    const response = await fetch(`${service.url}/api/enterprises`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(600 * 1024) }) });
    expect(response.status).toBe(413);
    const body = await response.json();
    expect(body.error).toBe('BODY_TOO_LARGE');
    expect(body.message).toContain('the limit is 262144');
  });

  it('answers 405 naming the allowed method', async () => {
    const response = await fetch(`${service.url}/api/enterprises`, { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect((await response.json()).message).toContain('POST');
  });
});
