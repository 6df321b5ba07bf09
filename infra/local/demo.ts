import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEMO_CREDIT_CODE, DEMO_ENTERPRISE_NAME } from './demo-setup.js';
import { bind, certificateLogin, discoverPlatform, register } from './journey.js';

/**
 * `npm run demo`: play the whole journey against the running service (npm start):
 * register the demo enterprise, bind its certificate, and log in to the demo
 * platform through the authorization code flow with openid-client. Safe to
 * run again: what already exists is reused.
 */
const dataDir = resolve(process.env.DATA_DIR ?? '.data');

/** Return the origin that npm start recorded in service.json, or undefined when it has not run. */
async function recordedOrigin(): Promise<string | undefined> {
  try {
    const origin = JSON.parse(await readFile(join(dataDir, 'service.json'), 'utf8')).origin;
    return typeof origin === 'string' ? origin : undefined;
  } catch {
    return undefined;
  }
}

// SERVICE_URL or PORT win; otherwise the service that npm start last started with this data folder.
const base = (process.env.SERVICE_URL ?? (process.env.PORT ? `http://localhost:${process.env.PORT}` : ((await recordedOrigin()) ?? 'http://localhost:3000'))).replace(/\/$/, '');

const clientFile = join(dataDir, 'demo', 'client.json');
let demoClient: { client_id: string; client_secret: string; redirect_uri: string };
try {
  demoClient = JSON.parse(await readFile(clientFile, 'utf8'));
} catch {
  console.error(`cannot read ${clientFile}; start the service first with npm start (it creates the demo material)`);
  process.exit(1);
}
const holder = {
  certPem: await readFile(join(dataDir, 'demo', 'ca', 'enterprise.pem'), 'utf8'),
  keyPem: await readFile(join(dataDir, 'demo', 'ca', 'enterprise.key'), 'utf8'),
};

try {
  await fetch(`${base}/.well-known/openid-configuration`);
} catch {
  console.error(`no service answers at ${base}; start it with npm start (or set SERVICE_URL)`);
  process.exit(1);
}

const registered = await register(base, {
  creditCode: DEMO_CREDIT_CODE,
  name: DEMO_ENTERPRISE_NAME,
  legalRepresentative: '张三',
  contact: { name: '李四', phone: '0755-12345678', email: 'bids@example.com' },
});
console.log(registered.status === 201 ? `1. registered ${DEMO_CREDIT_CODE}` : `1. ${DEMO_CREDIT_CODE} is already registered (${registered.body.error}), reusing it`);

const bound = await bind(base, DEMO_CREDIT_CODE, holder, { confirmDetails: true });
if (bound.status !== 201 && bound.status !== 200) {
  console.error(`2. binding failed: ${bound.status} ${JSON.stringify(bound.body)}`);
  process.exit(1);
}
console.log(`2. certificate ${bound.body.certificate.serial} ${bound.status === 201 ? 'bound' : 'was already bound'}; enterprise is ${bound.body.enterprise.status}`);

const settings = { issuer: base, clientId: demoClient.client_id, clientSecret: demoClient.client_secret, redirectUri: demoClient.redirect_uri };
const configuration = await discoverPlatform(settings);
const outcome = await certificateLogin(configuration, settings, holder);
console.log('3. logged in to the demo platform with the certificate; verified claims:');
console.log(JSON.stringify({ id_token: outcome.claims, userinfo: outcome.userinfo }, null, 2));
