import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tableName } from '../../functions/db/client.js';
import { buildWeb } from '../build.js';
import { ensureDemo, DEMO_CREDIT_CODE } from './demo-setup.js';
import { startLocalService } from './service.js';

/**
 * `npm start`: run the whole service on this machine: DynamoDB Local with data
 * in .data/ (or DATA_DIR), the Lambda handlers behind a local host on
 * 127.0.0.1:PORT (default 3000), and a demo CA, certificate and platform client.
 */
const dataDir = resolve(process.env.DATA_DIR ?? '.data');
const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT=${process.env.PORT} is not a TCP port number (0-65535)`);
  process.exit(2);
}

const webDir = await buildWeb(resolve('dist/web'));
let service: Awaited<ReturnType<typeof startLocalService>>;
try {
  service = await startLocalService({
    dataDir,
    keysFile: join(dataDir, 'oidc-keys.json'),
    port,
    staticDir: webDir,
  });
} catch (error) {
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`port ${port} on 127.0.0.1 is already in use; stop the other process or start with another port, for example PORT=3001 npm start`);
  } else {
    console.error(`the service failed to start: ${(error as Error).message}`);
  }
  process.exit(1);
}
const demo = await ensureDemo(dataDir);
// Where the running service keeps its data, for commands such as operator:enroll.
await writeFile(join(dataDir, 'service.json'), JSON.stringify({ dynamoEndpoint: service.db.endpoint, origin: service.url, tableName: tableName() }, null, 2));

console.log(`
trading identity service is running
  issuer / base URL   ${service.url}
  discovery           ${service.url}/.well-known/openid-configuration
  CA sync API         ${service.url}/api/ca/openapi.json   (OpenAPI description)
  enterprise portal   ${service.url}/static/portal/index.html
  admin console       ${service.url}/static/admin/index.html   (first operator: npm run operator:enroll -- --name NAME)
  DynamoDB Local      ${service.db.endpoint} (data in ${join(dataDir, 'dynamodb')})

demo material (made with the openssl CLI, trusted as CA profile "demo-ca"):
  CA certificate      ${demo.caCertPath}
  enterprise cert     ${demo.certPath}   (credit code ${DEMO_CREDIT_CODE})
  enterprise key      ${demo.keyPath}
  platform client     ${demo.clientFile}

play the whole journey as a platform would:   npm run demo
stop with Ctrl+C
`);

const shutdown = async (signal: string) => {
  console.log(`received ${signal}, stopping`);
  await service.stop();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
