import { randomInt } from 'node:crypto';
import { CREDIT_CODE_ALPHABET, creditCodeCheckCharacter } from '../../functions/lib/credit-code.js';

/** A random valid credit code of a company registered in Shenzhen (prefix 91440300). */
export function randomCreditCode(): string {
  let body = '91440300';
  for (let i = 0; i < 9; i += 1) body += CREDIT_CODE_ALPHABET[randomInt(CREDIT_CODE_ALPHABET.length)];
  return body + creditCodeCheckCharacter(body);
}

/** Replace the check character of a valid code with a wrong one. */
export function withWrongCheck(code: string): string {
  const wrong = CREDIT_CODE_ALPHABET[(CREDIT_CODE_ALPHABET.indexOf(code[17]) + 1) % 31];
  return code.slice(0, 17) + wrong;
}
