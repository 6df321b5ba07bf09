import { generateKeyPairSync } from 'node:crypto';
import { exportJWK } from 'jose';
import { savePlatformClient } from '../../functions/services/clients.js';

/** Register a CA firm client (private_key_jwt, scope ca:sync) and return its private key. */
export async function registerCaFirm(clientId: string, caProfiles: string[]): Promise<{ clientId: string; privateKeyPem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
  await savePlatformClient({
    client_id: clientId,
    client_name: `CA firm ${clientId}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [jwk] },
    scope: 'ca:sync',
    ca_profiles: caProfiles,
  });
  return { clientId, privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}
