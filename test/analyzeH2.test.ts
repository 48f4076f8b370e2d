import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { startLabServer } from '../src/lab/labServer.js';
import type { LabServer } from '../src/lab/labServer.js';
import { medianOf } from '../src/measures/metrics.js';
import type { ConnEvent } from '../src/model/events.js';
import type { LabHttp2Profile, RunResult, ScenarioResult } from '../src/model/result.js';
import { SERVE_HTTP2_DEFAULTS } from '../src/options/labProfiles.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import { closeAfterGoaway } from '../src/timeline/h2.js';
import { readH2Frames, readSegments, recordCapture, wireClose } from './support/capture.js';
import type { H2WireFrame } from './support/capture.js';
import { TLS_SAME_VERDICT_MS } from './support/captureAgreement.js';
import { runCli } from './support/cli.js';
import { metric, scenario } from './support/probe.js';
import { expectValid } from './support/reportSchema.js';

/**
 * `analyze` reads HTTP/2 from captures, and `run --capture` times HTTP/2 on the wire. Captures
 * are made here, on 127.0.0.1, of the lab server speaking HTTP/2 with each GOAWAY style
 * (graceful two-step, immediate, none), h2c and over TLS, driven by the probe itself
 * (`run --protocol h2 --capture`), by Node's http2 client and by curl; `analyze` must give the
 * run's verdicts and agree with an independent tshark read of the frames
 * (test/support/capture.ts readH2Frames). Where capturing is not permitted, the tests skip,
 * loudly, with the reason.
 */

const IDLE_MS = 600;
const CAP = 4;
/**
 * analyze and run --capture read the same packets, but the run's times pass through its clock
 * offset and come out a microsecond or two apart from analyze's: two metrics rounded to 0.1 ms
 * (roundMs) from such times may round to neighbouring steps.
 */
const SAME_PACKETS_MS = 0.1 + 0.002;
/** The same for two event times (kept to the microsecond): each rounded on its own after the offset. */
const SAME_PACKET_EVENT_MS = 0.003;
/** What issue 17 asks: wire-measured idle timeouts within 1 ms of an independent read. */
const WIRE_AGREEMENT_MS = 1;
/** A server timer never fires early; on a busy 2-core machine it may fire this much late. */
const LATE_MS = 250;

type Style = LabHttp2Profile['goaway'];

function profile(goaway: Style, closeAfterGoawayMs: number): LabProfile {
  return {
    idleTimeoutMs: IDLE_MS,
    maxRequests: CAP,
    http10: 'close',
    close: 'fin',
    advertise: false,
    announceLast: true,
    http2: { ...SERVE_HTTP2_DEFAULTS, goaway, closeAfterGoawayMs },
  };
}

let dir = '';
const labs: LabServer[] = [];

async function lab(goaway: Style, closeAfterGoawayMs: number, tls = false): Promise<LabServer> {
  const server = await startLabServer(profile(goaway, closeAfterGoawayMs), '127.0.0.1', 0, { tls });
  labs.push(server);
  return server;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kap-analyze-h2-'));
});

afterAll(async () => {
  await Promise.all(labs.map((l) => l.close()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** `analyze FILE --json` (with a key log), parsed and checked against the schema. */
async function analyze(file: string, keylog: string | null = null, extra: readonly string[] = [], exitCode: number | null = null): Promise<RunResult> {
  const { code, stdout, stderr } = await runCli(['analyze', file, '--json', '-q', ...(keylog === null ? [] : ['--tls-keylog', keylog]), ...extra], {
    timeoutMs: 60_000,
  });
  expect(stderr).toBe('');
  if (exitCode === null) expect([0, 1]).toContain(code);
  else expect(code).toBe(exitCode);
  const report: unknown = JSON.parse(stdout);
  expectValid(expect, report);
  return report as RunResult;
}

function skip(ctx: TestContext, why: string): void {
  console.warn(`*** SKIPPING HTTP/2 capture test: ${why} ***`);
  ctx.skip(why);
}

/** The idle time before the first GOAWAY the server sent on the connection from `clientPort`, read by tshark's http2 dissector alone: its last response's END_STREAM → that GOAWAY. */
function wireIdleBeforeGoaway(frames: readonly H2WireFrame[], serverPort: number, clientPort: number): number | null {
  const conn = frames.filter((f) => f.srcPort === serverPort && f.dstPort === clientPort);
  const goaway = conn.find((f) => f.type === 7);
  if (goaway === undefined) return null;
  const end = conn.filter((f) => f.time <= goaway.time && f.streamId > 0 && (f.flags & 0x1) === 1 && (f.type === 0 || f.type === 1)).at(-1);
  return end === undefined ? null : (goaway.time - end.time) * 1000;
}

/** The run's requests that no response answered, on connections the server ended without any GOAWAY (as the run recorded them). */
function lostStreams(run: RunResult): number {
  let lost = 0;
  for (const c of run.scenarios.flatMap((s) => s.connections)) {
    if (c.events.some((e) => e.kind === 'h2-frame' && e.dir === 'in' && e.frame.type === 'GOAWAY') || c.end.closedBy !== 'server') continue;
    const answered = new Set(c.events.flatMap((e) => (e.kind === 'response-complete' ? [e.index] : [])));
    lost += c.events.filter((e) => e.kind === 'request' && !answered.has(e.index)).length;
  }
  return lost;
}

/**
 * The events a capture shows, each as its kind and fields with its time after the connect, in
 * time order: what analyze and a wire-timed run must share. The client's close and the probe's
 * own events with no packet (its close, deadlines) are left out.
 */
function comparable(events: readonly ConnEvent[]): { at: number; what: string }[] {
  const connect = events.find((e) => e.kind === 'connect')?.t ?? 0;
  const what = (e: ConnEvent): string | null => {
    switch (e.kind) {
      case 'h2-frame':
        return `${e.dir} ${e.frame.type} ${e.frame.streamId} ${e.frame.flags.join(',')} ${e.frame.errorCode ?? ''} ${e.frame.lastStreamId ?? ''} ${e.frame.debug ?? ''}`;
      case 'request':
        return `request #${e.index} ${e.method} ${e.path} ${e.version}`;
      case 'response-head':
        return `response-head #${e.index} ${e.status} ${e.keepAlive} ${e.framing}`;
      case 'response-complete':
        return `response-complete #${e.index}`;
      case 'peer-fin':
        return 'peer-fin';
      default:
        return null;
    }
  };
  return events
    .flatMap((e) => {
      const w = what(e);
      return w === null ? [] : [{ at: e.t - connect, what: w }];
    })
    .sort((a, b) => a.at - b.at || a.what.localeCompare(b.what));
}

/** Two timelines alike: the same events in the same order, each at the same time but for the run's clock offset rounding. */
function expectSameTimeline(analyzed: readonly ConnEvent[], run: readonly ConnEvent[], apartMs: number): void {
  const [a, r] = [comparable(analyzed), comparable(run)];
  expect(a.map((e) => e.what)).toEqual(r.map((e) => e.what));
  const apart = a.map((e, i) => Math.abs(e.at - (r[i]?.at ?? Number.NaN)));
  expect(Math.max(0, ...apart), `event times apart: ${apart.map((x) => x.toFixed(4)).join(' ')}`).toBeLessThanOrEqual(apartMs);
}

function idleScenario(report: RunResult): ScenarioResult {
  return scenario(report, 'h2-idle-timeout');
}

describe('run --protocol h2 --capture, then analyze: the same verdicts', () => {
  const cases: { style: Style; closeAfterMs: number; tls: boolean }[] = [
    { style: 'graceful', closeAfterMs: 100, tls: false },
    { style: 'immediate', closeAfterMs: 200, tls: false },
    { style: 'none', closeAfterMs: 0, tls: false },
    { style: 'immediate', closeAfterMs: 0, tls: true },
  ];
  for (const { style, closeAfterMs, tls } of cases) {
    it(`${style} GOAWAY${tls ? ' over TLS (the run keeps its key log)' : ' (h2c)'}: wire-timed run, analyze of its capture and tshark agree`, async (ctx) => {
      const server = await lab(style, closeAfterMs, tls);
      const file = path.join(dir, `run-${style}-${tls ? 'tls' : 'h2c'}.pcapng`);
      const args = ['run', server.url, '--protocol', 'h2', '--json', '-q', '--max-idle', '5s', '--max-requests', '20', '--capture', file];
      if (tls) args.push('--insecure');
      for (const id of ['h2-idle-timeout', 'h2-request-cap']) args.push('--scenario', id);
      const ran = await runCli(args, { timeoutMs: 90_000 });
      expect(ran.stderr).toBe('');
      expect([0, 1]).toContain(ran.code);
      const run = JSON.parse(ran.stdout) as RunResult;
      expectValid(expect, run);
      const wire = run.evidence.wire;
      if (wire?.source !== 'wire') return skip(ctx, wire?.reason ?? 'no evidence.wire in the report');
      // Every HTTP/2 connection matched to its stream and timed on the wire.
      expect(wire.reason).toBeNull();
      expect(wire.wireTimed).toBe(wire.connections);
      expect(idleScenario(run).wire?.idleTimeoutMs, 'the idle timeout is a wire figure').toBeDefined();

      const report = await analyze(file, tls ? `${file}.keylog` : null);
      expect(report.target.protocols).toEqual(['h2']);
      expect(report.evidence.capture?.h2Connections).toBeGreaterThanOrEqual(2);
      const runIdle = metric(run, 'h2-idle-timeout', 'idleTimeoutMs') as number;
      const analyzed = metric(report, 'h2-idle-timeout', 'idleTimeoutMs') as number;
      console.info(`${style}${tls ? ' tls' : ''}: run ${runIdle} ms (event loop ${idleScenario(run).wire?.idleTimeoutMs?.probeMs} ms), analyze ${analyzed} ms`);
      expect(runIdle).toBeGreaterThanOrEqual(IDLE_MS - 1);
      expect(runIdle).toBeLessThanOrEqual(IDLE_MS + LATE_MS);
      const same = tls ? TLS_SAME_VERDICT_MS : SAME_PACKETS_MS;
      expect(Math.abs(analyzed - runIdle)).toBeLessThanOrEqual(same);
      // One idle close per sample: the run takes one again on a new connection after a late stamp (a `timed` request).
      const samples = idleScenario(run).connections;
      expect(metric(report, 'h2-idle-timeout', 'idleCloses')).toBe(samples.length);
      for (const name of ['goawayErrorCode', 'goawayDebug', 'twoStepGoaway', 'closedBy', 'closeKind']) {
        expect(metric(report, 'h2-idle-timeout', name), name).toEqual(metric(run, 'h2-idle-timeout', name));
      }
      // analyze's is the median over the samples; the run's that of its last sample.
      const afters = samples.map((c) => closeAfterGoaway(c.events, c.end)).filter((x): x is number => x !== null);
      const after = afters.length > 1 ? medianOf(afters.sort((x, y) => x - y)) : metric(run, 'h2-idle-timeout', 'closeAfterGoawayMs');
      if (typeof after === 'number') expect(Math.abs((metric(report, 'h2-idle-timeout', 'closeAfterGoawayMs') as number) - after)).toBeLessThanOrEqual(same);
      else expect(metric(report, 'h2-idle-timeout', 'closeAfterGoawayMs')).toBeNull();
      expect(metric(report, 'h2-request-cap', 'maxRequests')).toBe(metric(run, 'h2-request-cap', 'maxRequests'));
      expect(metric(report, 'h2-request-cap', 'signalled')).toBe(metric(run, 'h2-request-cap', 'signalled'));
      // With a GOAWAY the cap is exact; without one, a stream the client opened before the lab's
      // close arrived may still be answered (the lab closes once no stream is open): counted too.
      if (style === 'none') expect(metric(report, 'h2-request-cap', 'maxRequests')).toBeGreaterThanOrEqual(CAP);
      else expect(metric(report, 'h2-request-cap', 'maxRequests')).toBe(CAP);
      // Lost streams: what the run's own connections show (a request written as the server closed with no GOAWAY), none with a GOAWAY.
      expect(metric(report, 'h2-streams', 'streamsLost')).toBe(lostStreams(run));
      if (style !== 'none') expect(lostStreams(run)).toBe(0);
      // What the style is, as the run measured it (and analyze, by the equalities above).
      expect(metric(run, 'h2-idle-timeout', 'goawayErrorCode')).toBe(style === 'none' ? null : 'NO_ERROR');
      expect(metric(run, 'h2-idle-timeout', 'twoStepGoaway')).toBe(style === 'none' ? null : style === 'graceful');
      expect(metric(run, 'h2-request-cap', 'signalled')).toBe(style !== 'none');

      // The same events: analyze's timeline of the idle connection is the run's wire-timed one.
      const local = idleScenario(run).connections[0]?.local?.port as number;
      const mine = idleScenario(report).connections.find((c) => c.local?.port === local);
      expect(mine, 'analyze keeps the idle connection').toBeDefined();
      expectSameTimeline(mine?.events ?? [], idleScenario(run).connections[0]?.events ?? [], tls ? TLS_SAME_VERDICT_MS : SAME_PACKET_EVENT_MS);

      // An independent read of the same file: tshark's own dissectors, not the code under test.
      // analyze's figure is the shortest of the samples' idle closes.
      const ports = samples.map((c) => c.local?.port as number);
      if (style === 'none') {
        const segments = readSegments(file);
        const closes = ports.map((p) => wireClose(segments, server.port, p));
        for (const close of closes) expect(close.firstCloser).toBe('server');
        expect(Math.abs(Math.min(...closes.map((c) => c.serverIdleMs as number)) - analyzed)).toBeLessThanOrEqual(WIRE_AGREEMENT_MS);
      } else if (!tls) {
        const frames = readH2Frames(file, server.port);
        const idle = ports.map((p) => wireIdleBeforeGoaway(frames, server.port, p));
        expect(idle).not.toContain(null);
        expect(Math.abs(Math.min(...(idle as number[])) - analyzed)).toBeLessThanOrEqual(WIRE_AGREEMENT_MS);
      }
    }, 120_000);
  }
});

describe('HTTP/1.1 and h2c on one port, in one capture', () => {
  it('analyze reads both: the h2c connections on a second pass, the HTTP/1 ones once, each judged by its own scenarios', async (ctx) => {
    const server = await lab('immediate', 0);
    const file = path.join(dir, 'mixed.pcapng');
    const args = ['run', server.url, '--json', '-q', '--max-idle', '5s', '--capture', file, '--scenario', 'idle-timeout', '--scenario', 'h2-idle-timeout'];
    const ran = await runCli(args, { timeoutMs: 90_000 });
    expect(ran.stderr).toBe('');
    expect([0, 1]).toContain(ran.code);
    const run = JSON.parse(ran.stdout) as RunResult;
    const wire = run.evidence.wire;
    if (wire?.source !== 'wire') return skip(ctx, wire?.reason ?? 'no evidence.wire in the report');
    expect(wire.reason).toBeNull();
    const report = await analyze(file);
    expect(report.target.protocols).toEqual(['http/1.1', 'h2']);
    const capture = report.evidence.capture;
    // Every connection once: the h2c ones set aside on the first pass are not counted twice.
    expect((capture?.httpConnections ?? 0) + (capture?.h2Connections ?? 0)).toBe(capture?.connections);
    expect(capture?.h2Connections).toBe(run.scenarios.filter((s) => s.protocol === 'h2').flatMap((s) => s.connections).length + 1);
    const h1 = metric(run, 'idle-timeout', 'idleTimeoutMs') as number;
    const h2 = metric(run, 'h2-idle-timeout', 'idleTimeoutMs') as number;
    console.info(
      `mixed: run HTTP/1 ${h1} ms, HTTP/2 ${h2} ms; analyze ${metric(report, 'idle-timeout', 'idleTimeoutMs')} ms, ${metric(report, 'h2-idle-timeout', 'idleTimeoutMs')} ms`,
    );
    expect(Math.abs((metric(report, 'h2-idle-timeout', 'idleTimeoutMs') as number) - h2)).toBeLessThanOrEqual(SAME_PACKETS_MS);
    // analyze's HTTP/1 minimum is over every HTTP/1 idle close, the run's over its samples without "Connection: keep-alive".
    expect(metric(report, 'idle-timeout', 'idleTimeoutMs') as number).toBeLessThanOrEqual(h1 + SAME_PACKETS_MS);
    expect(metric(report, 'idle-timeout', 'idleTimeoutMs') as number).toBeGreaterThanOrEqual(IDLE_MS - 1);
  }, 120_000);
});

describe('real clients captured, then analyzed', () => {
  it("Node's http2 client idle past the lab's GOAWAY: analyze reads the idle timeout tshark reads", async (ctx) => {
    const server = await lab('immediate', 0);
    const file = path.join(dir, 'node-http2.pcapng');
    const recording = await recordCapture(`tcp port ${server.port}`, file);
    if ('unavailable' in recording) return skip(ctx, recording.unavailable);
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    const clientPort = await new Promise<number>((resolve, reject) => {
      session.once('error', reject);
      session.once('connect', () => resolve(session.socket.localPort as number));
    });
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      req.on('error', reject);
      req.resume();
      req.on('end', () => resolve());
      req.end();
    });
    // Idle until the server's GOAWAY ends the session (bounded).
    const ended = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), IDLE_MS * 5 + 2000);
      session.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    session.destroy();
    await recording.stop();
    expect(ended, 'the server ended the idle session').toBe(true);
    const report = await analyze(file);
    expect(report.target.protocols).toEqual(['h2']);
    const analyzed = metric(report, 'h2-idle-timeout', 'idleTimeoutMs') as number;
    const independent = wireIdleBeforeGoaway(readH2Frames(file, server.port), server.port, clientPort) as number;
    console.info(`node http2: analyze ${analyzed} ms, tshark ${independent} ms`);
    expect(analyzed).toBeGreaterThanOrEqual(IDLE_MS - 1);
    expect(analyzed).toBeLessThanOrEqual(IDLE_MS + LATE_MS);
    expect(Math.abs(analyzed - independent)).toBeLessThanOrEqual(WIRE_AGREEMENT_MS);
    expect(metric(report, 'h2-idle-timeout', 'goawayErrorCode')).toBe('NO_ERROR');
    expect(metric(report, 'h2-idle-timeout', 'twoStepGoaway')).toBe(false);
    expect(metric(report, 'h2-idle-timeout', 'closedBy')).toBe(wireClose(readSegments(file), server.port, clientPort).firstCloser);
    const conn = idleScenario(report).connections[0];
    expect(conn?.events.some((e) => e.kind === 'request' && e.version === '2' && e.path === '/')).toBe(true);
  }, 60_000);

  it('curl --http2 over TLS with a key log, past the stream cap: analyze sees the GOAWAY after 4 streams; without the key log, TLS hides it', async (ctx) => {
    const server = await lab('immediate', 0, true);
    const file = path.join(dir, 'curl-h2.pcapng');
    const keylog = path.join(dir, 'curl.keylog');
    const recording = await recordCapture(`tcp port ${server.port}`, file);
    if ('unavailable' in recording) return skip(ctx, recording.unavailable);
    const urls = Array.from({ length: CAP + 1 }, (_, i) => `${server.url}?n=${i}`);
    const curl = spawn('curl', ['-sk', '--http2', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', ...urls], {
      env: { ...process.env, SSLKEYLOGFILE: keylog },
      stdio: 'ignore',
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => curl.kill('SIGKILL'), 20_000);
      curl.once('error', () => resolve(-1));
      curl.once('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    await recording.stop();
    if (code === -1) return skip(ctx, 'curl is not installed');
    expect(code).toBe(0);
    const report = await analyze(file, keylog);
    expect(report.target.protocols).toEqual(['h2']);
    expect(metric(report, 'h2-request-cap', 'maxRequests')).toBe(CAP);
    expect(metric(report, 'h2-request-cap', 'signalled')).toBe(true);
    expect(metric(report, 'h2-request-cap', 'goawayErrorCode')).toBe('NO_ERROR');
    expect(metric(report, 'h2-streams', 'requests')).toBe(CAP + 1);
    expect(metric(report, 'h2-streams', 'streamsLost')).toBe(0);
    const hidden = await analyze(file);
    expect(hidden.target.protocols).toEqual(['http/1.1']);
    expect(hidden.evidence.capture?.tlsHidden).toBeGreaterThanOrEqual(2);
    expect(hidden.scenarios.map((s) => s.id)).not.toContain('h2-request-cap');
    // A gate on an HTTP/2 metric keeps its scenario in the report, and fails on what was not seen (exit 1).
    const gated = await analyze(file, null, ['--expect', `h2-request-cap.maxRequests=${CAP}`], 1);
    expect(metric(gated, 'h2-request-cap', 'maxRequests')).toBeNull();
    expect(scenario(gated, 'h2-request-cap').status).toBe('fail');
    const passed = await analyze(file, keylog, ['--expect', `h2-request-cap.maxRequests=${CAP}`], 0);
    expect(scenario(passed, 'h2-request-cap').status).toBe('pass');
  }, 60_000);
});
