import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CertificateRejected } from '../../functions/pki/reasons.js';
import { checkLoginChallenge, issueLoginChallenge } from '../../functions/services/login-challenge.js';

const oldKey = randomBytes(32).toString('base64url');
const newKey = randomBytes(32).toString('base64url');
const uid = 'interaction-a';
const target = { uid, clientId: 'platform-a', scope: 'openid enterprise' };

/** Return the rejection of a challenge, or undefined when it is accepted. */
async function rejection(text: string, forUid: string, options: Parameters<typeof checkLoginChallenge>[2]): Promise<CertificateRejected | undefined> {
  try {
    await checkLoginChallenge(text, forUid, options);
    return undefined;
  } catch (error) {
    if (error instanceof CertificateRejected) return error;
    throw error;
  }
}

describe('login challenge', () => {
  it('accepts a fresh challenge for its interaction', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    expect(challenge.text).toContain(`context=${uid}`);
    expect(challenge.text).toContain('purpose=login');
    expect(await rejection(challenge.text, uid, { cookieKeys: [newKey] })).toBeUndefined();
  });

  it('returns the client and scope it names', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    expect(challenge.text).toContain('client=platform-a');
    expect(await checkLoginChallenge(challenge.text, uid, { cookieKeys: [newKey] })).toEqual(target);
  });

  it('refuses a value with a line break', async () => {
    const forged = { ...target, scope: 'openid\nclient=other' };
    await expect(issueLoginChallenge(forged, { cookieKeys: [newKey] })).rejects.toThrow(/line break/);
  });

  it('gives each challenge its own nonce', async () => {
    const first = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    const second = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    expect(first.text).not.toBe(second.text);
  });

  it('rejects another interaction', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    const error = await rejection(challenge.text, 'interaction-b', { cookieKeys: [newKey] });
    expect(error?.code).toBe('CHALLENGE_INVALID');
    expect(error?.message).toContain('interaction-b');
  });

  it('rejects an altered line', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    const later = new Date(challenge.expiresAt * 1000 + 3_600_000).toISOString();
    const altered = challenge.text.replace(/^expires=.*$/m, `expires=${later}`);
    expect(altered).not.toBe(challenge.text);
    const error = await rejection(altered, uid, { cookieKeys: [newKey] });
    expect(error?.code).toBe('CHALLENGE_INVALID');
    expect(error?.message).toContain('altered');
  });

  it('rejects an appended line', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [newKey] });
    const error = await rejection(`${challenge.text}\nextra=1`, uid, { cookieKeys: [newKey] });
    expect(error?.code).toBe('CHALLENGE_INVALID');
  });

  it('rejects an expired challenge', async () => {
    const issuedAt = new Date(Date.now() - 3_600_000);
    const challenge = await issueLoginChallenge(target, { cookieKeys: [newKey], now: issuedAt });
    const error = await rejection(challenge.text, uid, { cookieKeys: [newKey] });
    expect(error?.code).toBe('CHALLENGE_INVALID');
    expect(error?.message).toContain('expired');
  });

  it('rejects a key it does not hold', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [oldKey] });
    const error = await rejection(challenge.text, uid, { cookieKeys: [newKey] });
    expect(error?.code).toBe('CHALLENGE_INVALID');
  });

  it('accepts the previous key after a rotation', async () => {
    const challenge = await issueLoginChallenge(target, { cookieKeys: [oldKey] });
    expect(await rejection(challenge.text, uid, { cookieKeys: [newKey, oldKey] })).toBeUndefined();
  });

  it('names the purpose of a stored challenge', async () => {
    const bind = ['trading-identity challenge v1', 'purpose=bind', 'origin=http://localhost:3000', 'context=914403001922038216', `nonce=${randomBytes(32).toString('base64url')}`, 'expires=2030-01-01T00:00:00.000Z'].join('\n');
    const error = await rejection(bind, uid, { cookieKeys: [newKey] });
    expect(error?.code).toBe('CHALLENGE_INVALID');
    expect(error?.message).toContain('bind');
  });
});
