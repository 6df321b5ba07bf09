import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as client from 'openid-client';

/**
 * A CA firm's API session: client credentials with private_key_jwt (RFC 7523)
 * against this service's token endpoint, scope ca:sync. The access token is
 * renewed a minute before it expires.
 */
export class CaFirmSession {
  private token?: { value: string; expiresAt: number };

  private constructor(private readonly configuration: client.Configuration, readonly baseUrl: string) {}

  static async connect(options: { issuer: string; clientId: string; privateKeyPem: string; keyId?: string }): Promise<CaFirmSession> {
    const key = createPrivateKey(options.privateKeyPem);
    const alg = jwsAlgorithmOf(key);
    const cryptoKey = await crypto.subtle.importKey(
      'pkcs8',
      key.export({ format: 'der', type: 'pkcs8' }),
      alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: alg === 'ES384' ? 'P-384' : 'P-256' },
      false,
      ['sign'],
    );
    const configuration = await client.discovery(
      new URL(options.issuer),
      options.clientId,
      { token_endpoint_auth_method: 'private_key_jwt' },
      client.PrivateKeyJwt({ key: cryptoKey, kid: options.keyId }),
      { execute: options.issuer.startsWith('http://') ? [client.allowInsecureRequests] : [] },
    );
    return new CaFirmSession(configuration, options.issuer.replace(/\/$/, ''));
  }

  async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - 60_000 > Date.now()) return this.token.value;
    let response: Awaited<ReturnType<typeof client.clientCredentialsGrant>>;
    try {
      response = await client.clientCredentialsGrant(this.configuration, { scope: 'ca:sync' });
    } catch (error) {
      const oauth = error as { error?: string; error_description?: string };
      throw new Error(
        `the token endpoint rejected client ${this.configuration.clientMetadata().client_id}` +
          `${oauth.error ? ` (${oauth.error}${oauth.error_description ? `: ${oauth.error_description}` : ''})` : ''}; ` +
          'check the client id and that the key is the one registered for it',
      );
    }
    this.token = { value: response.access_token, expiresAt: Date.now() + (response.expires_in ?? 300) * 1000 };
    return this.token.value;
  }

  /** Send a request to the CA sync API; returns the status and parsed JSON body. */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.accessToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }
}

/** Return the JWS algorithm for a client key: RS256 for RSA, ES384 for P-384, ES256 otherwise (P-256). */
export function jwsAlgorithmOf(key: KeyObject): 'RS256' | 'ES384' | 'ES256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
  return 'ES256';
}
