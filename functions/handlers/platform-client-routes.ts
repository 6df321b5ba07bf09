import { actorOf, authenticate } from '../lib/auth.js';
import { badRequest } from '../lib/errors.js';
import { json, jsonBody, type Route } from '../lib/http.js';
import { getPlatform, listPlatforms, parsePlatformInput, registerPlatform, rotatePlatformSecret } from '../services/platform-clients.js';

/** Operator routes that register trading platforms as OIDC clients and rotate their secrets. */
export const platformClientRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/admin/clients',
    handler: async ({ event }) => {
      await authenticate(event, 'admin');
      return json(200, await listPlatforms());
    },
  },
  {
    method: 'POST',
    path: '/api/admin/clients',
    handler: async ({ event }) => {
      const caller = await authenticate(event, 'admin');
      const input = parsePlatformInput(jsonBody(event));
      const { platform, secret } = await registerPlatform(input, actorOf(caller));
      return json(201, { ...platform, client_secret: secret }, { location: `/api/admin/clients/${platform.client_id}` });
    },
  },
  {
    method: 'GET',
    path: '/api/admin/clients/{id}',
    handler: async ({ event, params }) => {
      await authenticate(event, 'admin');
      return json(200, await getPlatform(params.id));
    },
  },
  {
    method: 'POST',
    path: '/api/admin/clients/{id}/secret',
    handler: async ({ event, params }) => {
      const caller = await authenticate(event, 'admin');
      const version = jsonBody(event).version;
      if (!Number.isInteger(version) || (version as number) < 1) {
        throw badRequest('FIELD_MISSING', 'version is missing or not a positive integer; send the version of the platform you read, so two operators cannot rotate the secret at once', { field: 'version' });
      }
      const { platform, secret } = await rotatePlatformSecret(params.id, version as number, actorOf(caller));
      return json(200, { ...platform, client_secret: secret });
    },
  },
];
