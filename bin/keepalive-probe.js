#!/usr/bin/env node
// Thin shim: the CLI lives in the compiled dist/. The published package ships dist/; a git
// checkout builds it here on first use (with its own TypeScript), so neither needs an
// install script. Only that first use loads the build tooling: start-up stays one import.
// The oldest Node the code runs on (package.json `engines`; AbortSignal.any came in 20.3):
// an older one gets this line instead of an internal error from deep inside a run.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 3)) {
  process.stderr.write(`keepalive-probe: Node.js 20.3 or later is needed, this is ${process.version}: install a newer Node [node-too-old]\n`);
  process.exit(3);
}
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
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  if (!existsSync(tsc)) {
    process.stderr.write('keepalive-probe: dist/ is missing and TypeScript is not installed: run npm install, then npm run build\n');
    process.exit(4);
  }
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) process.exit(4);
  return true;
}
