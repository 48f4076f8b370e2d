import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { TempSpaceError } from '../src/model/errors.js';
import { readCapture } from '../src/wire/tshark.js';
import type { CaptureChunks } from '../src/wire/tshark.js';
import { BIN, interruptCli, runCli } from './support/cli.js';

/**
 * The temporary directory a large capture is split in: too small a disk is one error line
 * (exit 3, [temp-space]) before splitting, and the same line for an ENOSPC while splitting;
 * the directory is gone after every exit, a signal's included. Small disks are tmpfs mounts
 * made here (root only: skipped, with the reason, elsewhere); the large capture is the
 * committed fixture concatenated with itself (mergecap -a) past the 64 MB at which analyze splits.
 */

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/analyze/lab-idle-cap-stale.pcapng');
const SMALL: CaptureChunks = { partPackets: 100, partsPerChunk: 2, minBytes: 0 };

let dir = '';
/** About 1.8 MB (12,032 packets). */
let medium = '';
/** Past 64 MB: the CLI splits it. */
let large = '';
const mounts: string[] = [];
let noMount: string | null = null;

/** A tmpfs of `options` (size=…, nr_inodes=…) mounted in the test's directory, or null when mounting is not permitted. */
function tmpfs(name: string, options: string): string | null {
  const at = path.join(dir, name);
  mkdirSync(at);
  const out = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at], { encoding: 'utf8', timeout: 10_000 });
  if (out.status !== 0) {
    noMount = `cannot mount a small tmpfs: ${(out.stderr || out.error?.message || 'mount failed').trim()}`;
    return null;
  }
  mounts.push(at);
  return at;
}

/** `file` concatenated with itself `times` times over (doubling each time), into `out`. */
function doubled(file: string, times: number, out: string): void {
  let current = file;
  for (let i = 0; i < times; i++) {
    const next = path.join(dir, `double-${i}.pcapng`);
    const merged = spawnSync('mergecap', ['-a', '-w', next, current, current], { encoding: 'utf8', timeout: 60_000 });
    if (merged.status !== 0) throw new Error(`mergecap failed: ${merged.stderr}`);
    if (current !== file) rmSync(current);
    current = next;
  }
  renameSync(current, out);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kap-tempdir-'));
  medium = path.join(dir, 'medium.pcapng');
  large = path.join(dir, 'large.pcapng');
  doubled(FIXTURE, 8, medium);
  doubled(medium, 6, large);
}, 120_000);

afterAll(() => {
  for (const at of mounts) spawnSync('umount', [at], { timeout: 10_000 });
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function needMount(ctx: TestContext, at: string | null): asserts at is string {
  if (at === null) {
    console.warn(`*** SKIPPING: ${noMount} ***`);
    ctx.skip(noMount ?? 'no tmpfs');
  }
}

describe('analyze: the temporary directory of a split capture', () => {
  it('too little room: one TempSpaceError before splitting, naming what is needed, what is free and where', async (ctx) => {
    const small = tmpfs('small', 'size=1m');
    needMount(ctx, small);
    const size = statSync(medium).size;
    expect(size).toBeGreaterThan(1024 * 1024);
    const err = await readCapture({ file: medium, tlsKeylog: null, chunks: SMALL, tempRoot: small }, () => undefined).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TempSpaceError);
    const line = (err as TempSpaceError).describe();
    console.info(line);
    expect(line).toBe(
      `not enough free space to split the capture: it needs about ${Math.ceil((size * 1.3) / 1048576)} MiB in ${small}, 1 MiB free: set TMPDIR to a larger disk [temp-space]`,
    );
    expect(readdirSync(small)).toEqual([]);
  });

  it('ENOSPC while splitting (a tmpfs out of inodes): the same error, and nothing left behind', async (ctx) => {
    const few = tmpfs('few-inodes', 'size=64m,nr_inodes=8');
    needMount(ctx, few);
    const err = await readCapture({ file: medium, tlsKeylog: null, chunks: SMALL, tempRoot: few }, () => undefined).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TempSpaceError);
    expect((err as TempSpaceError).describe()).toMatch(
      /^not enough free space to split the capture: it needs about \d+ MiB in .*, \d+ MiB free: set TMPDIR to a larger disk \[temp-space\]$/,
    );
    expect(readdirSync(few)).toEqual([]);
  });

  it('the CLI: one line on stderr and exit 3 when TMPDIR is too small', async (ctx) => {
    const small = tmpfs('cli-small', 'size=1m');
    needMount(ctx, small);
    const out = await runCli(['analyze', large], { env: { TMPDIR: small }, timeoutMs: 60_000 });
    expect(out.code).toBe(3);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(
      /^keepalive-probe: not enough free space to split the capture: it needs about \d+ MiB in .*, 1 MiB free: set TMPDIR to a larger disk \[temp-space\]\n$/,
    );
    expect(readdirSync(small)).toEqual([]);
  });

  it('a TMPDIR where no directory can be made (no inode left): a small capture needs none; a large one gets the same line', async (ctx) => {
    const full = tmpfs('no-inodes', 'size=256m,nr_inodes=1');
    needMount(ctx, full);
    const small = await runCli(['analyze', FIXTURE, '--json', '-q'], { env: { TMPDIR: full }, timeoutMs: 60_000 });
    expect(small.stderr).toBe('');
    expect(small.code).toBe(0);
    expect((JSON.parse(small.stdout) as { evidence: { capture: { packets: number } } }).evidence.capture.packets).toBe(47);
    const split = await runCli(['analyze', large], { env: { TMPDIR: full }, timeoutMs: 60_000 });
    expect(split.code).toBe(3);
    expect(split.stderr).toMatch(
      /^keepalive-probe: not enough free space to split the capture: it needs about \d+ MiB in .*, \d+ MiB free: set TMPDIR to a larger disk \[temp-space\]\n$/,
    );
    expect(readdirSync(full)).toEqual([]);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'the CLI stopped by %s while it splits or reads: exit 128 + n, no report, the temporary directory removed',
    async (signal) => {
      const temp = mkdtempSync(path.join(dir, 'tmp-'));
      const report = path.join(dir, `report-${signal}.json`);
      const splitting = (): boolean =>
        readdirSync(temp).some((d) => existsSync(path.join(temp, d)) && readdirSync(path.join(temp, d)).some((c) => c.startsWith('kap-capture-')));
      const out = await interruptCli(['analyze', large, '--json', report], splitting, signal, { TMPDIR: temp });
      console.info(`${signal}: exit ${out.code} after ${Math.round(out.tookMs)} ms`);
      expect(out.code).toBe(signal === 'SIGTERM' ? 143 : 130);
      expect(out.stderr).toContain(`interrupted (${signal}): stopping: no report is written`);
      expect(out.tookMs).toBeLessThan(5000);
      expect(existsSync(report)).toBe(false);
      expect(readdirSync(temp)).toEqual([]);
    },
  );

  it('the CLI stopped by a second signal at once: the temporary directory removed all the same', async () => {
    const temp = mkdtempSync(path.join(dir, 'tmp-'));
    const child = spawn(process.execPath, [BIN, 'analyze', large], { env: { ...process.env, TMPDIR: temp }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
    for (const deadline = performance.now() + 20_000; readdirSync(temp).length === 0; await sleep(20)) {
      if (performance.now() > deadline) throw new Error(`analyze never made its temporary directory: ${stderr}`);
    }
    await sleep(300);
    child.kill('SIGINT');
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(130);
    expect(readdirSync(temp)).toEqual([]);
  });
});
