import { expect } from 'vitest';
import type { TestContext } from 'vitest';
import type { ConnectionRecord, RunResult } from '../../src/model/result.js';
import { idleTimeoutOf } from '../../src/timeline/classifyClose.js';
import { runCli } from './cli.js';
import { metric, scenario } from './probe.js';
import { expectValid } from './reportSchema.js';

/**
 * Issue 17's agreement check, shared by every file that captures a real server: `run URL
 * --capture FILE` (the built CLI, as users run it), then `analyze FILE` of the same capture,
 * and the verdicts both must give alike: the idle closes (same packets, so equal to the
 * reports' 0.1 ms rounding), the closer, the close kind, the TIME_WAIT side, the request cap
 * and whether it was announced, the server's close mode, the stale requests and what
 * answered them. Where capturing is not permitted the run says why and the test skips,
 * loudly, with that reason (needWire).
 */

/**
 * run and analyze read the same packets; they differ only by the reports' rounding to 0.1 ms
 * (roundMs): run's times are the packets' moved onto its own clock, so an idle time a few µs
 * from a rounding boundary rounds one step apart (0.1 ms, seen in a clean-clone CI run).
 */
export const SAME_PACKETS_MS = 0.1 + 0.002;

/** `run URL --capture [FILE] --json` on these scenarios (--max-idle 5s, --max-requests 20), parsed and checked against the schema. */
export async function runCaptured(
  url: string,
  ids: readonly string[],
  file: string | null,
  env?: NodeJS.ProcessEnv,
  extra: readonly string[] = [],
): Promise<RunResult> {
  const args = ['run', url, '--json', '-q', '--max-idle', '5s', '--max-requests', '20', ...extra, ...(file === null ? ['--capture'] : ['--capture', file])];
  for (const id of ids) args.push('--scenario', id);
  const { code, stdout, stderr } = await runCli(args, { timeoutMs: 90_000, env });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const report: unknown = JSON.parse(stdout);
  expectValid(expect, report);
  return report as RunResult;
}

/** `analyze FILE --json` with `args`, parsed and checked against the schema. */
export async function analyzeCapture(file: string, args: readonly string[] = []): Promise<RunResult> {
  const { code, stdout, stderr } = await runCli(['analyze', file, '--json', '-q', ...args], { timeoutMs: 60_000 });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const report: unknown = JSON.parse(stdout);
  expectValid(expect, report);
  return report as RunResult;
}

/** Skips (never passes) when the run could not capture, naming why; else checks the whole run was timed on the wire. */
export function needWire(ctx: TestContext, run: RunResult): void {
  const wire = run.evidence.wire;
  if (wire?.source !== 'wire') {
    const why = wire?.reason ?? 'no evidence.wire in the report';
    console.warn(`*** SKIPPING run --capture: ${why} ***`);
    ctx.skip(why);
  }
  if (wire?.reason != null) console.error(`not every connection timed on the wire: ${wire.reason}`);
  expect(wire?.reason ?? null, 'every connection timed on the wire').toBeNull();
  expect(wire).toMatchObject({ source: 'wire', interface: 'lo' });
  expect(wire?.wireTimed).toBe(wire?.connections);
  for (const s of run.scenarios) expect(s.wire, `${s.id} timed on the wire`).toBeDefined();
}

/** Both idle times rounded to 0.1 ms, and a packet reaches the socket a few µs after the capture sees it pass. */
export const BOUND_SLOP_MS = 0.2;

/**
 * Every idle time the run's event loop measured lies within its own error bound of the wire's
 * (the connection's `eventLoop` beside its wire-timed `end`), give or take `slopMs` (over TLS,
 * TLS_SAME_VERDICT_MS: the record the probe decrypts is matched to a packet less exactly).
 */
export function expectWithinBounds(label: string, run: RunResult, slopMs = BOUND_SLOP_MS): void {
  const idles = idlesAgainstWire(run, slopMs);
  expect(idles.outside.map((x) => `${label} ${x.text}`)).toEqual([]);
  const worst = Math.max(0, ...idles.all.map((x) => x.offMs));
  console.info(`${label}: every event-loop idle time within its error bound of the wire's (worst ${worst.toFixed(1)} ms off)`);
}

/** One event-loop idle time beside the wire's: how far apart, by how much beyond its bound (≤ 0 within), and in words. */
export interface IdleAgainstWire {
  readonly offMs: number;
  readonly beyondMs: number;
  readonly text: string;
}

/** Every connection's event-loop idle time (`eventLoop`) against its wire-timed `end`, and those beyond their bound give or take `slopMs`. */
export function idlesAgainstWire(run: RunResult, slopMs = BOUND_SLOP_MS): { all: IdleAgainstWire[]; outside: IdleAgainstWire[] } {
  const all: IdleAgainstWire[] = [];
  for (const s of run.scenarios) {
    for (const c of s.connections) {
      const loop = c.eventLoop;
      if (loop === undefined || loop.idleMs === null || c.end.idleMs === null) continue;
      const offMs = Math.abs(loop.idleMs - c.end.idleMs);
      const text = `${s.id} ${c.id}: event loop ${loop.idleMs} ±${loop.idleErrorMs}, wire ${c.end.idleMs}`;
      all.push({ offMs, beyondMs: offMs - ((loop.idleErrorMs as number) + slopMs), text });
    }
  }
  return { all, outside: all.filter((x) => x.beyondMs > 0) };
}

export function allConnections(run: RunResult): ConnectionRecord[] {
  return run.scenarios.flatMap((s) => s.connections);
}

/** The run's idle closes (server FIN or RST on an idle connection), as its connections record them: wire times under --capture. */
export function idleCloses(run: RunResult): number[] {
  return allConnections(run)
    .map((c) => idleTimeoutOf(c.end))
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
}

/**
 * Stale requests as docs/analyze.md defines them, read off the run's own (wire-timed) events:
 * a request that went out after the server's FIN had reached the wire (a race trial written
 * while the FIN was in flight counts), or a later request on the connection that nothing but
 * an RST answered; and how many an RST answered.
 */
export function staleWrites(run: RunResult): { written: number; answeredByRst: number } {
  let written = 0;
  let answeredByRst = 0;
  for (const c of allConnections(run)) {
    const fin = c.events.find((e) => e.kind === 'peer-fin');
    const reset = c.events.find((e) => e.kind === 'error' && e.code === 'ECONNRESET');
    const answered = new Set(c.events.flatMap((e) => (e.kind === 'response-head' ? [e.index] : [])));
    for (const e of c.events) {
      // A write after the RST fails in the kernel (EPIPE): no packet, not a request on the wire.
      if (e.kind !== 'request' || (reset !== undefined && e.t >= reset.t)) continue;
      const afterFin = fin !== undefined && e.t > fin.t;
      const dropped = !afterFin && e.index > 1 && reset !== undefined && !answered.has(e.index);
      if (!afterFin && !dropped) continue;
      written += 1;
      if (reset !== undefined && !answered.has(e.index)) answeredByRst += 1;
    }
  }
  return { written, answeredByRst };
}

/** The idle timeout as `run` and as `analyze` of its capture reported it, for the figures in docs/analyze.md. */
export interface IdleAgreement {
  /** run's idle-timeout.idleTimeoutMs (the shortest bare sample, wire-timed); null when no idle close. */
  readonly runMs: number | null;
  /** run's event-loop figure for the same metric, kept beside the wire's. */
  readonly runEventLoopMs: number | null;
  /** analyze's idle-timeout.idleTimeoutMs: the shortest idle close in the whole capture. */
  readonly analyzeMs: number | null;
}

/**
 * Over TLS, run and analyze once read the shortest idle close 0.2 ms apart (1500.6 against
 * 1500.8 ms, in a clean-clone CI run with every test file sharing the two cores; not reproduced
 * in 8 runs since, cause not found): there they are held to issue 17's own bound, 1 ms.
 */
export const TLS_SAME_VERDICT_MS = 1;

/** The verdicts `run` and `analyze` of its capture must share (idle figures within `idleMs`); returns the idle figures of both. */
export function expectSameVerdicts(label: string, run: RunResult, report: RunResult, idleMs = SAME_PACKETS_MS): IdleAgreement {
  const runIdles = idleCloses(run);
  const analyzed = metric(report, 'idle-timeout', 'idleTimeoutMs') as number | null;
  console.info(`${label}: run's idle closes on the wire ${runIdles.join(', ')} ms; analyze of its capture: min ${analyzed} ms`);
  // analyze's idle timeout is over every idle close in the capture: the run's, on the same packets.
  if (runIdles.length > 0) {
    expect(analyzed).not.toBeNull();
    expect(Math.abs((analyzed as number) - (runIdles[0] as number))).toBeLessThanOrEqual(idleMs);
    expect(Math.abs((metric(report, 'idle-timeout', 'idleTimeoutMaxMs') as number) - (runIdles.at(-1) as number))).toBeLessThanOrEqual(idleMs);
    expect(metric(report, 'idle-timeout', 'idleCloses')).toBe(runIdles.length);
  } else {
    expect(analyzed).toBeNull();
  }
  const ran = (id: string): boolean => run.scenarios.some((s) => s.id === id);
  let runMs: number | null = null;
  let runEventLoopMs: number | null = null;
  if (ran('idle-timeout')) {
    runMs = metric(run, 'idle-timeout', 'idleTimeoutMs') as number | null;
    runEventLoopMs = scenario(run, 'idle-timeout').wire?.idleTimeoutMs?.probeMs ?? null;
    // The run's own figure is the shortest of its samples without "Connection: keep-alive" (label main, and any taken again: main~1).
    const bare = scenario(run, 'idle-timeout')
      .connections.filter((c) => c.id.startsWith('main'))
      .map((c) => idleTimeoutOf(c.end))
      .filter((x): x is number => x !== null);
    if (runMs === null) {
      expect(bare).toEqual([]);
    } else {
      expect(bare.length).toBeGreaterThan(0);
      expect(runMs).toBe(Math.min(...bare));
      const closers = new Set(scenario(run, 'idle-timeout').connections.map((c) => c.end.closedBy));
      expect([...closers]).toEqual(['server']);
      expect(scenario(report, 'idle-timeout').connections[0]?.end.closedBy).toBe('server');
    }
    expect(metric(report, 'idle-timeout', 'closeKind')).toBe(metric(run, 'idle-timeout', 'closeKind'));
    expect(metric(report, 'idle-timeout', 'timeWaitSide')).toBe(metric(run, 'idle-timeout', 'timeWaitSide'));
  }
  if (ran('request-cap')) {
    expect(metric(report, 'request-cap', 'maxRequests')).toBe(metric(run, 'request-cap', 'maxRequests'));
    expect(metric(report, 'request-cap', 'signalled')).toBe(metric(run, 'request-cap', 'signalled'));
    expect(metric(report, 'request-cap', 'closeKind')).toBe(metric(run, 'request-cap', 'closeKind'));
  }
  if (ran('timeout-mismatch')) {
    expect(metric(report, 'timeout-mismatch', 'serverClose')).toBe(metric(run, 'timeout-mismatch', 'serverClose'));
    expect(metric(report, 'timeout-mismatch', 'outcome')).toBe(metric(run, 'timeout-mismatch', 'outcome'));
    // Both round the same wire interval to whole ms.
    const clientIdle = [metric(report, 'timeout-mismatch', 'clientIdleMs'), metric(run, 'timeout-mismatch', 'clientIdleMs')] as number[];
    expect(Math.abs((clientIdle[0] as number) - (clientIdle[1] as number))).toBeLessThanOrEqual(1);
  }
  const stale = staleWrites(run);
  expect(metric(report, 'stale-race', 'staleRequests')).toBe(stale.written);
  expect(metric(report, 'stale-race', 'staleAnsweredByRst')).toBe(stale.answeredByRst);
  return { runMs, runEventLoopMs, analyzeMs: analyzed };
}

/**
 * The whole agreement check against one server: `run URL --capture FILE` on `ids`, skipped
 * loudly when not timed on the wire, then `analyze FILE`, then expectSameVerdicts. Logs one
 * line with run's and analyze's idle timeouts (the table in docs/analyze.md); returns both
 * reports and the figures for the server's own checks.
 */
export async function expectCaptureAgreement(
  ctx: TestContext,
  label: string,
  url: string,
  ids: readonly string[],
  file: string,
): Promise<{ run: RunResult; report: RunResult; idle: IdleAgreement }> {
  const run = await runCaptured(url, ids, file);
  needWire(ctx, run);
  expectWithinBounds(label, run);
  const report = await analyzeCapture(file);
  const idle = expectSameVerdicts(label, run, report);
  const diff = idle.runMs === null || idle.analyzeMs === null ? null : Math.abs(idle.runMs - idle.analyzeMs).toFixed(1);
  const cap = ids.includes('request-cap') ? metric(run, 'request-cap', 'maxRequests') : undefined;
  console.info(
    `agreement ${label}: run's idle ${idle.runMs} ms (event loop ${idle.runEventLoopMs} ms), analyze's idle ${idle.analyzeMs} ms, difference ${diff} ms; request cap ${String(cap ?? '-')}`,
  );
  return { run, report, idle };
}
