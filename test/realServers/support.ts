import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { TestContext } from 'vitest';
import type { ConnectionRecord, RunResult } from '../../src/model/result.js';
import type { ConnEvent } from '../../src/model/events.js';
import { sureSamples } from '../../src/measures/metrics.js';
import { closeAfterGoawayTimed, h2IdleTimeout, h2IdleTimeoutError } from '../../src/timeline/h2.js';
import { roundMs } from '../../src/util/duration.js';
import { startCapture, startH2Capture, wireClose } from '../support/capture.js';
import { BOUND_SLOP_MS } from '../support/captureAgreement.js';
import type { Capture, H2WireFrame, Segment } from '../support/capture.js';
import { metric, probeCli as probeBuiltCli, scenario } from '../support/probe.js';
import type { ProbeBounds } from '../support/probe.js';
import type { RunningServer } from '../support/realServer.js';
import { PROBE_LAG_MS } from '../support/timing.js';

/**
 * What the nginx and Apache tests share: a temp dir per server (stopped and removed after
 * each test, also on failure), the built CLI run as users run it, and the scenario that
 * writes one more request after the server's request cap.
 */

/** Registers afterEach cleanup for the calling file; returns `dir` (a fresh temp dir) and `keep` (a server to stop). */
export function useServerDirs(): { dir(prefix: string): string; keep(server: RunningServer): RunningServer } {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    dir: (prefix) => {
      const d = mkdtempSync(path.join(tmpdir(), prefix));
      // Run as root, both servers serve from unprivileged workers (nobody / www-data).
      chmodSync(d, 0o755);
      dirs.push(d);
      return d;
    },
    keep: (server) => {
      servers.push(server);
      return server;
    },
  };
}

/** The built CLI with --json on these scenarios (built-in ids or files): --max-idle 10s and --max-requests 50 unless given. */
export function probeCli(url: string, scenarios: readonly string[], bounds: ProbeBounds = {}): Promise<RunResult> {
  return probeBuiltCli(url, scenarios, { maxIdleMs: 10_000, maxRequests: 50, ...bounds });
}

/** The newest connection labelled `id` (default main) of one scenario. */
export function connection(result: RunResult, scenarioId: string, id = 'main'): ConnectionRecord {
  const found = scenario(result, scenarioId)
    .connections.filter((c) => c.id === id || c.id.startsWith(`${id}#`))
    .pop();
  if (found === undefined) throw new Error(`connection ${id} missing from scenario ${scenarioId}`);
  return found;
}

type ResponseHead = Extract<ConnEvent, { kind: 'response-head' }>;

/** The response heads of a connection, in order. */
export function responseHeads(conn: ConnectionRecord): ResponseHead[] {
  return conn.events.filter((e): e is ResponseHead => e.kind === 'response-head');
}

/**
 * A client that ignores the last response's `Connection: close` (or a pool that missed the
 * FIN) and writes one more request: keep-open before the first request so the probe does not
 * answer the server's FIN itself, HTTP/1.1 requests with `Connection: keep-alive` (Apache
 * only sends `Keep-Alive: timeout, max` when asked), until the server ends keep-alive, then
 * one more request on the same socket.
 */
const AFTER_CAP = `id: after-cap
title: One request after the request cap
steps:
  - open: main
  - wait-close: { on: main, max: 1ms, then: keep-open }
  - repeat:
      on: main
      max: $maxRequests
      until: closed
      steps:
        - request: { on: main, connection: keep-alive }
  - wait-close: { on: main, max: 1s, extra: 100ms }
  - request: { on: main, connection: keep-alive }
metrics:
  maxRequests: { measure: requestsBeforeClose, on: main }
  signalled: { measure: closeSignalled, on: main }
  advertisedTimeoutS: { measure: advertisedTimeout, on: main }
  advertisedMax: { measure: advertisedMax, on: main }
  closeKind: { measure: closeKind, on: main }
  lateOutcome: { measure: lastOutcome, on: main }
`;

/** Writes the after-cap scenario into `dir`; returns its path (scenario id `after-cap`). */
export function writeAfterCapScenario(dir: string): string {
  const file = path.join(dir, 'after-cap.yaml');
  writeFileSync(file, AFTER_CAP);
  return file;
}

/** Starts tshark on `port`, or skips the test loudly with the reason (never a silent pass). */
export async function captureOrSkip(ctx: TestContext, port: number): Promise<Capture> {
  const capture = await startCapture(port);
  if ('unavailable' in capture) {
    console.warn(`*** SKIPPING the packet-capture check: ${capture.unavailable} ***`);
    ctx.skip(capture.unavailable);
  }
  return capture;
}

/** Runs `fn` while `capture` records; the capture is stopped (once) whether or not `fn` succeeded. */
export async function whileCapturing<T>(capture: Capture, fn: () => Promise<T>): Promise<{ value: T; segments: Segment[] }> {
  const [outcome] = await Promise.allSettled([fn()]);
  const segments = await capture.stop();
  if (outcome.status === 'rejected') throw outcome.reason;
  return { value: outcome.value, segments };
}

/**
 * The idle-timeout connections of `run` on the wire: the server sent the first FIN, the probe
 * says so too, and each idle time lies within its own error bound of the wire's (tshark times the
 * same two segments on lo; the probe differs only by how late it stamped each).
 */
export function expectIdleFinOnWire(label: string, run: RunResult, segments: readonly Segment[], port: number): void {
  expectIdleSamplesOnWire(label, run, segments, port, (conn, wire) => {
    expect(wire).toMatchObject({ firstCloser: 'server', how: 'fin' });
    expect(conn.end.closedBy).toBe(wire.firstCloser);
  });
}

/**
 * idle-timeout samples the bare request form three times (main, main#2, main#3), and takes a
 * sample again on a new connection when its response was stamped late (main~1, main#2~1, …):
 * each sample against its own connection on the wire, where the event loop's idle time lies
 * within its error bound of the wire's; the metric is the shortest of the certain samples
 * (error bound at most 2 ms), or of the least uncertain ones when none is (measures/metrics.ts sureSamples).
 */
function expectIdleSamplesOnWire(
  label: string,
  run: RunResult,
  segments: readonly Segment[],
  port: number,
  each: (conn: ConnectionRecord, wire: ReturnType<typeof wireClose>) => void,
): void {
  const samples = scenario(run, 'idle-timeout').connections.filter((c) => c.id.startsWith('main'));
  expect(samples.length).toBeGreaterThanOrEqual(3);
  for (const conn of samples) {
    const wire = wireClose(segments, port, conn.local?.port ?? -1);
    each(conn, wire);
    const probeIdle = conn.end.idleMs as number;
    const error = conn.end.idleErrorMs as number;
    console.info(`${label} idle close (${conn.id}): probe ${probeIdle} ms ±${error}, wire ${wire.serverIdleMs?.toFixed(3)} ms`);
    expect(Math.abs(probeIdle - (wire.serverIdleMs ?? Number.POSITIVE_INFINITY))).toBeLessThanOrEqual(error + BOUND_SLOP_MS);
  }
  const sure = sureSamples(samples, (c) => c.end.idleErrorMs as number);
  expect(metric(run, 'idle-timeout', 'idleTimeoutMs')).toBe(Math.min(...sure.map((c) => c.end.idleMs as number)));
}

/**
 * The wire check every real server shares: idle-timeout alone in one CLI run (no other
 * connection of the probe's can delay its stamps), then connection-close and `others` (by
 * default the after-cap request) in a second, all under one capture. Checks the idle close
 * against the wire (expectIdleFinOnWire) and that the server sent the first FIN on both
 * connections; returns the second run and the segments for the server's own checks.
 */
export async function checkIdleAndCloseOnWire(
  ctx: TestContext,
  server: { readonly url: string; readonly port: number; readonly dir: string },
  others: readonly string[] = [writeAfterCapScenario(server.dir)],
): Promise<{ rest: RunResult; segments: Segment[] }> {
  const capture = await captureOrSkip(ctx, server.port);
  const { value, segments } = await whileCapturing(capture, async () => ({
    idle: await probeCli(server.url, ['idle-timeout']),
    rest: await probeCli(server.url, ['connection-close', ...others]),
  }));
  expectIdleFinOnWire(server.url, value.idle, segments, server.port);
  const closeConn = connection(value.rest, 'connection-close');
  expect(wireClose(segments, server.port, closeConn.local?.port ?? -1)).toMatchObject({ firstCloser: 'server', how: 'fin' });
  expect(metric(value.rest, 'connection-close', 'closedBy')).toBe('server');
  return { rest: value.rest, segments };
}

/** Probes `url` with the built CLI while tshark records its port; skips loudly where capture is not permitted. */
export async function probeOnWire(
  ctx: TestContext,
  url: string,
  scenarios: readonly string[],
): Promise<{ result: RunResult; segments: Segment[]; port: number }> {
  const port = Number(new URL(url).port);
  const capture = await captureOrSkip(ctx, port);
  const { value: result, segments } = await whileCapturing(capture, () => probeCli(url, scenarios));
  return { result, segments, port };
}

/** How much earlier than the last response segment on the wire a server's idle timer may start (seen: 0.4 ms, Node). */
const WIRE_ARM_MS = 1;

/**
 * Probes idle-timeout alone under tshark and checks the wire against the probe, for each of its
 * samples of the bare request form (main, main#2, main#3): the server closes first, with the
 * close kind the probe reports, its idle gap on the wire lies in [settingMs, settingMs + lateMs]
 * (a server timer never fires early; it is armed when the response is handed to the kernel, a
 * fraction of a millisecond before its last segment shows on the wire: WIRE_ARM_MS),
 * and the probe's figure for that connection is within its error bound of the wire's; the metric
 * is the shortest certain one (expectIdleSamplesOnWire).
 */
export async function expectIdleCloseOnWire(ctx: TestContext, url: string, timing: { settingMs: number; lateMs: number }): Promise<void> {
  const { result, segments, port } = await probeOnWire(ctx, url, ['idle-timeout']);
  expectIdleSamplesOnWire(url, result, segments, port, (conn, wire) => {
    expect(conn.end.closedBy).toBe('server');
    expect(wire.firstCloser).toBe('server');
    expect(wire.how).toBe(metric(result, 'idle-timeout', 'closeKind'));
    expect(wire.serverIdleMs).toBeGreaterThanOrEqual(timing.settingMs - WIRE_ARM_MS);
    expect(wire.serverIdleMs).toBeLessThanOrEqual(timing.settingMs + timing.lateMs);
  });
}

/**
 * What a user reads off idle-timeout against a server whose timer closes with FIN: the idle
 * time within [settingMs − PROBE_LAG_MS, settingMs + lateMs] (a server timer never fires early;
 * lateMs is the server's own granularity), closed by the server with FIN, which therefore holds
 * TIME_WAIT, read from /proc/net/tcp (every server here is local). Logs the figure under
 * `label`; returns it.
 */
export function expectIdleFinClose(label: string, result: RunResult, settingMs: number, lateMs: number): number {
  const idle = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
  console.info(`${label}: idle close after ${idle} ms`);
  expect(idle).toBeGreaterThanOrEqual(settingMs - PROBE_LAG_MS);
  expect(idle).toBeLessThanOrEqual(settingMs + lateMs);
  expect(metric(result, 'idle-timeout', 'closeKind')).toBe('fin');
  expect(metric(result, 'idle-timeout', 'timeWaitSide')).toBe('server');
  expect(connection(result, 'idle-timeout')).toMatchObject({
    end: { kind: 'server-idle-close', closedBy: 'server', signal: 'fin' },
    timeWait: { side: 'server', source: 'proc-net-tcp' },
  });
  return idle;
}

/** RFC 9113 error codes by number, as the probe names them (§7). */
const H2_ERROR_NAMES = ['NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR'];

/**
 * What every HTTP/2 server here does on idle expiry, read off h2-idle-timeout: one GOAWAY
 * NO_ERROR naming stream 1 (the only one), after an idle time within [settingMs − PROBE_LAG_MS,
 * settingMs + lateMs] (a server timer never fires early; the probe may stamp the response
 * late), then the server's FIN. Logs the figures under `label`; returns the idle time.
 */
export function expectH2IdleGoaway(label: string, result: RunResult, settingMs: number, lateMs: number): number {
  const m = (name: string): unknown => metric(result, 'h2-idle-timeout', name);
  const idle = m('idleTimeoutMs') as number;
  console.info(`${label}: GOAWAY after ${idle} ms idle, debug "${String(m('goawayDebug'))}", close ${String(m('closeAfterGoawayMs'))} ms after it`);
  expect(scenario(result, 'h2-idle-timeout').protocol).toBe('h2');
  expect(idle).toBeGreaterThanOrEqual(settingMs - PROBE_LAG_MS);
  expect(idle).toBeLessThanOrEqual(settingMs + lateMs);
  expect(m('goawayErrorCode')).toBe('NO_ERROR');
  expect(m('goawayLastStreamId')).toBe(1);
  expect(m('twoStepGoaway')).toBe(false);
  expect(m('closedBy')).toBe('server');
  expect(m('closeKind')).toBe('fin');
  return idle;
}

/**
 * A server with no HTTP/2 stream cap, read off h2-request-cap: every stream of probeCli's
 * --max-requests (50) answered on one connection, no GOAWAY, and the report says so.
 */
export function expectNoH2StreamCap(result: RunResult): void {
  expect(metric(result, 'h2-request-cap', 'maxRequests')).toBeNull();
  expect(metric(result, 'h2-request-cap', 'signalled')).toBeNull();
  expect(
    scenario(result, 'h2-request-cap')
      .findings.map((f) => f.text)
      .join('\n'),
  ).toContain('answered 50 requests on one HTTP/2 connection without a GOAWAY');
}

/** What the wire showed of one h2-idle-timeout connection. */
export interface H2WireIdle {
  /** ms from the server's last END_STREAM frame (the response's end) to its first GOAWAY. */
  readonly idleMs: number;
  /** ms from the server's first GOAWAY to its FIN or RST. */
  readonly closeAfterGoawayMs: number;
}

/**
 * Probes h2-idle-timeout alone (built CLI, --protocol h2) against an h2c server while tshark
 * records its port, and checks the probe against tshark's http2 dissector: the server's
 * GOAWAYs (error code, last stream id, in order) are the ones on the probe's timeline; the
 * wire's idle gap, from the segment carrying the response's END_STREAM to the one carrying
 * the first GOAWAY, lies in [settingMs − WIRE_ARM_MS, settingMs + lateMs]; the probe's
 * idle time and close after GOAWAY are within their error bounds of the wire's; the server sent
 * the first FIN, as the probe says. Only h2c: over TLS tshark would need the session keys,
 * which the probe does not export. Skips loudly where capture is not permitted.
 */
export async function expectH2IdleOnWire(
  ctx: TestContext,
  url: string,
  timing: { settingMs: number; lateMs: number },
): Promise<{ result: RunResult; wire: H2WireIdle }> {
  const port = Number(new URL(url).port);
  const capture = await startH2Capture(port);
  if ('unavailable' in capture) {
    console.warn(`*** SKIPPING the packet-capture check: ${capture.unavailable} ***`);
    ctx.skip(capture.unavailable);
  }
  const [outcome] = await Promise.allSettled([probeCli(url, ['h2-idle-timeout'], { protocol: 'h2' })]);
  const { segments, frames } = await capture.stop();
  if (outcome.status === 'rejected') throw outcome.reason;
  const result = outcome.value;

  // One sample, or more when one was taken again after a late stamp (main~1): each against its own connection on the wire.
  const samples = scenario(result, 'h2-idle-timeout').connections;
  const wires = samples.map((conn) => {
    const clientPort = conn.local?.port ?? -1;
    const fromServer = frames.filter((f) => f.srcPort === port && f.dstPort === clientPort);
    const goaways = fromServer.filter((f) => f.type === 7);
    const probeGoaways = conn.events.flatMap((e) => (e.kind === 'h2-frame' && e.dir === 'in' && e.frame.type === 'GOAWAY' ? [e.frame] : []));
    expect(goaways.map((g) => [H2_ERROR_NAMES[g.goawayError ?? -1] ?? g.goawayError, g.goawayLastStreamId])).toEqual(
      probeGoaways.map((g) => [g.errorCode, g.lastStreamId]),
    );
    const first = goaways[0] as H2WireFrame;
    const isEnd = (f: H2WireFrame): boolean => (f.type === 0 || f.type === 1) && (f.flags & 0x1) !== 0;
    const end = fromServer.filter((f) => f.time <= first.time && isEnd(f)).pop();
    expect(end).toBeDefined();
    const close = wireClose(segments, port, clientPort);
    expect(close.firstCloser).toBe('server');
    expect(close.how).toBe(metric(result, 'h2-idle-timeout', 'closeKind'));
    const serverClose = segments.find((s) => s.srcPort === port && s.dstPort === clientPort && (s.fin || s.rst));
    const wire = { idleMs: (first.time - (end as H2WireFrame).time) * 1000, closeAfterGoawayMs: ((serverClose?.time ?? Number.NaN) - first.time) * 1000 };
    // The probe's own figures for this connection lie within their error bounds of the wire's.
    const probeIdle = h2IdleTimeout(conn.events, conn.end) as number;
    const idleError = h2IdleTimeoutError(conn.events, conn.end) as number;
    const after = closeAfterGoawayTimed(conn.events, conn.end);
    console.info(
      `${url} h2 idle GOAWAY (${conn.id}): probe ${probeIdle.toFixed(1)} ms ±${idleError}, wire ${wire.idleMs.toFixed(3)} ms; close after GOAWAY: probe ${after?.ms.toFixed(1)} ms ±${after?.errorMs}, wire ${wire.closeAfterGoawayMs.toFixed(3)} ms`,
    );
    expect(wire.idleMs).toBeGreaterThanOrEqual(timing.settingMs - WIRE_ARM_MS);
    expect(wire.idleMs).toBeLessThanOrEqual(timing.settingMs + timing.lateMs);
    expect(Math.abs(probeIdle - wire.idleMs)).toBeLessThanOrEqual(idleError + BOUND_SLOP_MS);
    expect(Math.abs((after?.ms ?? Number.NaN) - wire.closeAfterGoawayMs)).toBeLessThanOrEqual((after?.errorMs ?? 0) + BOUND_SLOP_MS);
    return { wire, probeIdle, idleError };
  });
  // The metric: the shortest certain sample (of the least uncertain ones, when none is).
  expect(metric(result, 'h2-idle-timeout', 'idleTimeoutMs')).toBe(roundMs(Math.min(...sureSamples(wires, (w) => w.idleError).map((w) => w.probeIdle))));
  return { result, wire: (wires[0] as (typeof wires)[number]).wire };
}

/**
 * Starts a server whose config and files live in `dir`: removes `dir` when it fails to start,
 * and gives the started server a `stop` that stops it and removes `dir`.
 */
export async function startInDir<T extends object>(
  dir: string,
  start: () => Promise<RunningServer>,
  describe: (server: RunningServer) => T,
): Promise<T & { readonly stop: () => Promise<void> }> {
  let server: RunningServer;
  try {
    server = await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...describe(server),
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One server for the calling describe block: started before its tests, stopped after them; the getter fails a test if it did not start. */
export function useServerForBlock<T extends { stop(): Promise<void> }>(name: string, start: () => Promise<T>): () => T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error(`${name} did not start`);
    return server;
  };
}
