import { createPublicKey, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { getCaProfile } from '../../functions/db/ca-profiles.js';
import { findPlatformClient, savePlatformClient, type PlatformClient } from '../../functions/services/clients.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { jwsAlgorithmOf } from '../local/ca-client.js';

/**
 * First-time setup of a deployed stage, run by the operator with AWS
 * credentials and TABLE_NAME set to the stack's TableName output. It writes to
 * the table directly, through the same service code the functions run:
 *
 *   admin <client-id> <secret-file>                  operator client (client credentials, scope admin)
 *   ca-firm <client-id> <public-key.pem> <ca-profile-id>[,<ca-profile-id>...]
 *                                                     CA firm client (client credentials with private_key_jwt,
 *                                                     scope ca:sync), tied to the CA profiles it may act for
 *   platform <client-id> <name> <redirect-uri> <secret-file>
 *                                                     trading platform (authorization code, scopes openid enterprise feed:read)
 *   ca <ca-id> <name> <anchor.pem>                   trust a CA with default profile settings
 *
 * Client secrets are generated here and written only to <secret-file> (mode 0600),
 * never printed. Existing clients and CA profiles are left unchanged.
 */
const USAGE = `usage (TABLE_NAME and AWS credentials in the environment):
  npm run provision -- admin <client-id> <secret-file>
  npm run provision -- ca-firm <client-id> <public-key.pem> <ca-profile-id>[,<ca-profile-id>...]
  npm run provision -- platform <client-id> <name> <redirect-uri> <secret-file>
  npm run provision -- ca <ca-id> <name> <anchor.pem>`;

async function createClient(client: PlatformClient, secretFile: string): Promise<void> {
  if (await findPlatformClient(client.client_id)) {
    console.log(`client ${client.client_id} already exists; nothing changed`);
    return;
  }
  if (existsSync(secretFile)) throw new Error(`${secretFile} already exists; choose a new file so no secret is overwritten`);
  const secret = randomBytes(32).toString('base64url');
  await savePlatformClient({ ...client, client_secret: secret });
  await writeFile(secretFile, JSON.stringify({ client_id: client.client_id, client_secret: secret }, null, 2) + '\n', { mode: 0o600 });
  console.log(`created client ${client.client_id}; its secret is in ${secretFile}`);
}

function machineClient(clientId: string, name: string, scope: string): PlatformClient {
  return {
    client_id: clientId,
    client_name: name,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope,
  };
}

async function main(args: string[]): Promise<void> {
  if (!process.env.TABLE_NAME) throw new Error('TABLE_NAME is not set; use the TableName output of the service stack');
  const [command, ...rest] = args;
  if (command === 'admin' && rest.length === 2) {
    return createClient(machineClient(rest[0], 'Operator', 'admin'), rest[1]);
  }
  if (command === 'ca-firm' && rest.length === 3) {
    const [clientId, keyFile, profileList] = rest;
    if (await findPlatformClient(clientId)) {
      console.log(`client ${clientId} already exists; nothing changed`);
      return;
    }
    const caProfiles = profileList.split(',').map((id) => id.trim()).filter(Boolean);
    for (const id of caProfiles) {
      if (!(await getCaProfile(id))) throw new Error(`CA profile ${id} does not exist; trust the CA first with: npm run provision -- ca ${id} <name> <anchor.pem>`);
    }
    const publicKey = createPublicKey(await readFile(keyFile, 'utf8'));
    const alg = jwsAlgorithmOf(publicKey);
    await savePlatformClient({
      client_id: clientId,
      client_name: `CA firm ${clientId}`,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), alg, use: 'sig' }] },
      scope: 'ca:sync',
      ca_profiles: caProfiles,
    });
    console.log(`created CA firm client ${clientId} for CA profiles ${caProfiles.join(', ')}; it authenticates with the private key of ${keyFile}`);
    return;
  }
  if (command === 'platform' && rest.length === 4) {
    const [clientId, name, redirectUri, secretFile] = rest;
    if (!/^https:\/\//.test(redirectUri)) throw new Error(`redirect URI ${redirectUri} must use https`);
    return createClient(
      {
        client_id: clientId,
        client_name: name,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'client_credentials'],
        response_types: ['code'],
        scope: 'openid enterprise offline_access feed:read',
      },
      secretFile,
    );
  }
  if (command === 'ca' && rest.length === 3) {
    const [id, name, anchorFile] = rest;
    if (await getCaProfile(id)) {
      console.log(`CA profile ${id} already exists; change it through the admin API`);
      return;
    }
    const saved = await saveCaProfile(defaultProfile(id, name, [await readFile(anchorFile, 'utf8')]));
    console.log(`trusted CA ${saved.id} (${saved.name}) at version ${saved.version}`);
    return;
  }
  console.error(USAGE);
  process.exit(2);
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(`provision failed: ${error.message}`);
  process.exit(1);
});
