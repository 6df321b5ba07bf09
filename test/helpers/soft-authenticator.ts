import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

interface SoftCredential {
  id: Buffer;
  key: KeyObject;
  rpId: string;
  userHandle: string;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** Whether the authenticator verifies the user (sets the UV flag). */
  userVerification?: boolean;
  /** Amount the signature counter grows per use; 0 makes an authenticator that always reports 0. */
  counterStep?: number;
  aaguid?: string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

/**
 * A WebAuthn authenticator in software for tests of the server side: real
 * P-256 keys, real authenticator data and ECDSA signatures, "none"
 * attestation. It signs for whatever origin it is given, so tests can play a
 * phishing site.
 */
export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();
  private readonly options: Required<SoftAuthenticatorOptions>;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.options = { userVerification: true, counterStep: 1, aaguid: '00000000-0000-0000-0000-000000000000', ...options };
  }

  private flags(extra: number): number {
    return 0x01 | (this.options.userVerification ? 0x04 : 0) | extra;
  }

  register(options: PublicKeyCredentialCreationOptionsJSON, origin: string): RegistrationResponseJSON {
    const rpId = options.rp.id!;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(32);
    const credential: SoftCredential = { id, key: privateKey, rpId, userHandle: options.user.id, counter: 0 };
    this.credentials.set(id.toString('base64url'), credential);
    const coseKey = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(id.length);
    const authData = Buffer.concat([
      this.header(rpId, this.flags(0x40), credential.counter),
      Buffer.from(this.options.aaguid.replace(/-/g, ''), 'hex'),
      length,
      id,
      Buffer.from(isoCBOR.encode(coseKey)),
    ]);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }));
    return {
      id: id.toString('base64url'),
      rawId: id.toString('base64url'),
      type: 'public-key',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        attestationObject: Buffer.from(attestationObject).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /**
   * Sign an authentication request with the first (or the named) credential
   * for the RP. `counter` overrides the next signature counter, to play a
   * cloned authenticator.
   */
  authenticate(options: PublicKeyCredentialRequestOptionsJSON, origin: string, extra: { credentialId?: string; counter?: number } = {}): AuthenticationResponseJSON {
    const credential = extra.credentialId
      ? this.credentials.get(extra.credentialId)
      : [...this.credentials.values()].find((candidate) => candidate.rpId === options.rpId);
    if (!credential) throw new Error(`no credential for RP ${options.rpId}`);
    credential.counter = extra.counter ?? credential.counter + this.options.counterStep;
    const authData = this.header(credential.rpId, this.flags(0), credential.counter);
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.key);
    return {
      id: credential.id.toString('base64url'),
      rawId: credential.id.toString('base64url'),
      type: 'public-key',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        authenticatorData: authData.toString('base64url'),
        signature: signature.toString('base64url'),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
    };
  }

  private header(rpId: string, flags: number, counter: number): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count]);
  }
}
