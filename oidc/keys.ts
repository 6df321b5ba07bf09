import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** Provider key material: token signing keys (first one signs) and cookie signing keys (first one signs). */
export interface ProviderKeys {
  jwks: { keys: JWK[] };
  cookieKeys: string[];
}

/**
 * Load the provider's keys. In AWS they come from the Secrets Manager secret
 * named by OIDC_KEYS_SECRET_ARN; locally from the JSON file OIDC_KEYS_FILE,
 * which is created on first use. Keys are never generated per process, so tokens
 * and cookies stay valid across restarts and across Lambda instances.
 */
export async function loadProviderKeys(): Promise<ProviderKeys> {
  const secretArn = process.env.OIDC_KEYS_SECRET_ARN;
  if (secretArn) {
    const client = new SecretsManagerClient({});
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    if (!result.SecretString) throw new Error(`secret ${secretArn} has no string value; store the provider keys as JSON`);
    return parseKeys(result.SecretString, `secret ${secretArn}`);
  }
  const file = process.env.OIDC_KEYS_FILE;
  if (!file) {
    throw new Error('no provider keys configured: set OIDC_KEYS_SECRET_ARN (AWS) or OIDC_KEYS_FILE (local host)');
  }
  try {
    return parseKeys(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const keys = await generateProviderKeys();
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
    return keys;
  }
}

function parseKeys(text: string, source: string): ProviderKeys {
  const parsed = JSON.parse(text) as Partial<ProviderKeys>;
  if (!parsed.jwks?.keys?.length) throw new Error(`${source} holds no signing keys (jwks.keys is empty)`);
  if (!parsed.cookieKeys?.length) throw new Error(`${source} holds no cookie keys (cookieKeys is empty)`);
  return parsed as ProviderKeys;
}

/** Generate a fresh key set: an ES256 and an RS256 signing key and one cookie key. */
export async function generateProviderKeys(): Promise<ProviderKeys> {
  const keys: JWK[] = [];
  for (const alg of ['ES256', 'RS256'] as const) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({ ...(await exportJWK(privateKey)), alg, use: 'sig', kid: randomUUID() });
  }
  return { jwks: { keys }, cookieKeys: [randomBytes(32).toString('base64url')] };
}
