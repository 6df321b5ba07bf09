import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import * as client from 'openid-client';
import { commitWithEvents, type DomainEvent, type StoredEvent } from '../../functions/db/events.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { savePlatformClient } from '../../functions/services/clients.js';
import { randomCreditCode } from './codes.js';

/**
 * Register a platform client allowed the client credentials grant with
 * `scope`, and obtain an access token for it with openid-client, as a platform does.
 */
export async function platformToken(issuer: string, scope = 'feed:read', extra: Record<string, unknown> = {}): Promise<{ clientId: string; token: string }> {
  const clientId = `platform-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  await savePlatformClient({
    client_id: clientId,
    client_secret: secret,
    client_name: `平台 ${clientId}`,
    redirect_uris: [],
    response_types: [],
    grant_types: ['client_credentials'],
    scope,
    ...extra,
  });
  const configuration = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
  const tokens = await client.clientCredentialsGrant(configuration, { scope });
  return { clientId, token: tokens.access_token };
}

export async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export async function sendJson(method: string, url: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Verify a SET with jose against the provider's published JWKS, as a receiving platform does. */
export function setVerifier(issuer: string, audience: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  return async (token: string) => (await jwtVerify(token, jwks, { issuer, audience, typ: 'secevent+jwt' })).payload;
}

export interface ReceivedSet {
  token: string;
  payload: JWTPayload & { seq: number; enterprise_seq?: number; sub_id?: { id: string }; events: Record<string, any> };
}

/**
 * An RFC 8935 push receiver on 127.0.0.1 that records every SET it accepts.
 * `down()` closes its port, so deliveries fail with connection refused, and
 * `up()` listens on the same port again.
 */
export class TestReceiver {
  readonly received: ReceivedSet[] = [];
  /** Distinct jti values received: what a receiver keeps to drop duplicates. */
  readonly jtis = new Set<string>();
  readonly logoutTokens: string[] = [];
  private server?: Server;
  port = 0;
  /** Answer every SET with this status instead of 202 (for example 400 or 503). */
  answerStatus = 202;
  private waiters: (() => void)[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }

  get logoutUrl(): string {
    return `http://127.0.0.1:${this.port}/logout`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req).then(([status, body]) => res.writeHead(status, { 'content-type': 'application/json' }).end(body)));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage): Promise<[number, string]> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/logout') {
      this.logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      this.notify();
      return [200, ''];
    }
    if (this.answerStatus !== 202) return [this.answerStatus, JSON.stringify({ err: 'invalid_request', description: 'test receiver rejects' })];
    if (req.headers['content-type'] !== 'application/secevent+jwt') return [400, JSON.stringify({ err: 'invalid_request' })];
    const payload = decodeJwt(body) as ReceivedSet['payload'];
    this.received.push({ token: body, payload });
    this.jtis.add(String(payload.jti));
    this.notify();
    return [202, ''];
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((wake) => wake());
  }

  /** Wait until `done()` holds, checking after every request received; fails after `timeoutMs`. */
  async waitFor(done: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/**
 * Commit `count` enterprise-updated events spread over `enterprises` made-up
 * enterprises, 99 per transaction (the maximum of one transaction besides the
 * feed head). Each enterprise's events carry increasing enterprise sequence numbers.
 */
export async function commitSyntheticEvents(count: number, enterprises: number): Promise<StoredEvent[]> {
  const codes = Array.from({ length: enterprises }, () => randomCreditCode());
  const versions = new Map<string, number>();
  const stored: StoredEvent[] = [];
  for (let start = 0; start < count; start += 99) {
    const events: DomainEvent[] = [];
    for (let i = start; i < Math.min(count, start + 99); i += 1) {
      const creditCode = codes[i % enterprises];
      const version = (versions.get(creditCode) ?? 0) + 1;
      versions.set(creditCode, version);
      events.push({ type: EVENT_TYPES.enterpriseUpdated, creditCode, enterpriseSeq: version, data: { creditCode, change: i } });
    }
    stored.push(...(await commitWithEvents([], events)));
  }
  return stored;
}

/** Poll `check` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
