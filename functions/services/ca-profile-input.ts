import { isIP } from 'node:net';
import { badRequest } from '../lib/errors.js';
import { basicConstraints } from '../pki/certificate.js';
import { MalformedInput, parseCertificates } from '../pki/der.js';
import { DEFAULT_SM2_SIGNER_ID } from '../pki/signature.js';
import { DEFAULT_SIGNATURE_ALGORITHMS, SIGNATURE_ALGORITHMS, type CaProfile, type CaStatus, type CreditCodeLocation } from '../pki/trust-store.js';
import { forbiddenRange } from '../feed/push-endpoint.js';

export const CA_STATUSES: CaStatus[] = ['active', 'suspended', 'retired', 'distrusted'];
const PROFILE_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
const OID_TEXT = /^[0-2](\.(0|[1-9][0-9]*)){1,30}$/;
const MAX_CERTIFICATES = 20;

type Fields = Record<string, unknown>;

const invalid = (field: string, message: string) => badRequest('FIELD_INVALID', `${field} ${message}`, { field });

function text(body: Fields, field: string, options: { required?: boolean; max: number; fallback?: string }): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (options.required) throw badRequest('FIELD_MISSING', `${field} is missing; it is required`, { field });
    return options.fallback;
  }
  if (typeof value !== 'string') throw invalid(field, `must be a string, got ${typeof value}`);
  if (value.length > options.max) throw invalid(field, `has ${value.length} characters; at most ${options.max} are allowed`);
  return value;
}

function list(body: Fields, field: string, max: number): string[] {
  const value = body[field] ?? [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw invalid(field, 'must be an array of strings');
  if (value.length > max) throw invalid(field, `has ${value.length} entries; at most ${max} are allowed`);
  return value as string[];
}

function oids(body: Fields, field: string, fallback: string[]): string[] {
  if (body[field] === undefined) return fallback;
  const values = list(body, field, 50);
  const bad = values.find((oid) => !OID_TEXT.test(oid));
  if (bad !== undefined) throw invalid(field, `contains ${JSON.stringify(bad)}, which is not a dotted OID such as 1.2.156.10197.1.501`);
  return values;
}

function certificates(body: Fields, field: string, required: boolean): string[] {
  const values = list(body, field, MAX_CERTIFICATES);
  if (required && values.length === 0) throw badRequest('FIELD_MISSING', `${field} is empty; give at least one PEM certificate`, { field });
  values.forEach((pem, index) => {
    try {
      for (const cert of parseCertificates(pem, `${field}[${index}]`)) {
        if (!basicConstraints(cert)?.cA && cert.version !== 0) throw invalid(`${field}[${index}]`, 'is not a CA certificate (basicConstraints cA is not set)');
      }
    } catch (error) {
      if (error instanceof MalformedInput) throw invalid(`${field}[${index}]`, `cannot be read: ${error.message}`);
      throw error;
    }
  });
  return values;
}

function httpUrl(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, `${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(field, `uses ${url.protocol}; only http and https are fetched`);
  return url.href;
}

function creditCodeLocation(value: unknown): CreditCodeLocation {
  if (value === undefined) return { source: 'auto' };
  if (typeof value !== 'object' || value === null) throw invalid('creditCodeLocation', 'must be an object such as {"source": "extension", "oid": "1.2.156.10260.4.1.4"}');
  const location = value as Fields;
  switch (location.source) {
    case 'auto':
    case 'cn':
      return { source: location.source };
    case 'subject':
      if (typeof location.attribute !== 'string' || !OID_TEXT.test(location.attribute)) throw invalid('creditCodeLocation.attribute', 'must be the OID of a subject attribute, e.g. 2.5.4.5');
      return { source: 'subject', attribute: location.attribute };
    case 'extension':
      if (typeof location.oid !== 'string' || !OID_TEXT.test(location.oid)) throw invalid('creditCodeLocation.oid', 'must be the OID of an extension, e.g. 1.2.156.10260.4.1.4');
      return { source: 'extension', oid: location.oid };
    default:
      throw invalid('creditCodeLocation.source', `${JSON.stringify(location.source)} is not one of auto, subject, cn, extension`);
  }
}

function revocation(value: unknown): CaProfile['revocation'] {
  const body = (value ?? {}) as Fields;
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('revocation', 'must be an object');
  const useDp = body.useCrlDistributionPoints ?? true;
  if (typeof useDp !== 'boolean') throw invalid('revocation.useCrlDistributionPoints', 'must be true or false');
  const failPolicy = body.failPolicy ?? 'closed';
  if (failPolicy !== 'closed' && failPolicy !== 'open') throw invalid('revocation.failPolicy', `${JSON.stringify(failPolicy)} is not "closed" or "open"`);
  const crlUrls = list(body, 'crlUrls', 10).map((url, i) => publicHttpUrl(url, `revocation.crlUrls[${i}]`, 'a CRL'));
  return { useCrlDistributionPoints: useDp, crlUrls, failPolicy, ...ocspSettings(body) };
}

/**
 * Validate an HTTP URL that the service fetches revocation data from. A host
 * given as an IP literal must be public, as the fetches enforce again at
 * connection time (loopback is accepted in local development).
 */
function publicHttpUrl(value: unknown, field: string, what: string): string {
  const text = httpUrl(value, field);
  const url = new URL(text);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const range = isIP(host) ? forbiddenRange(host) : undefined;
  if (range) {
    const loopbackNote = range.kind.endsWith('loopback') ? ' (loopback addresses are accepted only in local development)' : '';
    throw invalid(field, `${url.href} names ${host} (${range.kind}, ${range.cidr}); give ${what} at a public address${loopbackNote}`);
  }
  return text;
}

/** OCSP settings of a profile's revocation object; an empty result when it names no responder. */
function ocspSettings(body: Fields): Partial<CaProfile['revocation']> {
  const ocspFields = ['ocspHashAlgorithm', 'ocspNonce', 'ocspMaxAgeSeconds'].filter((field) => body[field] !== undefined);
  if (body.ocspUrl === undefined || body.ocspUrl === null || body.ocspUrl === '') {
    if (ocspFields.length > 0) throw invalid(`revocation.${ocspFields[0]}`, 'is set but revocation.ocspUrl is missing; give the responder URL or remove the OCSP settings');
    return {};
  }
  const ocspUrl = publicHttpUrl(body.ocspUrl, 'revocation.ocspUrl', 'a responder');
  const url = new URL(ocspUrl);
  if (url.username || url.password) throw invalid('revocation.ocspUrl', 'must not carry a user name or password; OCSP requests are not authenticated');
  if (url.hash) throw invalid('revocation.ocspUrl', `${url.href} has a fragment; remove it`);
  if (ocspUrl.length > 2000) throw invalid('revocation.ocspUrl', `has ${ocspUrl.length} characters; at most 2000 are allowed`);
  const hashAlgorithm = body.ocspHashAlgorithm ?? 'sha256';
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha1') {
    throw invalid('revocation.ocspHashAlgorithm', `${JSON.stringify(hashAlgorithm)} is not "sha256" or "sha1"; use the CertID hash the responder requires`);
  }
  const nonce = body.ocspNonce ?? true;
  if (typeof nonce !== 'boolean') throw invalid('revocation.ocspNonce', 'must be true (the responder echoes nonces) or false (it serves pre-produced responses)');
  const maxAge = body.ocspMaxAgeSeconds ?? 3600;
  if (!Number.isInteger(maxAge) || (maxAge as number) < 60 || (maxAge as number) > 7 * 86400) {
    throw invalid('revocation.ocspMaxAgeSeconds', `${JSON.stringify(maxAge)} must be a whole number of seconds from 60 to 604800 (7 days)`);
  }
  return { ocspUrl, ocspHashAlgorithm: hashAlgorithm, ocspNonce: nonce, ocspMaxAgeSeconds: maxAge as number };
}

function rsaKeyBits(value: unknown): CaProfile['rsaKeyBits'] {
  if (value === undefined) return undefined;
  const bits = value as { min?: unknown; max?: unknown };
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 2048 && (n as number) <= 16384;
  if (!ok(bits.min) || !ok(bits.max) || (bits.min as number) > (bits.max as number)) {
    throw invalid('rsaKeyBits', 'must be {"min": n, "max": m} with 2048 <= n <= m <= 16384');
  }
  return { min: bits.min as number, max: bits.max as number };
}

/**
 * Validate a CA profile from the admin API into a CaProfile (version and
 * updatedAt are set when it is saved). Unknown signature algorithms are refused,
 * so a profile cannot switch on SHA-1 or MD5.
 */
export function parseCaProfileInput(body: Fields, idFromPath?: string): CaProfile {
  const id = idFromPath ?? text(body, 'id', { required: true, max: 63 })!;
  if (!PROFILE_ID.test(id)) throw invalid('id', `${JSON.stringify(id)} must be 2 to 63 lower-case letters, digits and dashes`);
  if (idFromPath && body.id !== undefined && body.id !== idFromPath) throw invalid('id', `is ${JSON.stringify(body.id)} but the path names ${idFromPath}`);
  const status = (body.status ?? 'active') as CaStatus;
  if (!CA_STATUSES.includes(status)) throw invalid('status', `${JSON.stringify(body.status)} is not one of ${CA_STATUSES.join(', ')}`);
  const algorithms = oids(body, 'allowedSignatureAlgorithms', DEFAULT_SIGNATURE_ALGORITHMS);
  const unknown = algorithms.find((oid) => !(oid in SIGNATURE_ALGORITHMS));
  if (unknown) throw invalid('allowedSignatureAlgorithms', `contains ${unknown}, which is not accepted; choose from ${Object.entries(SIGNATURE_ALGORITHMS).map(([oid, name]) => `${oid} (${name})`).join(', ')}`);
  const pattern = text(body, 'creditCodePattern', { max: 200 });
  if (pattern !== undefined) {
    try {
      new RegExp(pattern);
    } catch (error) {
      throw invalid('creditCodePattern', `is not a regular expression (${(error as Error).message})`);
    }
    // A quantified group that itself ends in a quantifier, such as (a+)+, can take exponential time on a crafted certificate.
    if (/[+*}]\)[+*{]/.test(pattern)) {
      throw invalid('creditCodePattern', `${JSON.stringify(pattern)} repeats a group that contains a repetition, which can take exponential time on crafted input; write it without nested quantifiers, for example ^91[0-9A-Z]{16}`);
    }
  }
  const allowInvalid = body.allowInvalidCheckCharacter ?? false;
  if (typeof allowInvalid !== 'boolean') throw invalid('allowInvalidCheckCharacter', 'must be true or false');
  const statusReason = text(body, 'statusReason', { max: 500 });
  return {
    id,
    name: text(body, 'name', { required: true, max: 200 })!,
    status,
    ...(statusReason ? { statusReason } : {}),
    anchors: certificates(body, 'anchors', true),
    intermediates: certificates(body, 'intermediates', false),
    allowedSignatureAlgorithms: algorithms,
    creditCodeLocation: creditCodeLocation(body.creditCodeLocation),
    ...(pattern !== undefined ? { creditCodePattern: pattern } : {}),
    sm2SignerId: text(body, 'sm2SignerId', { max: 64, fallback: DEFAULT_SM2_SIGNER_ID })!,
    acceptedExtendedKeyUsages: oids(body, 'acceptedExtendedKeyUsages', []),
    allowInvalidCheckCharacter: allowInvalid,
    revocation: revocation(body.revocation),
    ...(body.rsaKeyBits !== undefined ? { rsaKeyBits: rsaKeyBits(body.rsaKeyBits) } : {}),
    version: 0,
    updatedAt: new Date().toISOString(),
  };
}
