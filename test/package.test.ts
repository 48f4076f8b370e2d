import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/model/result.js';

/**
 * The package as users get it: `npm pack`, installed into an empty directory (dependencies
 * from the registry), run from another directory. What it ships, that installing it warns
 * about nothing, and that it works without the checkout. Packed from the dist/ that npm test
 * built (--ignore-scripts: rebuilding it here would rewrite files other tests are running).
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'kap-package-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Packed {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

let packed: Packed | null = null;
function pack(): Packed {
  packed ??= (
    JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as Packed[]
  )[0] as Packed;
  return packed;
}

describe('the npm package', () => {
  it('ships dist/, bin/, scenarios/, the JSON schema, README and LICENSE: no source maps, no screenshots, no sources', () => {
    const files = pack().files.map((f) => f.path);
    for (const required of [
      'bin/keepalive-probe.js',
      'dist/cli/main.cjs',
      'dist/commands/runCommand.js',
      'bin/package.json',
      'scenarios/idle-timeout.yaml',
      'scenarios/schema.json',
      'docs/report.schema.json',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      expect(files).toContain(required);
    }
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.png') || f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
  });

  it('installs into an empty directory without a warning and runs from another directory', () => {
    const project = path.join(dir, 'project');
    const elsewhere = path.join(dir, 'elsewhere');
    for (const d of [project, elsewhere]) execFileSync('mkdir', ['-p', d]);
    writeFileSync(path.join(project, 'package.json'), '{ "name": "consumer", "version": "1.0.0", "private": true }\n');
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', path.join(dir, pack().filename)], {
      cwd: project,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr).not.toMatch(/warn/i);
    const bin = path.join(project, 'node_modules', '.bin', 'keepalive-probe');
    const run = spawnSync(bin, ['run', '-s', 'http11-reuse', '--json'], { cwd: elsewhere, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as RunResult;
    expect(report.scenarios[0]).toMatchObject({ id: 'http11-reuse', status: 'pass' });
    // It is the installed copy that ran, with its own scenarios.
    expect(report.scenarios[0]?.source).toContain(path.join('node_modules', 'keepalive-probe', 'scenarios'));
  }, 180_000);
});
