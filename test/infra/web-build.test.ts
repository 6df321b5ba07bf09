import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWeb } from '../../infra/build-web.js';
import { tempDir } from '../helpers/pki.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('web build', () => {
  it('writes no source maps by default', async () => {
    const out = await buildWeb(await tempDir('tif-web-build-'));
    const files = await filesUnder(out);
    expect(files.some((file) => file.endsWith('portal/main.js'))).toBe(true);
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    for (const file of files.filter((name) => name.endsWith('.js'))) {
      expect(await readFile(file, 'utf8'), file).not.toContain('sourceMappingURL');
    }
  });

  it('writes maps only on request', async () => {
    const out = await tempDir('tif-web-build-');
    await buildWeb(out, { sourceMaps: true });
    expect((await filesUnder(out)).some((file) => file.endsWith('portal/main.js.map'))).toBe(true);
    // A later build without maps removes the ones the earlier build left.
    await buildWeb(out, { sourceMaps: false });
    expect((await filesUnder(out)).filter((file) => file.endsWith('.map'))).toEqual([]);
  });
});
