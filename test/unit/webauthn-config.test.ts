import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, webauthnConfig } from '../../functions/lib/config.js';

const NAMES = ['PUBLIC_ORIGIN', 'WEBAUTHN_RP_ID', 'WEBAUTHN_ORIGINS', 'WEBAUTHN_AAGUIDS', 'PASSKEY_REGISTRATION_WINDOW_SECONDS'];
const saved = Object.fromEntries(NAMES.map((name) => [name, process.env[name]]));

function setEnv(values: Record<string, string>): void {
  for (const name of NAMES) delete process.env[name];
  Object.assign(process.env, values);
}

afterEach(() => {
  for (const name of NAMES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe('WebAuthn configuration', () => {
  it('defaults to the public origin', () => {
    setEnv({ PUBLIC_ORIGIN: 'http://localhost:3000' });
    const settings = webauthnConfig();
    expect(settings.rpId).toBe('localhost');
    expect(settings.origins).toEqual(['http://localhost:3000']);
    expect(settings.aaguidAllowList).toBeUndefined();
    expect(settings.registrationWindowSeconds).toBe(300);
  });

  it('accepts subdomain origins of the RP ID', () => {
    setEnv({ PUBLIC_ORIGIN: 'https://id.ggzy.example.cn', WEBAUTHN_RP_ID: 'ggzy.example.cn', WEBAUTHN_ORIGINS: 'https://id.ggzy.example.cn, https://ggzy.example.cn/' });
    expect(webauthnConfig().origins).toEqual(['https://id.ggzy.example.cn', 'https://ggzy.example.cn']);
  });

  it.each([
    [{ PUBLIC_ORIGIN: 'http://127.0.0.1:3000' }, 'IP address'],
    [{ PUBLIC_ORIGIN: 'http://localhost:3000', WEBAUTHN_RP_ID: '[::1]' }, 'IP address'],
    [{ PUBLIC_ORIGIN: 'https://id.example.cn', WEBAUTHN_ORIGINS: 'https://evil.example' }, 'not on RP ID id.example.cn'],
    [{ PUBLIC_ORIGIN: 'http://id.example.cn' }, 'https'],
    [{ PUBLIC_ORIGIN: 'https://id.example.cn', WEBAUTHN_ORIGINS: 'https://id.example.cn/login' }, 'not an origin'],
    [{ PUBLIC_ORIGIN: 'https://id.example.cn', WEBAUTHN_AAGUIDS: 'yubikey' }, 'not an AAGUID'],
    [{ PUBLIC_ORIGIN: 'https://id.example.cn', PASSKEY_REGISTRATION_WINDOW_SECONDS: '5' }, '30 to 3600'],
  ])('rejects %o', (values, message) => {
    setEnv(values);
    expect(() => webauthnConfig()).toThrow(ConfigError);
    expect(() => webauthnConfig()).toThrow(message);
  });

  it('reads an AAGUID allow-list', () => {
    setEnv({ PUBLIC_ORIGIN: 'https://id.example.cn', WEBAUTHN_AAGUIDS: 'EE882879-721C-4913-9775-3DFCCE97072A' });
    expect(webauthnConfig().aaguidAllowList).toEqual(['ee882879-721c-4913-9775-3dfcce97072a']);
  });
});
