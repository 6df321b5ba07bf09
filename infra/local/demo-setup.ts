import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getCaProfile } from '../../functions/db/ca-profiles.js';
import { findPlatformClient, savePlatformClient } from '../../functions/services/clients.js';
import { saveCaProfile } from '../../functions/services/ca-profiles.js';
import { defaultProfile } from '../../functions/pki/trust-store.js';
import { createRootCa, issueCertificate } from './openssl-ca.js';
import { randomSecret } from './service.js';

export const DEMO_CREDIT_CODE = '914403001922038216';
export const DEMO_ENTERPRISE_NAME = '示范建设工程有限公司';
export const DEMO_CA_ID = 'demo-ca';
export const DEMO_CLIENT_ID = 'demo-platform';
export const DEMO_REDIRECT_URI = 'http://localhost:8080/callback';

export interface DemoMaterial {
  dir: string;
  caCertPath: string;
  certPath: string;
  keyPath: string;
  clientFile: string;
}

/**
 * Create, once, a demo CA and an enterprise certificate with the openssl CLI in
 * `<dataDir>/demo`, trust the CA, and register a demo platform client whose
 * secret is written to client.json in that folder (never printed).
 */
export async function ensureDemo(dataDir: string): Promise<DemoMaterial> {
  const dir = join(dataDir, 'demo');
  const caDir = join(dir, 'ca');
  const material: DemoMaterial = {
    dir,
    caCertPath: join(caDir, 'ca.pem'),
    certPath: join(caDir, 'enterprise.pem'),
    keyPath: join(caDir, 'enterprise.key'),
    clientFile: join(dir, 'client.json'),
  };
  await mkdir(dir, { recursive: true });
  if (!existsSync(material.certPath)) {
    const ca = await createRootCa(caDir, 'Demo CA', 'ec');
    await issueCertificate(ca, {
      id: 'enterprise',
      subject: `/C=CN/O=${DEMO_ENTERPRISE_NAME}/serialNumber=${DEMO_CREDIT_CODE}/CN=${DEMO_ENTERPRISE_NAME}`,
      algorithm: 'ec',
    });
  }
  if (!(await getCaProfile(DEMO_CA_ID))) {
    const profile = defaultProfile(DEMO_CA_ID, 'Demo CA (local only)', [await readFile(material.caCertPath, 'utf8')]);
    profile.revocation = { ...profile.revocation, failPolicy: 'open' };
    await saveCaProfile(profile);
  }
  if (!(await findPlatformClient(DEMO_CLIENT_ID))) {
    const secret = existsSync(material.clientFile) ? JSON.parse(await readFile(material.clientFile, 'utf8')).client_secret : randomSecret();
    // The demo platform also reads the change feed, with client credentials and scope feed:read.
    await savePlatformClient({
      client_id: DEMO_CLIENT_ID,
      client_secret: secret,
      client_name: '演示交易平台 Demo Platform',
      redirect_uris: [DEMO_REDIRECT_URI],
      grant_types: ['authorization_code', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid enterprise feed:read',
    });
    await writeFile(material.clientFile, JSON.stringify({ client_id: DEMO_CLIENT_ID, client_secret: secret, redirect_uri: DEMO_REDIRECT_URI }, null, 2), { mode: 0o600 });
  }
  return material;
}
