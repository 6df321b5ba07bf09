import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Return the folder this checkout was cloned from, when that is a local path. */
function originCheckout(): string | undefined {
  try {
    const url = execFileSync('git', ['remote', 'get-url', 'origin'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return isAbsolute(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Return the path of the public test material (NIST PKITS, SM2 certificates,
 * recorded WebAuthn responses). It is looked for in TESTDATA_DIR, then in
 * shared/testdata beside the checkout, then beside the local repository the
 * checkout was cloned from.
 */
export function testDataPath(...parts: string[]): string {
  const origin = originCheckout();
  const candidates = [
    process.env.TESTDATA_DIR,
    join(repoRoot, '..', 'shared', 'testdata'),
    origin ? join(origin, '..', 'shared', 'testdata') : undefined,
  ].filter((candidate): candidate is string => Boolean(candidate));
  const base = candidates.find((candidate) => existsSync(candidate));
  if (!base) throw new Error(`test data not found in ${candidates.join(' or ')}; put shared/testdata beside the checkout or set TESTDATA_DIR`);
  return join(base, ...parts);
}
