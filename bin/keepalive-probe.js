#!/usr/bin/env node
// Thin shim: the CLI lives in the bundled dist/ (scripts/build.mjs). The published package
// ships dist/; a git checkout builds it here on first use (with its own esbuild), so neither
// needs an install script. Only that first use loads the build tooling: start-up stays one
// require. CommonJS (bin/package.json), as the front it loads: an ES module here would set up
// Node's ESM loader at every start, ~3 ms that --version and --help do not need.
// The oldest Node the code runs on (package.json `engines`; AbortSignal.any came in 20.3):
// an older one gets this line instead of an internal error from deep inside a run.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 3)) {
  process.stderr.write(`keepalive-probe: Node.js 20.3 or later is needed, this is ${process.version}: install a newer Node [node-too-old]\n`);
  process.exit(3);
}
const entry = require('node:path').join(__dirname, '../dist/cli/main.cjs');
let cli;
try {
  cli = require(entry);
} catch (err) {
  if (err?.code !== 'MODULE_NOT_FOUND' || !buildCheckout()) throw err;
  cli = require(entry);
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

/** Builds dist/ when it is missing (false: it is there, so the require failed for another reason). */
function buildCheckout() {
  const { spawnSync } = require('node:child_process');
  const { existsSync } = require('node:fs');
  const path = require('node:path');
  if (existsSync(entry)) return false;
  const root = path.join(__dirname, '..');
  const script = path.join(root, 'scripts/build.mjs');
  if (!existsSync(script) || !existsSync(path.join(root, 'node_modules/esbuild/package.json'))) {
    process.stderr.write('keepalive-probe: dist/ is missing and esbuild is not installed: run npm install, then npm run build\n');
    process.exit(4);
  }
  const build = spawnSync(process.execPath, [script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) process.exit(4);
  return true;
}
