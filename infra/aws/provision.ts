import { createPublicKey, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { getCaProfile } from '../../functions/db/ca-profiles.js';
import { findPlatformClient, savePlatformClient, type PlatformClient } from '../../functions/services/clients.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { parseCaProfileInput } from '../../functions/services/ca-profile-input.js';
import { jwsAlgorithmOf } from '../local/ca-client.js';

/**
 * First-time setup of a deployed stage, run by the operator with AWS
 * credentials and TABLE_NAME set to the stack's TableName output. For the
 * local service, DYNAMODB_ENDPOINT and TABLE_NAME come from the
 * dynamoEndpoint and tableName of <DATA_DIR>/service.json (written by
 * `npm start`). It writes to the table directly, through the same service
 * code the functions run:
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
const USAGE = `usage (TABLE_NAME and AWS credentials in the environment, or for the local service
DYNAMODB_ENDPOINT and TABLE_NAME from .data/service.json):
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

/** Build the error for a missing TABLE_NAME, with the local service's values when service.json exists. */
async function missingTableMessage(): Promise<string> {
  const file = join(resolve(process.env.DATA_DIR ?? '.data'), 'service.json');
  let local = `for the local service, set DYNAMODB_ENDPOINT and TABLE_NAME to the dynamoEndpoint and tableName in ${file}, written by npm start`;
  try {
    const running = JSON.parse(await readFile(file, 'utf8')) as { dynamoEndpoint?: string; tableName?: string };
    if (running.dynamoEndpoint && running.tableName) {
      local = `for the local service, run with DYNAMODB_ENDPOINT=${running.dynamoEndpoint} TABLE_NAME=${running.tableName} (from ${file})`;
    }
  } catch {
    // No local service has been started here, so the generic hint stays.
  }
  return `TABLE_NAME is not set. For a deployed stage, set it to the TableName output of the service stack and provide AWS credentials; ${local}`;
}

/** Run one provisioning command. Returns the exit status: 0 done, 2 invalid invocation. */
export async function main(args: string[]): Promise<number> {
  if (!process.env.TABLE_NAME) throw new Error(await missingTableMessage());
  const [command, ...rest] = args;
  if (command === 'admin' && rest.length === 2) {
    await createClient(machineClient(rest[0], 'Operator', 'admin'), rest[1]);
    return 0;
  }
  if (command === 'ca-firm' && rest.length === 3) {
    const [clientId, keyFile, profileList] = rest;
    if (await findPlatformClient(clientId)) {
      console.log(`client ${clientId} already exists; nothing changed`);
      return 0;
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
    return 0;
  }
  if (command === 'platform' && rest.length === 4) {
    const [clientId, name, redirectUri, secretFile] = rest;
    // As in the admin API, plain http is accepted only for a platform on this machine.
    if (!/^https:\/\//.test(redirectUri) && !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?\//.test(redirectUri)) {
      throw new Error(`redirect URI ${redirectUri} must use https (plain http is accepted only for localhost)`);
    }
    await createClient(
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
    return 0;
  }
  if (command === 'ca' && rest.length === 3) {
    const [id, name, anchorFile] = rest;
    if (await getCaProfile(id)) {
      console.log(`CA profile ${id} already exists; change it through the admin API`);
      return 0;
    }
    // The admin API's own checks: an anchor that is not a CA certificate, or a malformed one, is refused.
    const saved = await saveCaProfile(parseCaProfileInput({ id, name, anchors: [await readFile(anchorFile, 'utf8')] }));
    console.log(`trusted CA ${saved.id} (${saved.name}) at version ${saved.version}`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

const isEntryPoint = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isEntryPoint) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`provision failed: ${error.message}`);
      process.exit(1);
    },
  );
}
