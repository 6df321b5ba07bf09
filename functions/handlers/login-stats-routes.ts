import { readLoginStats } from '../db/login-stats.js';
import { authenticate } from '../lib/auth.js';
import { badRequest } from '../lib/errors.js';
import { json, type Route } from '../lib/http.js';
import { findPlatformClient } from '../services/client-lookup.js';
import { FIRST_PARTY_CLIENT_NAMES } from '../services/first-party-clients.js';

/** Maximum period the login statistics cover, in days. */
const MAX_DAYS = 90;

/** Operator routes for the admin console's login charts. */
export const loginStatsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/admin/login-stats',
    handler: async ({ event }) => {
      await authenticate(event, 'admin');
      const days = Number(event.queryStringParameters?.days ?? 30);
      if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
        throw badRequest('FIELD_INVALID', `days=${event.queryStringParameters?.days} must be a whole number from 1 to ${MAX_DAYS}`, { field: 'days' });
      }
      const stats = await readLoginStats(days);
      const clientIds = [...new Set(stats.flatMap((day) => Object.keys(day.byClient)))];
      const names = await Promise.all(clientIds.map(async (id) => [id, FIRST_PARTY_CLIENT_NAMES[id] ?? (await findPlatformClient(id))?.client_name ?? id] as const));
      return json(200, { days: stats, clients: Object.fromEntries(names) });
    },
  },
];
