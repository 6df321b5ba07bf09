import { NOTICE_REASONS } from '../services/revocation.js';

/** OpenAPI 3.1 description of the CA firm sync API, served at /api/ca/openapi.json. */
const error = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  additionalProperties: false,
} as const;

const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
  additionalProperties: false,
} as const;

const certificateStatus = {
  type: 'object',
  required: ['fingerprint', 'serial', 'creditCode', 'caId', 'subject', 'issuer', 'notBefore', 'notAfter', 'status', 'source', 'boundAt'],
  properties: {
    fingerprint: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    serial: { type: 'string', pattern: '^[0-9A-F]+$' },
    creditCode: { type: 'string', pattern: '^[0-9A-HJ-NPQRTUWXY]{18}$' },
    caId: { type: 'string' },
    subject: { type: 'string' },
    issuer: { type: 'string' },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    status: { enum: ['active', 'revoked', 'expired'] },
    source: { enum: ['self', 'ca'] },
    boundAt: { type: 'string', format: 'date-time' },
    revokedAt: { type: 'string', format: 'date-time' },
    revocationReason: { type: 'string' },
    expiredAt: { type: 'string', format: 'date-time' },
    creditCodeFlagged: { type: 'boolean' },
  },
  additionalProperties: false,
} as const;

const importResult = {
  type: 'object',
  required: ['index', 'status'],
  properties: {
    index: { type: 'integer', minimum: 0 },
    status: { enum: ['imported', 'already-present', 'rejected'] },
    fingerprint: { type: 'string' },
    serial: { type: 'string' },
    creditCode: { type: 'string' },
    enterpriseCreated: { type: 'boolean' },
    creditCodeFlagged: { type: 'boolean' },
    bindingStatus: { enum: ['active', 'revoked', 'expired'] },
    error,
  },
  additionalProperties: false,
} as const;

const revocationResult = {
  type: 'object',
  required: ['index', 'status'],
  properties: {
    index: { type: 'integer', minimum: 0 },
    status: { enum: ['revoked', 'already-revoked', 'not-found', 'rejected'] },
    fingerprint: { type: 'string' },
    serial: { type: 'string' },
    revokedAt: { type: 'string', format: 'date-time' },
    error,
  },
  additionalProperties: false,
} as const;

const crlPushResult = {
  type: 'object',
  required: ['stored', 'caId', 'issuer', 'thisUpdate', 'nextUpdate', 'entries', 'revokedBindings', 'entriesApplied'],
  properties: {
    stored: { type: 'boolean', description: 'false when the same CRL was stored already' },
    caId: { type: 'string' },
    issuer: { type: 'string' },
    thisUpdate: { type: 'string', format: 'date-time' },
    nextUpdate: { type: 'string', format: 'date-time' },
    entries: { type: 'integer', minimum: 0 },
    revokedBindings: { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{64}$' }, description: 'fingerprints of the bindings this push marked revoked' },
    entriesApplied: { type: 'boolean', description: 'false when the push ran out of time before every listed certificate was checked against the bindings; the scheduled CRL refresh applies the rest, and logins are refused meanwhile' },
  },
  additionalProperties: false,
} as const;

const batchResponse = (result: object) => ({
  type: 'object',
  required: ['summary', 'results'],
  properties: { summary: { type: 'object', additionalProperties: { type: 'integer' } }, results: { type: 'array', items: result } },
  additionalProperties: false,
});

const errors = (...codes: string[]) =>
  Object.fromEntries(codes.map((code) => [code, { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));

const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: true,
  description: 'A key per batch (8 to 128 of A-Z a-z 0-9 . _ : -). Sending the same batch again with the same key returns the stored result.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{8,128}$' },
};

export const CA_SYNC_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'CA firm sync API',
    version: '1',
    description:
      'CA firms push the certificates they issued, revocations and history. Authenticate with OAuth 2.0 client credentials using private_key_jwt (RFC 7523) at the token endpoint of this service, scope ca:sync. A client may act only on certificates that chain to its own CA profiles.',
  },
  security: [{ bearer: ['ca:sync'] }],
  paths: {
    '/api/ca/certificates': {
      post: {
        summary: 'Import issued certificates (batch, idempotent)',
        parameters: [idempotencyKey],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                properties: {
                  items: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 200,
                    items: {
                      type: 'object',
                      required: ['certificate', 'creditCode'],
                      properties: { certificate: { type: 'string' }, creditCode: { type: 'string' }, chain: { type: 'array', items: { type: 'string' } } },
                    },
                  },
                },
              },
            },
          },
        },
        responses: {
          '200': { description: 'per-item results', content: { 'application/json': { schema: { $ref: '#/components/schemas/ImportResponse' } } } },
          ...errors('400', '401', '403', '409', '413', '415', '422'),
        },
      },
      get: {
        summary: 'Find own certificates by serial number',
        parameters: [{ name: 'serial', in: 'query', required: true, description: 'serial number in hex (leading zeros and 0x are ignored)', schema: { type: 'string' } }],
        responses: {
          '200': {
            description: 'matching certificates',
            content: {
              'application/json': {
                schema: { type: 'object', required: ['certificates'], properties: { certificates: { type: 'array', items: { $ref: '#/components/schemas/CertificateStatus' } } }, additionalProperties: false },
              },
            },
          },
          ...errors('400', '401', '403'),
        },
      },
    },
    '/api/ca/certificates/{fingerprint}': {
      get: {
        summary: 'Status of one certificate by SHA-256 fingerprint',
        parameters: [{ name: 'fingerprint', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } }],
        responses: {
          '200': { description: 'status', content: { 'application/json': { schema: { $ref: '#/components/schemas/CertificateStatus' } } } },
          ...errors('400', '401', '403', '404'),
        },
      },
    },
    '/api/ca/revocations': {
      post: {
        summary: 'Revocation notices (batch, idempotent)',
        parameters: [idempotencyKey],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                properties: {
                  items: {
                    type: 'array',
                    minItems: 1,
                    maxItems: 200,
                    items: {
                      type: 'object',
                      properties: {
                        serial: { type: 'string', pattern: '^(0[xX])?[0-9A-Fa-f]+$', description: 'serial number in hex' },
                        fingerprint: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
                        reason: { enum: [...NOTICE_REASONS], description: 'RFC 5280 reason, unspecified when omitted; removeFromCRL and certificateHold are rejected because a stored revocation is permanent' },
                        revokedAt: { type: 'string', format: 'date-time', description: 'time of revocation, not before the certificate\'s notBefore and at most 5 minutes ahead of the server clock; the current time when omitted' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        responses: {
          '200': { description: 'per-item results', content: { 'application/json': { schema: { $ref: '#/components/schemas/RevocationResponse' } } } },
          ...errors('400', '401', '403', '409', '413', '415', '422'),
        },
      },
    },
    '/api/admin/ca-profiles/{id}/crls': {
      post: {
        summary: 'Push a CRL of one of the caller\'s CA profiles',
        description:
          'The CRL must be signed by a CA certificate of the profile, current (thisUpdate at most 5 minutes ahead, nextUpdate not passed), complete (not a delta CRL) and newer than the one stored for its signing key. Bindings of the certificates it lists are marked revoked at once. Send it as JSON (PEM or base64 DER in "crl", body at most 262,144 bytes) or as DER with content-type application/pkix-crl (at most 4,000,000 bytes).',
        parameters: [{ name: 'id', in: 'path', required: true, description: 'CA profile id, one of the client\'s ca_profiles', schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', required: ['crl'], properties: { crl: { type: 'string', description: 'PEM or base64 DER' } } } },
            'application/pkix-crl': { schema: { type: 'string', contentMediaType: 'application/pkix-crl' } },
          },
        },
        responses: {
          '201': { description: 'stored', content: { 'application/json': { schema: { $ref: '#/components/schemas/CrlPushResponse' } } } },
          '200': { description: 'the same CRL is stored already', content: { 'application/json': { schema: { $ref: '#/components/schemas/CrlPushResponse' } } } },
          ...errors('400', '401', '403', '404', '409', '413', '415', '422'),
        },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Error: errorBody,
      CertificateStatus: certificateStatus,
      ImportResponse: batchResponse(importResult),
      RevocationResponse: batchResponse(revocationResult),
      CrlPushResponse: crlPushResult,
    },
  },
} as const;
