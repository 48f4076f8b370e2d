#!/usr/bin/env node
// Thin shim: the CLI lives in the compiled dist/. The published package ships dist/; a git
// checkout builds it here on first use (with its own TypeScript), so neither needs an
// install script.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  if (!existsSync(tsc)) {
    process.stderr.write('keepalive-probe: dist/ is missing and TypeScript is not installed: run npm install, then npm run build\n');
    process.exit(4);
  }
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) process.exit(4);
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
