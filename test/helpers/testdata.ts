import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Path of the public test material (NIST PKITS, SM2 certificates, recorded
 * WebAuthn responses), kept in the folder shared/testdata beside the checkout.
 * TESTDATA_DIR overrides the location.
 */
export function testDataPath(...parts: string[]): string {
  const base = process.env.TESTDATA_DIR ?? join(repoRoot, '..', 'shared', 'testdata');
  if (!existsSync(base)) throw new Error(`test data not found at ${base}; put shared/testdata beside the checkout or set TESTDATA_DIR`);
  return join(base, ...parts);
}
