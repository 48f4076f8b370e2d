import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_ORDER } from '../src/catalog/builtinScenarios.js';
import { startLabServer } from '../src/lab/labServer.js';
import type { LabServer } from '../src/lab/labServer.js';
import { UNCERTAIN_ERROR_MS } from '../src/model/metrics.js';
import type { ConnectionRecord, RunResult } from '../src/model/result.js';
import { SERVE_HTTP2_DEFAULTS } from '../src/options/labProfiles.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import { idleTimeoutOf } from '../src/timeline/classifyClose.js';
import { connectionSegments, readSegments, wireClose } from './support/capture.js';
import type { Segment } from './support/capture.js';
import {
  analyzeCapture as analyze,
  expectCaptureAgreement,
  expectSameVerdicts,
  expectWithinBounds,
  idlesAgainstWire,
  needWire,
  runCaptured,
  staleWrites,
  TLS_SAME_VERDICT_MS,
} from './support/captureAgreement.js';
import { BIN, runCli } from './support/cli.js';
import { metric, scenario } from './support/probe.js';
import { freePort, serverBinary, startNginx } from './support/realServer.js';
import type { RunningServer } from './support/realServer.js';
import { issueTestPki, startHttpsServer } from './support/tls.js';

/**
 * `run --capture FILE`: the built CLI probes lab servers and nginx on 127.0.0.1 while dumpcap
 * captures, its timing metrics come from the capture, and `analyze FILE` of the same capture
 * gives the same verdicts. Under load (several runs at once on 2 cores) the wire-measured
 * idle timeouts agree with an independent tshark read of each capture (test/support/capture.ts),
 * whatever the event loop's lag. Where capturing is not permitted the run says why and these
 * tests skip, loudly, with that reason.
 */

const IDLE: LabProfile = { idleTimeoutMs: 800, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const CAP: LabProfile = { idleTimeoutMs: 5000, maxRequests: 4, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const MISMATCH: LabProfile = { idleTimeoutMs: 600, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const STALE: LabProfile = { idleTimeoutMs: 600, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
/** The load test's lab speaks HTTP/1.1 and h2c, so a full suite runs all 13 built-ins; its GOAWAY goes out alone, then the FIN. */
const LOAD: LabProfile = {
  idleTimeoutMs: 600,
  maxRequests: 0,
  http10: 'close',
  close: 'fin',
  advertise: false,
  announceLast: true,
  http2: SERVE_HTTP2_DEFAULTS,
};

/** The share of idle times the load test lets lie beyond their bound (see there). */
const OUTSIDE_BOUND_SHARE = 0.02;
/** What the brief of issue 14 asks of the event loop's headline idle timeout under load. */
const LOAD_PRECISION_MS = 5;
/** What the brief of issue 17 asks: wire-measured idle timeouts within 1 ms of an independent read. */
const WIRE_AGREEMENT_MS = 1;
/** A server timer never fires early; on a busy 2-core machine it may fire this much late. */
const LATE_MS = 250;
/** node:https's keepAliveTimeout; lib/_http_server.js arms the idle close at keepAliveTimeout + 1000 ms (test/analyze.test.ts). */
const TLS_KEEP_ALIVE_MS = 500;
const TLS_IDLE_MS = TLS_KEEP_ALIVE_MS + 1000;
/** Full suites at once in the load test, as issue 17 asks (2 cores: 4 probes and 4 dumpcaps per core, plus the lab). */
const PARALLEL_RUNS = 8;

let dir = '';
const labs: Record<'idle' | 'cap' | 'mismatch' | 'stale', LabServer | null> = { idle: null, cap: null, mismatch: null, stale: null };
/** One lab per parallel run: each run's capture (filtered on its target's port) holds its own connections only. */
let loadLabs: LabServer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kap-run-capture-'));
  labs.idle = await startLabServer(IDLE);
  labs.cap = await startLabServer(CAP);
  labs.mismatch = await startLabServer(MISMATCH);
  labs.stale = await startLabServer(STALE);
  loadLabs = await Promise.all(Array.from({ length: PARALLEL_RUNS }, () => startLabServer(LOAD)));
});

afterAll(async () => {
  await Promise.all([...Object.values(labs), ...loadLabs].map((l) => l?.close()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('run --capture: the lab server', () => {
  it('idle timeout: every timing metric from the wire, the event-loop value kept beside it; analyze of the file gives the same verdicts', async (ctx) => {
    const file = path.join(dir, 'idle.pcapng');
    const run = await runCaptured((labs.idle as LabServer).url, ['idle-timeout'], file);
    needWire(ctx, run);
    expectWithinBounds('lab', run);
    expect(run.evidence.wire?.file).toBe(file);
    const idle = scenario(run, 'idle-timeout');
    const wire = idle.wire?.idleTimeoutMs;
    console.info(`idle timeout ${IDLE.idleTimeoutMs} ms: event loop ${wire?.probeMs} ms, wire ${wire?.wireMs} ms`);
    expect(wire?.wireMs).toBe(idle.metrics.idleTimeoutMs);
    expect(typeof wire?.probeMs).toBe('number');
    expect(wire?.wireMs).toBeGreaterThanOrEqual(IDLE.idleTimeoutMs - 1);
    expect(wire?.wireMs).toBeLessThanOrEqual(IDLE.idleTimeoutMs + LATE_MS);
    // The connection's events carry the packets' times: its close classification rests on them.
    const first = idle.connections[0] as ConnectionRecord;
    const fin = first.events.find((e) => e.kind === 'peer-fin')?.t as number;
    const done = first.events.filter((e) => e.kind === 'response-complete').at(-1)?.t as number;
    expect(first.end.idleMs).toBeCloseTo(fin - done, 1);

    const report = await analyze(file);
    expectSameVerdicts('lab idle-timeout', run, report);
  }, 60_000);

  it('request cap, a request after the FIN, the race: the same verdicts from run --capture and from analyze of its file', async (ctx) => {
    const files = { cap: path.join(dir, 'cap.pcapng'), mismatch: path.join(dir, 'mismatch.pcapng'), stale: path.join(dir, 'stale.pcapng') };
    // One scenario per server and capture: analyze's timeout-mismatch reads the first stale request of the capture.
    const [cap, mismatch, stale] = await Promise.all([
      runCaptured((labs.cap as LabServer).url, ['request-cap'], files.cap),
      runCaptured((labs.mismatch as LabServer).url, ['timeout-mismatch'], files.mismatch),
      runCaptured((labs.stale as LabServer).url, ['stale-race'], files.stale),
    ]);
    for (const run of [cap, mismatch, stale]) needWire(ctx, run);
    for (const run of [cap, mismatch, stale]) expectWithinBounds('lab', run);
    expect(metric(cap, 'request-cap', 'maxRequests')).toBe(CAP.maxRequests);
    expectSameVerdicts('lab request-cap', cap, await analyze(files.cap));
    expect(staleWrites(mismatch).written).toBe(1);
    expectSameVerdicts('lab timeout-mismatch', mismatch, await analyze(files.mismatch));
    // The race's T and each trial's idle time are the wire's too.
    const race = scenario(stale, 'stale-race').race;
    expect(race?.idleTimeoutMs).toBe(metric(stale, 'stale-race', 'idleTimeoutMs'));
    expect(scenario(stale, 'stale-race').wire?.idleTimeoutMs?.wireMs).toBe(race?.idleTimeoutMs);
    expectSameVerdicts('lab stale-race', stale, await analyze(files.stale));
  }, 90_000);

  it('--capture without a file: the capture is read and not kept', async (ctx) => {
    const run = await runCaptured((labs.idle as LabServer).url, ['http11-reuse'], null);
    needWire(ctx, run);
    expectWithinBounds('lab', run);
    expect(run.evidence.wire?.file).toBeNull();
    // No timing metric in this scenario: wire-timed all the same, with nothing to replace.
    expect(scenario(run, 'http11-reuse').wire).toEqual({});
  }, 60_000);
});

describe('run --capture over TLS', () => {
  it('the probe logs its own TLS keys: its HTTPS connections are timed on the wire, and analyze reads the kept capture with the kept key log', async (ctx) => {
    const pki = issueTestPki(mkdtempSync(path.join(dir, 'pki-')));
    const server = await startHttpsServer(pki, TLS_KEEP_ALIVE_MS);
    try {
      const file = path.join(dir, 'tls.pcapng');
      const run = await runCaptured(server.url, ['idle-timeout'], file, undefined, ['--cacert', pki.ca]);
      needWire(ctx, run);
      expectWithinBounds('TLS', run, TLS_SAME_VERDICT_MS);
      expect(run.target.tls).toBe(true);
      expect(run.evidence.wire?.tlsKeylog).toBe(`${file}.keylog`);
      expect(readFileSync(`${file}.keylog`, 'utf8')).toContain('CLIENT_');
      const idle = metric(run, 'idle-timeout', 'idleTimeoutMs') as number;
      console.info(`TLS idle timeout: event loop ${scenario(run, 'idle-timeout').wire?.idleTimeoutMs?.probeMs} ms, wire ${idle} ms`);
      expect(idle).toBeGreaterThanOrEqual(TLS_IDLE_MS - 1);
      expect(idle).toBeLessThanOrEqual(TLS_IDLE_MS + LATE_MS);
      const { code, stdout } = await runCli(['analyze', file, '--tls-keylog', `${file}.keylog`, '--json', '-q'], { timeoutMs: 60_000 });
      expect(code).toBe(0);
      expectSameVerdicts('TLS', run, JSON.parse(stdout) as RunResult, TLS_SAME_VERDICT_MS);
    } finally {
      server.stop();
    }
  }, 60_000);
});

describe('run --capture when capturing is not possible', () => {
  it('no dumpcap or tshark on PATH: the run goes on with event-loop times, and the report says why in one line', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'kap-nopath-'));
    try {
      const run = await runCaptured((labs.idle as LabServer).url, ['http11-reuse'], path.join(empty, 'x.pcapng'), { PATH: empty });
      expect(run.evidence.wire).toMatchObject({ source: 'event-loop', reason: expect.stringMatching(/^neither dumpcap nor tshark is installed/), file: null });
      expect(scenario(run, 'http11-reuse').wire).toBeUndefined();
      expect(metric(run, 'http11-reuse', 'reused')).toBe(true);
      const terminal = await runCli(['run', (labs.idle as LabServer).url, '--capture', '-s', 'http11-reuse', '--color', 'never'], { env: { PATH: empty } });
      expect(terminal.code).toBe(0);
      expect(terminal.stdout.split('\n').filter((l) => l.startsWith('Timing:'))).toEqual([
        "Timing: the event loop's, not the wire's: neither dumpcap nor tshark is installed (Debian, Ubuntu: apt-get install tshark).",
      ]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);

  it("an unprivileged user (setpriv to nobody): dumpcap's own reason, and the run goes on", async (ctx) => {
    const setpriv = spawnSync('sh', ['-c', 'command -v setpriv']).stdout.toString().trim();
    if (process.getuid?.() !== 0 || setpriv === '') {
      const why = 'needs root and setpriv to run the probe as an unprivileged user';
      console.warn(`*** SKIPPING: ${why} ***`);
      ctx.skip(why);
    }
    // Not spawnSync: the lab server answers from this process's event loop.
    const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const args = ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'run', (labs.idle as LabServer).url];
      // A PATH that nobody may search (root's own directories come first here) would fail the spawn itself.
      const env = { ...process.env, PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
      const p = spawn(setpriv, [...args, '--capture', '-s', 'http11-reuse', '--json', '-q'], { stdio: ['ignore', 'pipe', 'pipe'], env });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
      p.once('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
    const run = JSON.parse(child.stdout) as RunResult;
    expect(run.evidence.wire).toMatchObject({ source: 'event-loop', file: null });
    console.info(`as nobody: ${run.evidence.wire?.reason}`);
    expect(run.evidence.wire?.reason).toMatch(/^(dumpcap|tshark) could not capture on lo: .*permission/);
    expect(run.evidence.wire?.reason).not.toContain('\n');
    expect(metric(run, 'http11-reuse', 'reused')).toBe(true);
  }, 60_000);

  it('--capture into a directory that does not exist: exit 2 before probing', async () => {
    const { code, stdout, stderr } = await runCli(['run', (labs.idle as LabServer).url, '--capture', '/nonexistent/dir/run.pcapng']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('keepalive-probe: --capture /nonexistent/dir/run.pcapng: no directory /nonexistent/dir to write the capture in\n');
  });

  it("analyze --expect on a scenario a capture does not answer names analyze's scenarios, not --scenario", async () => {
    const file = path.join(dir, 'empty.pcapng');
    writeFileSync(file, '');
    const { code, stderr } = await runCli(['analyze', file, '--expect', 'http10-keepalive.keepAliveHonoured=true']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/needs scenario "http10-keepalive", which a capture does not answer \(analyze reports idle-timeout, request-cap, /);
    expect(stderr).not.toContain('--scenario');
  });
});

const nginxBin = serverBinary('nginx', ['/usr/sbin/nginx'], 'apt-get install nginx-light (or nginx)');

describe.skipIf(nginxBin === null)('run --capture: nginx', () => {
  let server: RunningServer | null = null;
  afterAll(async () => {
    await server?.stop();
  });

  it('keepalive_timeout 1s; keepalive_requests 4: run --capture and analyze of its file give the same verdicts', async (ctx) => {
    const root = mkdtempSync(path.join(dir, 'nginx-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const http = `  keepalive_timeout 1s;
  keepalive_requests 4;
  server {
    listen 127.0.0.1:${port};
    location / { return 200 "ok\\n"; }
  }`;
    server = await startNginx(nginxBin ?? 'nginx', root, http, url);
    const { run } = await expectCaptureAgreement(ctx, 'nginx', url, ['idle-timeout', 'request-cap', 'timeout-mismatch'], path.join(dir, 'nginx.pcapng'));
    expect(run.target.server).toMatch(/^nginx\//);
    expect(metric(run, 'request-cap', 'maxRequests')).toBe(4);
    const idle = metric(run, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(idle).toBeGreaterThanOrEqual(1000 - 1);
    expect(idle).toBeLessThanOrEqual(1000 + LATE_MS);
  }, 90_000);
});

describe('run --capture under load', () => {
  it(`${PARALLEL_RUNS} full suites at once on 2 cores: wire-measured idle timeouts agree with an independent tshark read within 1 ms`, async (ctx) => {
    const files = Array.from({ length: PARALLEL_RUNS }, (_, i) => path.join(dir, `load-${i}.pcapng`));
    const runs = await Promise.all(files.map((f, i) => runCaptured((loadLabs[i] as LabServer).url, [], f)));
    let worstWire = 0;
    let worstLoop = 0;
    let checked = 0;
    let bounded = 0;
    let offBy5 = 0;
    const outside: string[] = [];
    let worstBeyond = 0;
    let precise = 0;
    let uncertain = 0;
    for (const [i, run] of runs.entries()) {
      needWire(ctx, run);
      // A run with no --scenario, against a target speaking HTTP/1.1 and h2c: every built-in.
      expect(run.scenarios.map((s) => s.id)).toEqual(BUILTIN_ORDER);
      const port = (loadLabs[i] as LabServer).port;
      const segments = readSegments(files[i] as string);
      // Every HTTP/1.1 idle close, each against the capture read on its own.
      const closes = run.scenarios.filter((s) => s.protocol === 'http/1.1').flatMap((s) => s.connections.filter((c) => idleTimeoutOf(c.end) !== null));
      expect(closes.length).toBeGreaterThanOrEqual(4);
      for (const c of closes) {
        const independent = wireClose(segments, port, c.local?.port as number, opened(run, c));
        expect(independent.firstCloser).toBe('server');
        const diff = Math.abs((idleTimeoutOf(c.end) as number) - (independent.serverIdleMs as number));
        worstWire = Math.max(worstWire, diff);
        expect(diff, `${c.id} (local port ${c.local?.port})`).toBeLessThanOrEqual(WIRE_AGREEMENT_MS);
        checked += 1;
      }
      // The headline figures: HTTP/1.1 idle-timeout and HTTP/2 h2-idle-timeout, each the shortest of its idle connections.
      for (const [id, independentIdle] of [
        ['idle-timeout', (c: ConnectionRecord) => wireClose(segments, port, c.local?.port as number, opened(run, c)).serverIdleMs],
        ['h2-idle-timeout', (c: ConnectionRecord) => goawayIdle(segments, port, c.local?.port as number, opened(run, c))],
      ] as const) {
        const w = scenario(run, id).wire?.idleTimeoutMs;
        // idle-timeout's figure is the shortest of its bare-form samples (main, main#2, …); the Connection: keep-alive form has its own.
        const samples = scenario(run, id).connections.filter((c) => c.id.startsWith('main'));
        const independentMin = Math.min(...samples.map((c) => independentIdle(c) ?? Number.POSITIVE_INFINITY));
        const diff = Math.abs((w?.wireMs as number) - independentMin);
        worstWire = Math.max(worstWire, diff);
        expect(diff, `${id} in run ${i}`).toBeLessThanOrEqual(WIRE_AGREEMENT_MS);
        worstLoop = Math.max(worstLoop, Math.abs((w?.probeMs as number) - independentMin));
        console.info(`run ${i} ${id}: event loop ${w?.probeMs} ms, wire ${w?.wireMs} ms, independent ${independentMin.toFixed(3)} ms`);
      }
      console.info(`run ${i}: event-loop lag seen up to ${run.evidence.wire?.eventLoopLagMaxMs} ms`);
      // Every idle time the event loop measured (HTTP/1.1 and HTTP/2, every scenario) against the wire's: within its own
      // error bound, which covers the probe's process (a busy loop, the process scheduled late). Under this load a few
      // lie beyond it (0.5 % in bench/precision.mjs, cause not established): counted, and held to a few.
      const idles = idlesAgainstWire(run);
      outside.push(...idles.outside.map((x) => `${x.text} in run ${i}`));
      worstBeyond = Math.max(worstBeyond, ...idles.outside.map((x) => x.beyondMs));
      offBy5 += idles.all.filter((x) => x.offMs > LOAD_PRECISION_MS).length;
      bounded += idles.all.length;
      const headline = scenario(run, 'idle-timeout').wire?.idleTimeoutMs;
      if (Math.abs((headline?.probeMs as number) - (headline?.wireMs as number)) <= LOAD_PRECISION_MS) precise += 1;
      if ((headline?.probeErrorMs ?? 0) > UNCERTAIN_ERROR_MS) uncertain += 1;
    }
    expect(bounded).toBeGreaterThanOrEqual(checked);
    expect(outside.length / bounded, outside.join('\n')).toBeLessThanOrEqual(OUTSIDE_BOUND_SHARE);
    console.info(
      `${PARALLEL_RUNS} full suites at once: ${bounded} event-loop idle times against the wire: ${offBy5} off by more than ${LOAD_PRECISION_MS} ms, ${outside.length} beyond their error bound (by up to ${worstBeyond.toFixed(1)} ms); the headline idle timeout within ${LOAD_PRECISION_MS} ms of the wire in ${precise} of ${PARALLEL_RUNS} runs, said uncertain in ${uncertain}`,
    );
    console.info(
      `${PARALLEL_RUNS} full suites at once: wire vs independent read, worst ${worstWire.toFixed(3)} ms over ${checked} HTTP/1.1 idle closes and the two headline idle timeouts; event loop vs independent, worst ${worstLoop.toFixed(3)} ms`,
    );
  }, 180_000);
});

/**
 * When a connection opened, in epoch seconds (the run's start plus its connect event): a run of
 * 130-odd connections may use one client port twice (the server held the first one's TIME_WAIT).
 */
function opened(run: RunResult, c: ConnectionRecord): number {
  return (Date.parse(run.startedAt) + (c.events.find((e) => e.kind === 'connect')?.t ?? 0)) / 1000;
}

/**
 * An HTTP/2 idle close read from the segments alone: the server's last segment with data
 * before its FIN carries the GOAWAY (the lab sends it alone, then closes); the idle period is
 * from the server's data segment before it (the end of the last response). A retransmission
 * (the tail loss probe resends the response's last segment when the ACK is late under load) is
 * not where the idle period starts.
 */
function goawayIdle(segments: readonly Segment[], serverPort: number, clientPort: number, near: number): number | null {
  const conn = connectionSegments(segments, clientPort, near);
  const fin = conn.find((s) => s.fin && s.srcPort === serverPort);
  if (fin === undefined) return null;
  const served = conn.filter((s) => s.srcPort === serverPort && s.payload > 0 && !s.resent && s.time <= fin.time);
  const [before, goaway] = served.slice(-2);
  return before === undefined || goaway === undefined ? null : (goaway.time - before.time) * 1000;
}
