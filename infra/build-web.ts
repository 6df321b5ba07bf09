import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'web');

/** Page scripts, by output name under the output folder. */
const ENTRY_POINTS = {
  login: 'web/login.ts',
  'portal/main': 'web/portal/main.ts',
  'admin/main': 'web/admin/main.ts',
  'admin/enroll': 'web/admin/enroll.ts',
};

/**
 * Bundle the browser pages with esbuild into `outDir` (default dist/web):
 * ES modules with shared chunks, minified, plus the HTML pages and the style
 * sheet copied as they are. The result is plain static files, served at
 * /static/ by the local host or from any static hosting under the service's
 * origin. Source maps (with the full sources) are written only when
 * `sourceMaps` is true, by default when WEB_SOURCE_MAPS=1, because everything
 * in the folder is served; otherwise maps left by an earlier build are removed.
 */
export async function buildWeb(
  outDir = join(root, 'dist', 'web'),
  options: { sourceMaps?: boolean } = {},
): Promise<string> {
  const sourceMaps = options.sourceMaps ?? process.env.WEB_SOURCE_MAPS === '1';
  if (!sourceMaps) await removeSourceMaps(outDir);
  await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, path]) => [name, join(root, path)])),
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'edge111', 'firefox115', 'safari16.4'],
    minify: true,
    sourcemap: sourceMaps,
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
  });
  for (const file of await listFiles(webDir)) {
    if (!/\.(html|css|svg)$/.test(file)) continue;
    const target = join(outDir, relative(webDir, file));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
  }
  return outDir;
}

async function removeSourceMaps(dir: string): Promise<void> {
  let files: string[];
  try {
    files = await listFiles(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await Promise.all(files.filter((file) => file.endsWith('.map')).map((file) => rm(file)));
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((entry) => (entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)])));
  return nested.flat();
}

