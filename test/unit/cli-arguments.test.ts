import { afterEach, describe, expect, it, vi } from 'vitest';
import { main as enrollOperator } from '../../infra/local/enroll-operator.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Collect what console.error prints while `run` executes. */
async function consoleErrors(run: () => Promise<number>): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  const code = await run();
  return { code, text: lines.join('\n') };
}

describe('operator:enroll arguments', () => {
  for (const minutes of ['abc', '0', '61', '1.5', '']) {
    it(`rejects --minutes ${JSON.stringify(minutes)}`, async () => {
      const { code, text } = await consoleErrors(() => enrollOperator(['--name', 'x', '--minutes', minutes]));
      expect(code).toBe(2);
      expect(text).toContain(`--minutes ${JSON.stringify(minutes)} is not a whole number of minutes from 1 to 60`);
      expect(text).not.toContain('NaN');
    });
  }
});
