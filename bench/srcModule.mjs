// A module of src/ for a benchmark to import: dist/ is one bundle (scripts/build.mjs) whose
// chunks export nothing by their source names, so the module is bundled on its own here
// (esbuild, a devDependency) into a temporary file and imported from there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/** Imports src/<file> (e.g. 'http/responseParser.ts'), bundled with what it imports. */
export async function importSrc(file) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-bench-'));
  const outfile = path.join(dir, 'module.mjs');
  try {
    await build({
      entryPoints: [fileURLToPath(new URL(`../src/${file}`, import.meta.url))],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      logLevel: 'warning',
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
