import { describe, expect, it } from 'vitest';
import { applyKeyCommand, describeKeys, type StoredKeys } from '../../infra/aws/provider-keys.js';

const empty: StoredKeys = { jwks: { keys: [] }, cookieKeys: [] };
const kids = (keys: StoredKeys) => keys.jwks.keys.map((key) => key.kid);

describe('provider key rotation', () => {
  it('init creates one key per algorithm', async () => {
    const keys = await applyKeyCommand('init', empty);
    expect(keys.jwks.keys.map((key) => key.alg)).toEqual(['ES256', 'RS256']);
    expect(keys.cookieKeys).toHaveLength(1);
    expect(keys.staged).toBe(0);
  });

  it('init rejects replacing keys', async () => {
    const keys = await applyKeyCommand('init', empty);
    await expect(applyKeyCommand('init', keys)).rejects.toThrow(/already contains keys/);
  });

  it('stage, promote and retire keep old keys until retire', async () => {
    const initial = await applyKeyCommand('init', empty);
    const staged = await applyKeyCommand('stage', initial);
    // Staged keys are published after the signing ones, so the old keys still sign.
    expect(kids(staged).slice(0, 2)).toEqual(kids(initial));
    expect(staged.jwks.keys).toHaveLength(4);
    expect(staged.cookieKeys[0]).toBe(initial.cookieKeys[0]);
    expect(staged.staged).toBe(2);

    const promoted = await applyKeyCommand('promote', staged);
    expect(kids(promoted)).toEqual([...kids(staged).slice(2), ...kids(initial)]);
    expect(promoted.cookieKeys).toEqual([staged.cookieKeys[1], initial.cookieKeys[0]]);
    expect(promoted.staged).toBe(0);

    const retired = await applyKeyCommand('retire', promoted);
    expect(kids(retired)).toEqual(kids(staged).slice(2));
    expect(retired.jwks.keys.map((key) => key.alg)).toEqual(['ES256', 'RS256']);
    expect(retired.cookieKeys).toEqual([staged.cookieKeys[1]]);
  });

  it('steps out of order are rejected', async () => {
    const initial = await applyKeyCommand('init', empty);
    await expect(applyKeyCommand('promote', initial)).rejects.toThrow(/no keys are staged/);
    const staged = await applyKeyCommand('stage', initial);
    await expect(applyKeyCommand('stage', staged)).rejects.toThrow(/already staged/);
    await expect(applyKeyCommand('retire', staged)).rejects.toThrow(/staged but not promoted/);
    await expect(applyKeyCommand('stage', empty)).rejects.toThrow(/run init/);
  });

  it('description shows no key material', async () => {
    const keys = await applyKeyCommand('init', empty);
    const text = describeKeys(keys);
    expect(text).toContain(String(keys.jwks.keys[0].kid));
    expect(text).not.toContain(String(keys.jwks.keys[0].d));
    expect(text).not.toContain(keys.cookieKeys[0]);
  });
});
