#!/usr/bin/env node
// Thin shim: the CLI lives in the bundled dist/ (scripts/build.mjs). The published package
// ships dist/; a git checkout builds it here on first use (with its own esbuild), so neither
// needs an install script. Only that first use loads the build tooling: start-up stays one import.
const entry = new URL('../dist/cli/main.js', import.meta.url);
let cli;
try {
  cli = await import(entry);
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !(await buildCheckout())) throw err;
  cli = await import(entry);
}
process.exitCode = await cli.main(process.argv.slice(2));

/** Builds dist/ when it is missing (false: it is there, so the import failed for another reason). */
async function buildCheckout() {
  const { spawnSync } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  if (existsSync(entry)) return false;
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script = fileURLToPath(new URL('../scripts/build.mjs', import.meta.url));
  if (!existsSync(script) || !existsSync(fileURLToPath(new URL('../node_modules/esbuild/package.json', import.meta.url)))) {
    process.stderr.write('keepalive-probe: dist/ is missing and esbuild is not installed: run npm install, then npm run build\n');
    process.exit(4);
  }
  const build = spawnSync(process.execPath, [script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) process.exit(4);
  return true;
}
