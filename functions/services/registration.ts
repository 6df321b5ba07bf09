import { checkCreditCode } from '../lib/credit-code.js';
import { badRequest, conflict } from '../lib/errors.js';
import { EVENT_TYPES } from '../lib/event-types.js';
import { jsonTypeOf } from '../lib/json-type.js';
import { ConditionFailed, commitWithEvents } from '../db/events.js';
import { getEnterprise, newSubject, putNewEnterprise, replaceEnterprise, type Enterprise, type EnterpriseDetails } from '../db/enterprises.js';

/** Validate a credit code from a request; an invalid one raises a 400 that names the expected check character. */
export function requireCreditCode(input: unknown, field = 'creditCode'): string {
  if (input === undefined || input === null || input === '') throw badRequest('FIELD_MISSING', `${field} is missing; send the 18-character Unified Social Credit Code`, { field });
  if (typeof input !== 'string') throw badRequest('FIELD_INVALID', `${field} must be a string, got ${typeof input}; send the code in quotes`, { field });
  const check = checkCreditCode(input);
  if (!check.valid) {
    throw badRequest('INVALID_CREDIT_CODE', check.message, {
      field,
      value: check.code,
      reason: check.reason,
      ...(check.expectedCheck ? { expectedCheckCharacter: check.expectedCheck } : {}),
    });
  }
  return check.code;
}

/**
 * Validate a credit code that names a stored enterprise. A code whose check
 * character is wrong is accepted when an enterprise with that code is stored:
 * a CA import creates one when the CA profile allows such codes, because some
 * early codes fail the check. Any other invalid code raises requireCreditCode's 400.
 */
export async function requireStoredCreditCode(input: unknown, field = 'creditCode'): Promise<string> {
  const check = checkCreditCode(input);
  if (!check.valid && check.reason === 'check' && (await getEnterprise(check.code))) return check.code;
  return requireCreditCode(input, field);
}

function requireText(body: Record<string, unknown>, field: string, max: number, container = body, prefix = ''): string {
  const value = container[field];
  const name = prefix + field;
  if (value === undefined || value === null || value === '') throw badRequest('FIELD_MISSING', `${name} is missing; it is required`, { field: name });
  if (typeof value !== 'string') throw badRequest('FIELD_INVALID', `${name} must be a string, got ${typeof value}`, { field: name });
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badRequest('FIELD_MISSING', `${name} is blank; it is required`, { field: name });
  if (trimmed.length > max) throw badRequest('FIELD_INVALID', `${name} has ${trimmed.length} characters; at most ${max} are allowed`, { field: name });
  const control = /[\u0000-\u001f\u007f]/.exec(trimmed);
  if (control) {
    const codePoint = `U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    // 1-based position in characters (code points) of the value as sent, before trimming.
    const leading = value.length - value.trimStart().length;
    const position = [...value.slice(0, leading + control.index)].length + 1;
    throw badRequest(
      'FIELD_INVALID',
      `${name} contains the control character ${codePoint} at position ${position}; remove it, because line breaks, tabs and other control characters are not allowed in ${name}`,
      { field: name, character: codePoint, position },
    );
  }
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(trimmed)) throw badRequest('FIELD_INVALID', `${name} contains an unpaired UTF-16 surrogate; send valid Unicode text`, { field: name });
  // Bidirectional overrides and isolates can make a name display differently from what it is.
  if (/[\u202a-\u202e\u2066-\u2069\u200e\u200f]/.test(trimmed)) {
    throw badRequest('FIELD_INVALID', `${name} contains a bidirectional control character (U+200E, U+200F, U+202A-U+202E or U+2066-U+2069); remove it`, { field: name });
  }
  return trimmed;
}

/**
 * Validate the declared details of an enterprise (name, legal representative,
 * contact). `prefix` names where they sit in the request, for messages.
 */
export function parseDetails(input: unknown, prefix = ''): EnterpriseDetails {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('FIELD_INVALID', `${prefix.replace(/\.$/, '') || 'the body'} must be an object with name, legalRepresentative and contact`, { field: prefix.replace(/\.$/, '') || 'body' });
  }
  const body = input as Record<string, unknown>;
  const name = requireText(body, 'name', 200, body, prefix);
  const legalRepresentative = requireText(body, 'legalRepresentative', 100, body, prefix);
  const contact = body.contact;
  if (contact === undefined || contact === null) {
    throw badRequest('FIELD_MISSING', `${prefix}contact is missing; send an object {"name": ..., "phone": ..., "email": ...} where email is optional`, { field: `${prefix}contact` });
  }
  if (typeof contact !== 'object' || Array.isArray(contact)) {
    throw badRequest(
      'FIELD_INVALID',
      `${prefix}contact must be an object {"name": ..., "phone": ..., "email": ...} where email is optional, got ${jsonTypeOf(contact)}`,
      { field: `${prefix}contact` },
    );
  }
  const c = contact as Record<string, unknown>;
  const contactName = requireText(body, 'name', 100, c, `${prefix}contact.`);
  const phone = requireText(body, 'phone', 30, c, `${prefix}contact.`);
  if (!/^\+?[0-9][0-9 -]{4,28}$/.test(phone)) {
    throw badRequest(
      'FIELD_INVALID',
      `${prefix}contact.phone ${JSON.stringify(phone)} is not a phone number; use 5 to 29 digits, spaces or dashes, starting with a digit or a leading +`,
      { field: `${prefix}contact.phone` },
    );
  }
  let email: string | undefined;
  if (c.email !== undefined && c.email !== '') {
    email = requireText(body, 'email', 254, c, `${prefix}contact.`);
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      throw badRequest('FIELD_INVALID', `${prefix}contact.email ${JSON.stringify(email)} is not an e-mail address`, { field: `${prefix}contact.email` });
    }
  }
  return { name, legalRepresentative, contact: { name: contactName, phone, ...(email ? { email } : {}) } };
}

/**
 * Register an enterprise. The record stays unverified until a certificate
 * carrying its credit code is bound. A second registration of the same code is
 * rejected with 409 and changes nothing.
 */
export async function registerEnterprise(body: Record<string, unknown>): Promise<{ enterprise: Enterprise; completed: boolean }> {
  const creditCode = await requireStoredCreditCode(body.creditCode);
  const details = parseDetails(body);
  const now = new Date().toISOString();
  const enterprise: Enterprise = {
    creditCode,
    sub: newSubject(),
    details,
    detailsConfirmed: false,
    status: 'unverified',
    source: 'self',
    registeredAt: now,
    updatedAt: now,
    version: 1,
  };
  try {
    await commitWithEvents(putNewEnterprise(enterprise), [
      {
        type: EVENT_TYPES.enterpriseRegistered,
        creditCode,
        enterpriseSeq: 1,
        data: { creditCode, status: 'unverified', source: 'self' },
      },
    ]);
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    const completed = await completePrefilled(creditCode, details);
    if (completed) return { enterprise: completed, completed: true };
    throw alreadyRegistered(creditCode);
  }
  return { enterprise, completed: false };
}

/**
 * Build the 409 for a code that is registered (by anyone, or completed after a
 * CA firm pre-filled it), telling the real enterprise how to take the record over.
 */
function alreadyRegistered(creditCode: string) {
  const bindPath = `/api/enterprises/${creditCode}/certificates`;
  return conflict(
    'ALREADY_REGISTERED',
    `an enterprise with credit code ${creditCode} is already registered, so it cannot be registered again. ` +
      `If it is your enterprise, bind a certificate that carries credit code ${creditCode}: request a challenge with POST /api/challenges {"purpose": "bind", "creditCode": "${creditCode}"}, ` +
      `sign it with the certificate's key and send it to POST ${bindPath}. ` +
      'The binding gives your enterprise control of the record, and "details" in the same request replaces the name, legal representative and contact entered before.',
    { creditCode, challengePath: '/api/challenges', bindPath },
  );
}

/**
 * Fill in the details of a record that a CA firm created from certificate
 * data. The details stay unconfirmed until a certificate holder confirms them,
 * exactly as for a fresh registration. Returns undefined when the record is not
 * such a pre-filled one (or already has details).
 */
async function completePrefilled(creditCode: string, details: EnterpriseDetails): Promise<Enterprise | undefined> {
  const existing = await getEnterprise(creditCode);
  if (!existing || existing.source !== 'ca' || existing.details) return undefined;
  const next: Enterprise = { ...existing, details, detailsConfirmed: false, updatedAt: new Date().toISOString(), version: existing.version + 1 };
  try {
    await commitWithEvents([replaceEnterprise(next, existing.version)], [
      { type: EVENT_TYPES.enterpriseUpdated, creditCode, enterpriseSeq: next.version, data: { creditCode, detailsDeclared: true, detailsConfirmed: false } },
    ]);
  } catch (error) {
    if (error instanceof ConditionFailed) return undefined;
    throw error;
  }
  return next;
}

/**
 * Set and confirm an enterprise's details on behalf of its certificate-proven
 * owner. The caller has already checked that the owner is authenticated.
 */
export async function confirmDetails(creditCode: string, body: Record<string, unknown>): Promise<Enterprise> {
  const details = parseDetails(body);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const existing = await getEnterprise(creditCode);
    if (!existing) throw conflict('NOT_REGISTERED', `no enterprise with credit code ${creditCode} is registered`);
    const next: Enterprise = { ...existing, details, detailsConfirmed: true, updatedAt: new Date().toISOString(), version: existing.version + 1 };
    try {
      await commitWithEvents([replaceEnterprise(next, existing.version)], [
        { type: EVENT_TYPES.enterpriseUpdated, creditCode, enterpriseSeq: next.version, data: { creditCode, name: details.name, detailsConfirmed: true } },
      ]);
      return next;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
    }
  }
  throw conflict('CONCURRENT_UPDATE', `enterprise ${creditCode} kept changing; reload it and try again`);
}
