/**
 * Unified Social Credit Code (GB 32100-2015): 18 characters from a 31-symbol
 * alphabet, the last one a check character over the first 17.
 */

export const CREDIT_CODE_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

const WEIGHTS = Array.from({ length: 17 }, (_, i) => Number(3n ** BigInt(i) % 31n));

export type CreditCodeCheck =
  | { valid: true; code: string }
  | { valid: false; code: string; reason: 'length' | 'character' | 'check'; message: string; expectedCheck?: string };

/** Compute the check character for the first 17 characters of a code. */
export function creditCodeCheckCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i += 1) {
    const value = CREDIT_CODE_ALPHABET.indexOf(first17[i]);
    if (value < 0) throw new RangeError(`character ${JSON.stringify(first17[i])} is not in the credit code alphabet`);
    sum += value * WEIGHTS[i];
  }
  return CREDIT_CODE_ALPHABET[(31 - (sum % 31)) % 31];
}

/** Normalise (trim, upper-case) and validate a credit code, explaining any failure. */
export function checkCreditCode(input: unknown): CreditCodeCheck {
  const code = typeof input === 'string' ? input.trim().toUpperCase() : '';
  if (code.length !== 18) {
    return {
      valid: false,
      code,
      reason: 'length',
      message: `credit code ${JSON.stringify(code)} has ${code.length} characters; a Unified Social Credit Code has exactly 18`,
    };
  }
  for (let i = 0; i < 18; i += 1) {
    if (!CREDIT_CODE_ALPHABET.includes(code[i])) {
      return {
        valid: false,
        code,
        reason: 'character',
        message: `credit code ${code} has the character ${JSON.stringify(code[i])} at position ${i + 1}, which GB 32100-2015 does not allow (allowed: ${CREDIT_CODE_ALPHABET}; I, O, S, V and Z are never used)`,
      };
    }
  }
  const expected = creditCodeCheckCharacter(code.slice(0, 17));
  if (code[17] !== expected) {
    return {
      valid: false,
      code,
      reason: 'check',
      expectedCheck: expected,
      message: `credit code ${code} ends in check character ${code[17]}, but the first 17 characters require ${expected}; check the code against the business licence`,
    };
  }
  return { valid: true, code };
}
