import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEnterprise } from '../../functions/db/enterprises.js';
import { randomCreditCode } from '../helpers/codes.js';
import { startTestService } from '../helpers/service.js';

let service: Awaited<ReturnType<typeof startTestService>>;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => {
  await service?.stop();
});

/** Send raw bytes to an API path with the given headers; returns the status and parsed JSON body. */
async function send(path: string, body: Uint8Array | string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(`${service.url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : Uint8Array.from(body) });
  return { status: response.status, body: await response.json() };
}

const registration = (creditCode: string, name = '测试建设有限公司') =>
  JSON.stringify({ creditCode, name, legalRepresentative: '王五', contact: { name: '赵六', phone: '13800138000' } });

describe('request body decoding', () => {
  it('rejects invalid UTF-8 naming the offset', async () => {
    const code = randomCreditCode();
    const [before, after] = registration(code, '@@').split('@@');
    const prefix = Buffer.from(before, 'utf8');
    const bytes = Buffer.concat([prefix, Buffer.from([0xff, 0xfe]), Buffer.from(' bad' + after, 'utf8')]);
    const response = await send('/api/enterprises', bytes);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('INVALID_BODY');
    expect(response.body.details.offset).toBe(prefix.length);
    expect(response.body.message).toContain(`offset ${prefix.length} (FF FE 20 62)`);
    expect(await getEnterprise(code)).toBeUndefined();
  });

  it.each([
    ['a truncated sequence', [0xe6, 0xb5]],
    ['an overlong form', [0xc0, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('rejects %s', async (_, bad) => {
    const code = randomCreditCode();
    const [before, after] = registration(code, '测@@').split('@@');
    const prefix = Buffer.from(before, 'utf8');
    const response = await send('/api/enterprises', Buffer.concat([prefix, Buffer.from(bad), Buffer.from(after, 'utf8')]));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('INVALID_BODY');
    expect(response.body.details.offset).toBe(prefix.length);
    expect(await getEnterprise(code)).toBeUndefined();
  });

  it('accepts multi-byte UTF-8 text', async () => {
    const code = randomCreditCode();
    const response = await send('/api/enterprises', Buffer.from(registration(code, '深圳𠀋建设有限公司'), 'utf8'));
    expect(response.status).toBe(201);
    expect((await getEnterprise(code))?.details?.name).toBe('深圳𠀋建设有限公司');
  });

  it('rejects a byte order mark clearly', async () => {
    const code = randomCreditCode();
    const response = await send('/api/enterprises', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(registration(code), 'utf8')]));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('INVALID_BODY');
    expect(response.body.message).toContain('remove the byte order mark');
    expect(await getEnterprise(code)).toBeUndefined();
  });
});

describe('request media type', () => {
  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['text/plain with charset', { 'content-type': 'text/plain;charset=UTF-8' }],
    ['a form type', { 'content-type': 'application/x-www-form-urlencoded' }],
  ])('rejects registration sent as %s', async (_, headers) => {
    const code = randomCreditCode();
    const response = await send('/api/enterprises', registration(code), headers);
    expect(response.status).toBe(415);
    expect(response.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(response.body.message).toContain(JSON.stringify(headers['content-type']));
    expect(response.body.message).toContain('application/json');
    expect(await getEnterprise(code)).toBeUndefined();
  });

  it('rejects registration without content-type', async () => {
    const code = randomCreditCode();
    // A Blob without a type makes fetch send no content-type header at all.
    const response = await fetch(`${service.url}/api/enterprises`, { method: 'POST', body: new Blob([registration(code)]) });
    const body = await response.json();
    expect(response.status).toBe(415);
    expect(body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(body.message).toContain('no content-type');
    expect(await getEnterprise(code)).toBeUndefined();
  });

  it('rejects a challenge request sent as text/plain', async () => {
    const response = await send('/api/challenges', JSON.stringify({ purpose: 'bind', creditCode: randomCreditCode() }), { 'content-type': 'text/plain' });
    expect(response.status).toBe(415);
    expect(response.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it.each([
    ['charset=utf-8', 'application/json; charset=utf-8'],
    ['a quoted upper-case charset', 'Application/JSON; Charset="UTF-8"'],
    ['another parameter', 'application/json; profile=registration'],
  ])('accepts application/json with %s', async (_, contentType) => {
    const code = randomCreditCode();
    const response = await send('/api/enterprises', registration(code), { 'content-type': contentType });
    expect(response.status).toBe(201);
    expect(await getEnterprise(code)).toBeDefined();
  });

  it('rejects a charset other than UTF-8', async () => {
    const code = randomCreditCode();
    const response = await send('/api/enterprises', registration(code), { 'content-type': 'application/json; charset=gbk' });
    expect(response.status).toBe(415);
    expect(response.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(response.body.message).toContain('charset "gbk"');
    expect(await getEnterprise(code)).toBeUndefined();
  });

  it('rejects a content-encoding', async () => {
    const code = randomCreditCode();
    const response = await send('/api/enterprises', registration(code), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(response.status).toBe(415);
    expect(response.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(response.body.message).toContain('content-encoding "gzip"');
    expect(await getEnterprise(code)).toBeUndefined();
  });
});
