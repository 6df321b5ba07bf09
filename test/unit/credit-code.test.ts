import { describe, expect, it } from 'vitest';
import { checkCreditCode, creditCodeCheckCharacter } from '../../functions/lib/credit-code.js';
import { randomCreditCode, withWrongCheck } from '../helpers/codes.js';

describe('credit code check', () => {
  it('accepts the GB 32100-2015 example', () => {
    expect(checkCreditCode('914403001922038216')).toEqual({ valid: true, code: '914403001922038216' });
  });

  it('uses weights 3^(i-1) mod 31', () => {
    // With a single 1 at position i the sum equals w_i, so the check value is (31 - w_i) mod 31.
    const alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY';
    const expectedWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    expectedWeights.forEach((weight, i) => {
      const first17 = '0'.repeat(i) + '1' + '0'.repeat(16 - i);
      expect(creditCodeCheckCharacter(first17)).toBe(alphabet[(31 - weight) % 31]);
    });
  });

  it('names the expected check character', () => {
    const result = checkCreditCode('914403001922038217');
    expect(result.valid).toBe(false);
    if (result.valid) return;
    expect(result.reason).toBe('check');
    expect(result.expectedCheck).toBe('6');
    expect(result.message).toContain('require 6');
  });

  it('normalises lower case and spaces', () => {
    const code = randomCreditCode().replace(/[A-Z]/g, (c) => c.toLowerCase());
    const result = checkCreditCode(`  ${code} `);
    expect(result).toEqual({ valid: true, code: code.toUpperCase() });
  });

  it.each([
    ['91440300192203821', 'length'],
    ['9144030019220382160', 'length'],
    ['', 'length'],
    ['91440300I92203821X', 'character'],
    ['9144030O1922038216', 'character'],
    ['91440300Z922038216', 'character'],
  ])('rejects %j (%s)', (input, reason) => {
    const result = checkCreditCode(input);
    expect(result.valid).toBe(false);
    if (!result.valid) expect(result.reason).toBe(reason);
  });

  it('rejects a non-string value', () => {
    expect(checkCreditCode(914403001922038216).valid).toBe(false);
  });

  it('round-trips generated codes and catches every wrong check', () => {
    for (let i = 0; i < 200; i += 1) {
      const code = randomCreditCode();
      expect(checkCreditCode(code).valid).toBe(true);
      expect(checkCreditCode(withWrongCheck(code)).valid).toBe(false);
    }
  });
});
