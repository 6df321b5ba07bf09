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

  /**
   * Read the client key and fetch the issuer's discovery document. Throws an
   * error that names the key or the issuer URL when either cannot be used.
   * The token is requested on the first API call, or earlier with accessToken().
   */
  static async connect(options: { issuer: string; clientId: string; privateKeyPem: string; keyId?: string; keySource?: string }): Promise<CaFirmSession> {
    const key = readPrivateKey(options.privateKeyPem, options.keySource ?? 'the client key');
    const alg = jwsAlgorithmOf(key);
    const cryptoKey = await crypto.subtle.importKey(
      'pkcs8',
      key.export({ format: 'der', type: 'pkcs8' }),
      alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: alg === 'ES384' ? 'P-384' : 'P-256' },
      false,
      ['sign'],
    );
    let issuerUrl: URL;
    try {
      issuerUrl = new URL(options.issuer);
    } catch {
      throw new Error(`issuer ${JSON.stringify(options.issuer)} is not a URL; give the service's base URL, such as http://localhost:3000`);
    }
    let configuration: client.Configuration;
    try {
      configuration = await client.discovery(
        issuerUrl,
        options.clientId,
        { token_endpoint_auth_method: 'private_key_jwt' },
        client.PrivateKeyJwt({ key: cryptoKey, kid: options.keyId }),
        { execute: issuerUrl.protocol === 'http:' ? [client.allowInsecureRequests] : [] },
      );
    } catch (error) {
      const { cause } = error as { cause?: { code?: string; message?: string } };
      const detail = cause?.code ?? cause?.message;
      throw new Error(
        `cannot read the OpenID discovery document of issuer ${issuerUrl.href} (${(error as Error).message}${detail ? `: ${detail}` : ''}); ` +
          'check the issuer URL and that the service is running',
      );
    }
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

/** Parse a PEM private key, or throw an error that names its source and the expected format. */
function readPrivateKey(pem: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const found = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
    throw new Error(
      `${source} is not a PKCS#8 private key in PEM (${found ? `it contains a ${found}` : (error as Error).message}); ` +
        'give the private key registered for this client, starting with -----BEGIN PRIVATE KEY-----',
    );
  }
}

/** Return the JWS algorithm for a client key: RS256 for RSA, ES384 for P-384, ES256 otherwise (P-256). */
export function jwsAlgorithmOf(key: KeyObject): 'RS256' | 'ES384' | 'ES256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyDetails?.namedCurve === 'secp384r1') return 'ES384';
  return 'ES256';
}
