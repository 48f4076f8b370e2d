import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { startLabServer } from '../src/lab/labServer.js';
import type { LabServer } from '../src/lab/labServer.js';
import type { RunResult } from '../src/model/result.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import { recordCapture, readSegments, wireClose } from './support/capture.js';
import type { Segment } from './support/capture.js';
import { runCli } from './support/cli.js';
import { metric, probeCli, scenario } from './support/probe.js';
import { findCurl, findGo, runCurl, runNodeClient, useGoClient } from './support/realClients.js';
import type { ClientExperience } from './support/realClients.js';
import { expectValid } from './support/reportSchema.js';
import { issueTestPki, startHttpsServer } from './support/tls.js';

/**
 * `analyze` against captures this file makes: lab servers on 127.0.0.1 with an idle
 * timeout, a request cap, an RST close; real clients (Node's http.Agent, curl, a raw socket
 * that writes after the server's FIN, the probe's own `run`) under one tshark capture on lo,
 * and Node, Go and curl against labs that close with FIN, drop silently and cap under another;
 * then the built CLI analyzes the file, filtered per server with --port, and its verdicts are
 * checked against the profile and against an independent tshark read of the same file.
 */

// No Keep-Alive hint: "timeout=0" (800 ms in whole seconds) makes Node's agent close each socket at once.
const IDLE: LabProfile = { idleTimeoutMs: 800, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const CAP: LabProfile = { idleTimeoutMs: 5000, maxRequests: 3, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const RST: LabProfile = { idleTimeoutMs: 600, maxRequests: 0, http10: 'close', close: 'rst', advertise: false, announceLast: true, http2: null };
const STALE: LabProfile = { idleTimeoutMs: 500, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const RUN: LabProfile = { idleTimeoutMs: 1000, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };

/** node:https's keepAliveTimeout for the TLS connection. */
const TLS_KEEP_ALIVE_MS = 500;
/** lib/_http_server.js arms the idle close at keepAliveTimeout + 1000 ms (see nodeAndPython.integration.test.ts). */
const TLS_IDLE_MS = TLS_KEEP_ALIVE_MS + 1000;

/** A server timer never fires early; on a busy 2-core machine it may fire this much late. */
const LATE_MS = 250;
/** analyze and the independent read time the same two packets: they differ only by the report's rounding to 0.1 ms (roundMs). */
const SAME_PACKETS_MS = 0.05 + 0.001;
/** The probe stamps events on its event loop; the capture in the kernel (docs: PROBE_LAG_MS in test/realServers). */
const PROBE_LAG_MS = 50;

let dir = '';
let file = '';
let unavailable: string | null = null;
let segments: Segment[] = [];
const labs: Record<'idle' | 'cap' | 'rst' | 'stale' | 'run', LabServer | null> = { idle: null, cap: null, rst: null, stale: null, run: null };
let probeRun: RunResult | null = null;
let staleClientPort = 0;
let tls: { url: string; port: number; stop: () => void } | null = null;
let keylog = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kap-analyze-'));
  file = path.join(dir, 'traffic.pcapng');
  labs.idle = await startLabServer(IDLE);
  labs.cap = await startLabServer(CAP);
  labs.rst = await startLabServer(RST);
  labs.stale = await startLabServer(STALE);
  labs.run = await startLabServer(RUN);
  const server = await startHttpsServer(issueTestPki(dir), TLS_KEEP_ALIVE_MS);
  tls = { ...server, port: Number(new URL(server.url).port) };
  keylog = path.join(dir, 'keys.log');
  const ports = [...Object.values(labs).map((l) => (l as LabServer).port), tls.port];
  const recording = await recordCapture(ports.map((p) => `tcp port ${p}`).join(' or '), file);
  if ('unavailable' in recording) {
    unavailable = recording.unavailable;
    return;
  }
  try {
    const [, , , stalePort, run] = await Promise.all([
      nodeAgentIdle((labs.idle as LabServer).url),
      curl([1, 2, 3, 4, 5].map((i) => `${(labs.cap as LabServer).url}r${i}`)),
      rawIdle((labs.rst as LabServer).port, 900),
      writeAfterFin((labs.stale as LabServer).port, 900),
      probeCli((labs.run as LabServer).url, ['idle-timeout'], { maxIdleMs: 5000 }),
      tlsIdle(tls.url, keylog, path.join(dir, 'ca.pem')),
    ]);
    staleClientPort = stalePort;
    probeRun = run;
  } finally {
    await recording.stop();
  }
  segments = readSegments(file);
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(labs).map((l) => l?.close()));
  tls?.stop();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function needCapture(ctx: TestContext): void {
  if (unavailable !== null) {
    console.warn(`*** SKIPPING analyze on a real capture: ${unavailable} ***`);
    ctx.skip(unavailable);
  }
}

/** `analyze file --json` with `args`, parsed and checked against the schema. */
async function analyze(args: readonly string[] = []): Promise<RunResult> {
  const { code, stdout, stderr } = await runCli(['analyze', file, '--json', '-q', ...args], { timeoutMs: 60_000 });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const report: unknown = JSON.parse(stdout);
  expectValid(expect, report);
  return report;
}

/** The idle close of every connection to `port` on the wire: ms from the server's last data segment to its FIN or RST. */
function wireIdles(port: number): { idleMs: number; how: string | null }[] {
  const clients = [...new Set(segments.filter((s) => s.dstPort === port).map((s) => s.srcPort))];
  return clients
    .map((client) => wireClose(segments, port, client))
    .filter((w) => w.firstCloser === 'server' && w.serverIdleMs !== null)
    .map((w) => ({ idleMs: w.serverIdleMs as number, how: w.how }));
}

describe('analyze <capture>', () => {
  it('Node http.Agent idling past the server: the idle timeout as tshark times it, FIN, the server closed first and holds TIME_WAIT', async (ctx) => {
    needCapture(ctx);
    const port = (labs.idle as LabServer).port;
    const report = await analyze(['--port', String(port)]);
    const wire = wireIdles(port);
    expect(wire.length).toBe(2);
    const expected = Math.min(...wire.map((w) => w.idleMs));
    const idle = metric(report, 'idle-timeout', 'idleTimeoutMs') as number;
    console.info(`idle timeout ${IDLE.idleTimeoutMs} ms: analyze ${idle} ms, independent tshark read ${expected.toFixed(3)} ms`);
    expect(Math.abs(idle - expected)).toBeLessThanOrEqual(SAME_PACKETS_MS);
    expect(idle).toBeGreaterThanOrEqual(IDLE.idleTimeoutMs - 1);
    expect(idle).toBeLessThanOrEqual(IDLE.idleTimeoutMs + LATE_MS);
    const max = metric(report, 'idle-timeout', 'idleTimeoutMaxMs') as number;
    expect(Math.abs(max - Math.max(...wire.map((w) => w.idleMs)))).toBeLessThanOrEqual(SAME_PACKETS_MS);
    expect(metric(report, 'idle-timeout', 'closeKind')).toBe('fin');
    expect(metric(report, 'idle-timeout', 'timeWaitSide')).toBe('server');
    expect(metric(report, 'idle-timeout', 'advertisedTimeoutS')).toBeNull();
    expect(report.evidence.capture).toMatchObject({ filter: `(tcp.port == ${port})`, connections: 2, httpConnections: 2 });
    const conn = scenario(report, 'idle-timeout').connections[0];
    expect(conn?.end).toMatchObject({ kind: 'server-idle-close', closedBy: 'server', signal: 'fin' });
    expect(conn?.events.map((e) => e.kind)).toEqual(['connect', 'request', 'response-head', 'response-complete', 'peer-fin', 'local-close', 'closed']);
    expect(metric(report, 'stale-race', 'staleRequests')).toBe(0);
  });

  it('curl with five URLs against a cap of 3: maxRequests 3, announced with Connection: close', async (ctx) => {
    needCapture(ctx);
    const report = await analyze(['--port', String((labs.cap as LabServer).port)]);
    expect(metric(report, 'request-cap', 'maxRequests')).toBe(CAP.maxRequests);
    expect(metric(report, 'request-cap', 'signalled')).toBe(true);
    expect(metric(report, 'http11-reuse', 'reused')).toBe(true);
    expect(metric(report, 'http11-reuse', 'requests')).toBe(5);
    // 5 requests, 3 per connection: two connections.
    expect(report.evidence.capture?.connections).toBe(2);
    expect(metric(report, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
  });

  it('a server that closes idle connections with RST: closeKind rst, idle within the configured timeout', async (ctx) => {
    needCapture(ctx);
    const port = (labs.rst as LabServer).port;
    const report = await analyze(['--port', String(port)]);
    const [wire] = wireIdles(port);
    expect(wire?.how).toBe('rst');
    const idle = metric(report, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(Math.abs(idle - (wire?.idleMs ?? Number.NaN))).toBeLessThanOrEqual(SAME_PACKETS_MS);
    expect(idle).toBeGreaterThanOrEqual(RST.idleTimeoutMs - 1);
    expect(idle).toBeLessThanOrEqual(RST.idleTimeoutMs + LATE_MS);
    expect(metric(report, 'idle-timeout', 'closeKind')).toBe('rst');
    expect(metric(report, 'idle-timeout', 'timeWaitSide')).toBe('none');
    expect(metric(report, 'stale-race', 'resetsAfterIdle')).toBe(1);
  });

  it("a request written after the server's FIN is answered by an RST: stale request, premature-close (the FIN came first), a full close", async (ctx) => {
    needCapture(ctx);
    const report = await analyze(['--port', String((labs.stale as LabServer).port), '--expect', 'stale-race.staleRequests=1']);
    expect(metric(report, 'stale-race', 'staleRequests')).toBe(1);
    expect(metric(report, 'stale-race', 'staleAnsweredByRst')).toBe(1);
    // As run's own socket reports it (test/runCapture.test.ts compares them): the client read the FIN's end of stream before the RST.
    expect(metric(report, 'timeout-mismatch', 'outcome')).toBe('premature-close');
    expect(metric(report, 'timeout-mismatch', 'serverClose')).toBe('full');
    const clientIdle = metric(report, 'timeout-mismatch', 'clientIdleMs') as number;
    // The client slept 900 ms from its first write: idle from the response, past the server's close.
    expect(clientIdle).toBeGreaterThan(STALE.idleTimeoutMs);
    expect(clientIdle).toBeLessThanOrEqual(900 + LATE_MS);
    const conn = scenario(report, 'timeout-mismatch').connections[0];
    expect(conn?.local?.port).toBe(staleClientPort);
    expect(conn?.events.map((e) => e.kind)).toEqual(['connect', 'request', 'response-head', 'response-complete', 'peer-fin', 'request', 'error', 'closed']);
    const peers = report.evidence.capture?.peers ?? [];
    expect(peers).toMatchObject([{ client: '127.0.0.1', server: `127.0.0.1:${(labs.stale as LabServer).port}`, staleRequests: 1, staleAnsweredByRst: 1 }]);
  });

  it("the probe's own run, captured: analyze finds the same idle timeout, closer and close kind", async (ctx) => {
    needCapture(ctx);
    const run = probeRun as RunResult;
    const report = await analyze(['--port', String((labs.run as LabServer).port)]);
    const probeIdle = metric(run, 'idle-timeout', 'idleTimeoutMs') as number;
    const wireIdle = metric(report, 'idle-timeout', 'idleTimeoutMs') as number;
    console.info(`run's idle timeout ${probeIdle} ms, analyze of its capture ${wireIdle} ms`);
    expect(Math.abs(probeIdle - wireIdle)).toBeLessThanOrEqual(PROBE_LAG_MS);
    expect(wireIdle).toBeGreaterThanOrEqual(RUN.idleTimeoutMs - 1);
    expect(metric(report, 'idle-timeout', 'closeKind')).toBe(metric(run, 'idle-timeout', 'closeKind'));
    // run's idle-timeout samples the bare form three times and the keep-alive form once (plus its preflight).
    expect(metric(report, 'idle-timeout', 'idleCloses')).toBeGreaterThanOrEqual(4);
  });

  it('--expect gates a capture: exit 1 when the idle timeout is not below the bound, 0 when it is', async (ctx) => {
    needCapture(ctx);
    const port = String((labs.idle as LabServer).port);
    const failed = await runCli(['analyze', file, '--port', port, '--expect', 'idleTimeoutMs<300ms'.replace('idleTimeoutMs', 'idle-timeout'), '-q']);
    expect(failed).toMatchObject({ code: 1, stderr: '' });
    const passed = await runCli(['analyze', file, '--port', port, '--expect', 'idle-timeout<3s', '--json', '-q']);
    const report = JSON.parse(passed.stdout) as RunResult;
    expect(report.scenarios.filter((s) => s.status === 'fail').map((s) => s.expectations)).toEqual([]);
    expect(passed.code).toBe(0);
    expect(scenario(report, 'idle-timeout').expectations).toMatchObject([{ expression: 'idle-timeout<3s', ok: true, origin: 'cli' }]);
  });

  it('--stream keeps one connection; the terminal, JUnit and HTML reports say the source is a capture', async (ctx) => {
    needCapture(ctx);
    const one = await analyze(['--stream', '0']);
    expect(one.evidence.capture?.connections).toBe(1);
    expect(one.evidence.capture?.filter).toBe('(tcp.stream == 0)');
    const terminal = await runCli(['analyze', file, '--port', String((labs.idle as LabServer).port), '--junit', path.join(dir, 'r.xml'), '--color', 'never']);
    expect(terminal.code).toBe(0);
    expect(terminal.stdout).toContain('Evidence: packet capture');
    expect(terminal.stdout).toMatch(/idle-timeout +│ PASS/);
    expect(readFileSync(path.join(dir, 'r.xml'), 'utf8')).toContain('<property name="evidence.capture.file"');
    const html = await runCli(['analyze', file, '--html', '-', '-q']);
    expect(html.code).toBe(0);
    expect(html.stdout).toContain('<html');
  });
});

/**
 * Real clients, each against its own lab server per behaviour so `--port` reads one client
 * against one behaviour: Node's http.Agent (keepAlive: true), Go's http.DefaultClient and the
 * curl CLI, each sending request 1, idling, then request 2 (test/support/realClients.ts).
 * fin: the server closes an idle connection with FIN after CLIENT_IDLE.idleTimeoutMs, and the
 * clients idle past it. drop: the same, but nothing goes on the wire at the idle close; the
 * client's next request meets the lab's RST (LabProfile close 'drop'). cap: the second
 * response says "Connection: close". Under one capture; each analysed to the verdict the
 * profile predicts, and compared with what `run` (the probe's own scenario) says against a
 * lab with the same profile.
 */
const CLIENT_FIN: LabProfile = { idleTimeoutMs: 600, maxRequests: 0, http10: 'close', close: 'fin', advertise: false, announceLast: true, http2: null };
const CLIENT_DROP: LabProfile = { ...CLIENT_FIN, close: 'drop' };
const CLIENT_CAP: LabProfile = { ...CLIENT_FIN, idleTimeoutMs: 5000, maxRequests: 2 };
/** Past the 600 ms idle close, far below the lab's 30 s bound on a dropped connection (LAB_LIMITS.headTimeoutMs). */
const CLIENT_IDLE_MS = 1000;
/** Below the cap profile's idle timeout: request 2 reuses the connection and meets the cap. */
const CAP_IDLE_MS = 100;

type Client = 'node' | 'go' | 'curl';
type Behaviour = 'fin' | 'drop' | 'cap';
const PROFILES: Record<Behaviour, LabProfile> = { fin: CLIENT_FIN, drop: CLIENT_DROP, cap: CLIENT_CAP };
/** The probe's own scenario for each behaviour. */
const RUN_SCENARIO: Record<Behaviour, string> = { fin: 'idle-timeout', drop: 'timeout-mismatch', cap: 'request-cap' };

const go = findGo();
const curlBin = findCurl();
const runGo = useGoClient(go);
const CLIENTS: Record<Client, { readonly missing: string | null; run(url: string, idleMs: number): Promise<ClientExperience> }> = {
  node: { missing: null, run: (url, idleMs) => runNodeClient('agent', url, { idleMs }) },
  go: { missing: go === null ? 'go is not installed (apt-get install golang-go)' : null, run: (url, idleMs) => runGo(url, { idleMs }) },
  curl: {
    missing: curlBin === null ? 'curl is not installed (apt-get install curl)' : null,
    run: (url, idleMs) => runCurl(curlBin as string, url, { idleMs }),
  },
};

describe('analyze: real clients (Node, Go, curl) against lab servers that close with FIN, drop silently, cap requests', () => {
  const clientLabs = new Map<string, LabServer>();
  const runLabs = new Map<Behaviour, LabServer>();
  const runs = new Map<Behaviour, RunResult>();
  const seen = new Map<string, ClientExperience>();
  const clientFile = path.join(tmpdir(), `kap-analyze-clients-${process.pid}.pcapng`);
  let clientSegments: Segment[] = [];
  let clientUnavailable: string | null = null;
  const key = (client: Client, behaviour: Behaviour): string => `${client}/${behaviour}`;

  beforeAll(async () => {
    for (const behaviour of Object.keys(PROFILES) as Behaviour[]) {
      runLabs.set(behaviour, await startLabServer(PROFILES[behaviour]));
      for (const client of Object.keys(CLIENTS) as Client[]) clientLabs.set(key(client, behaviour), await startLabServer(PROFILES[behaviour]));
    }
    const recording = await recordCapture([...clientLabs.values()].map((l) => `tcp port ${l.port}`).join(' or '), clientFile);
    if ('unavailable' in recording) {
      clientUnavailable = recording.unavailable;
      return;
    }
    try {
      // The probe's runs go to their own labs, outside the capture filter.
      await Promise.all([
        ...[...runLabs].map(async ([behaviour, lab]) => runs.set(behaviour, await probeCli(lab.url, [RUN_SCENARIO[behaviour]], { maxIdleMs: 5000 }))),
        ...[...clientLabs].flatMap(([k, lab]) => {
          const [client, behaviour] = k.split('/') as [Client, Behaviour];
          if (CLIENTS[client].missing !== null) return [];
          return [CLIENTS[client].run(lab.url, behaviour === 'cap' ? CAP_IDLE_MS : CLIENT_IDLE_MS).then((x) => seen.set(k, x))];
        }),
      ]);
    } finally {
      await recording.stop();
    }
    clientSegments = readSegments(clientFile);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...clientLabs.values(), ...runLabs.values()].map((l) => l.close()));
    rmSync(clientFile, { force: true });
  });

  /** Skips loudly without a capture or without the client; else analyzes its traffic with that lab (--port). */
  async function analyzeClient(ctx: TestContext, client: Client, behaviour: Behaviour): Promise<{ report: RunResult; run: RunResult; port: number }> {
    const why = clientUnavailable ?? CLIENTS[client].missing;
    if (why !== null) {
      console.warn(`*** SKIPPING ${client} against the ${behaviour} lab: ${why} ***`);
      ctx.skip(why);
    }
    const port = (clientLabs.get(key(client, behaviour)) as LabServer).port;
    const { code, stdout, stderr } = await runCli(['analyze', clientFile, '--port', String(port), '--json', '-q'], { timeoutMs: 60_000 });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report: unknown = JSON.parse(stdout);
    expectValid(expect, report);
    console.info(`${client} against ${behaviour}: request 2 ${JSON.stringify(seen.get(key(client, behaviour))?.second)}`);
    return { report, run: runs.get(behaviour) as RunResult, port };
  }

  describe.each(Object.keys(CLIENTS) as Client[])('%s', (client) => {
    it('fin: the idle close by the server with the idle time tshark reads, FIN, server-side TIME_WAIT, no stale request; as run says', async (ctx) => {
      const { report, run, port } = await analyzeClient(ctx, client, 'fin');
      const clients = [...new Set(clientSegments.filter((s) => s.dstPort === port).map((s) => s.srcPort))];
      const wire = clients.map((c) => wireClose(clientSegments, port, c)).filter((w) => w.firstCloser === 'server' && w.serverIdleMs !== null);
      expect(wire.length).toBeGreaterThanOrEqual(1);
      const idle = metric(report, 'idle-timeout', 'idleTimeoutMs') as number;
      const runIdle = metric(run, 'idle-timeout', 'idleTimeoutMs') as number;
      console.info(`${client} fin: analyze ${idle} ms, tshark ${Math.min(...wire.map((w) => w.serverIdleMs as number)).toFixed(3)} ms, run ${runIdle} ms`);
      expect(Math.abs(idle - Math.min(...wire.map((w) => w.serverIdleMs as number)))).toBeLessThanOrEqual(SAME_PACKETS_MS);
      // Both are the lab's timer: never early, late by scheduling only; run stamps on its event
      // loop (no --capture here), so it may read short by its lag.
      expect(idle).toBeGreaterThanOrEqual(CLIENT_FIN.idleTimeoutMs - 1);
      expect(runIdle).toBeGreaterThanOrEqual(CLIENT_FIN.idleTimeoutMs - PROBE_LAG_MS);
      for (const x of [idle, runIdle]) expect(x).toBeLessThanOrEqual(CLIENT_FIN.idleTimeoutMs + LATE_MS);
      expect(metric(report, 'idle-timeout', 'closeKind')).toBe('fin');
      expect(metric(report, 'idle-timeout', 'closeKind')).toBe(metric(run, 'idle-timeout', 'closeKind'));
      expect(metric(report, 'idle-timeout', 'timeWaitSide')).toBe(metric(run, 'idle-timeout', 'timeWaitSide'));
      expect(scenario(report, 'idle-timeout').connections[0]?.end).toMatchObject({ kind: 'server-idle-close', closedBy: 'server', signal: 'fin' });
      // Each client saw the FIN while idle and sent request 2 on a new connection.
      expect(metric(report, 'stale-race', 'staleRequests')).toBe(0);
      expect(seen.get(key(client, 'fin'))?.second.ok).toBe(true);
    });

    it('drop: the next request after the idle gets an RST with no FIN before it: silent-drop, stale request answered by RST; as run says', async (ctx) => {
      const { report, run, port } = await analyzeClient(ctx, client, 'drop');
      // On the wire: the server's first close on the reused connection is an RST, right after the client's request 2.
      const clients = [...new Set(clientSegments.filter((s) => s.dstPort === port).map((s) => s.srcPort))];
      const dropped = clients.filter((c) => {
        const w = wireClose(clientSegments, port, c);
        return w.firstCloser === 'server' && w.how === 'rst';
      });
      expect(dropped).toHaveLength(1);
      expect(metric(report, 'timeout-mismatch', 'serverClose')).toBe('silent-drop');
      expect(metric(report, 'timeout-mismatch', 'serverClose')).toBe(metric(run, 'timeout-mismatch', 'serverClose'));
      expect(metric(report, 'timeout-mismatch', 'outcome')).toBe('ECONNRESET');
      expect(metric(report, 'timeout-mismatch', 'outcome')).toBe(metric(run, 'timeout-mismatch', 'outcome'));
      expect(metric(report, 'stale-race', 'staleRequests')).toBe(1);
      expect(metric(report, 'stale-race', 'staleAnsweredByRst')).toBe(1);
      // No idle close is visible in a silent drop: no FIN, and the RST answers a request.
      expect(metric(report, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
      expect(metric(report, 'stale-race', 'resetsAfterIdle')).toBe(0);
      const conn = scenario(report, 'timeout-mismatch').connections[0];
      expect(conn?.local?.port).toBe(dropped[0]);
      expect(conn?.events.some((e) => e.kind === 'peer-fin')).toBe(false);
      const clientIdle = metric(report, 'timeout-mismatch', 'clientIdleMs') as number;
      expect(clientIdle).toBeGreaterThan(CLIENT_DROP.idleTimeoutMs);
      expect(clientIdle).toBeLessThanOrEqual(CLIENT_IDLE_MS + LATE_MS);
    });

    it('cap: maxRequests 2, announced with Connection: close; as run says', async (ctx) => {
      const { report, run } = await analyzeClient(ctx, client, 'cap');
      expect(metric(report, 'request-cap', 'maxRequests')).toBe(CLIENT_CAP.maxRequests);
      expect(metric(report, 'request-cap', 'maxRequests')).toBe(metric(run, 'request-cap', 'maxRequests'));
      expect(metric(report, 'request-cap', 'signalled')).toBe(true);
      expect(metric(report, 'request-cap', 'signalled')).toBe(metric(run, 'request-cap', 'signalled'));
      expect(metric(report, 'http11-reuse', 'reused')).toBe(true);
      expect(metric(report, 'stale-race', 'staleRequests')).toBe(0);
    });
  });
});

describe('analyze: TLS', () => {
  it('without the key log: TCP verdicts only, and the report says the HTTP layer was not visible', async (ctx) => {
    needCapture(ctx);
    const report = await analyze(['--port', String(tls?.port)]);
    expect(report.evidence.capture).toMatchObject({ connections: 1, httpConnections: 0, tlsHidden: 1 });
    expect(report.target.tls).toBe(true);
    expect(metric(report, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
    expect(scenario(report, 'http11-reuse').findings.map((f) => f.text)).toContainEqual(expect.stringContaining('HTTP was not visible'));
    const conn = scenario(report, 'http11-reuse').connections[0];
    expect(conn?.end).toMatchObject({ closedBy: 'server', signal: 'fin' });
  });

  it("with --tls-keylog: the HTTP inside, and node:https's keepAliveTimeout as the idle timeout", async (ctx) => {
    needCapture(ctx);
    expect(readFileSync(keylog, 'utf8')).toContain('CLIENT_');
    const report = await analyze(['--port', String(tls?.port), '--tls-keylog', keylog]);
    expect(report.evidence.capture).toMatchObject({ connections: 1, httpConnections: 1, tlsHidden: 0 });
    const idle = metric(report, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(idle).toBeGreaterThanOrEqual(TLS_IDLE_MS - 1);
    expect(idle).toBeLessThanOrEqual(TLS_IDLE_MS + LATE_MS);
    expect(metric(report, 'idle-timeout', 'closeKind')).toBe('fin');
  });
});

describe('analyze: input it cannot use', () => {
  it('a file that is not a capture: one error line, exit 2', async () => {
    const notCapture = path.join(mkdtempSync(path.join(tmpdir(), 'kap-analyze-bad-')), 'notes.pcap');
    writeFileSync(notCapture, 'GET / HTTP/1.1\r\n\r\n');
    const { code, stdout, stderr } = await runCli(['analyze', notCapture]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^keepalive-probe: cannot read capture .*notes\.pcap: .*isn't a capture file/)]);
    rmSync(path.dirname(notCapture), { recursive: true, force: true });
  });

  it('a capture that does not exist: exit 2 before tshark runs', async () => {
    const { code, stderr } = await runCli(['analyze', '/nonexistent/file.pcapng']);
    expect(code).toBe(2);
    expect(stderr).toBe('keepalive-probe: cannot read capture /nonexistent/file.pcapng: ENOENT\n');
  });

  it('no tshark on PATH: one line saying how to install it, exit 3', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'kap-nopath-'));
    const capture = path.join(empty, 'x.pcapng');
    writeFileSync(capture, '');
    const { code, stderr } = await runCli(['analyze', capture], { env: { PATH: empty } });
    rmSync(empty, { recursive: true, force: true });
    expect(code).toBe(3);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^keepalive-probe: tshark is not installed .*apt-get install tshark.*\[tool-missing\]$/)]);
  });

  it('--host must be an address', async () => {
    const { code, stderr } = await runCli(['analyze', '/etc/hostname', '--host', 'example.com']);
    expect(code).toBe(2);
    expect(stderr).toContain('--host example.com: give an IP address');
  });
});

/** Node's http.Agent with keep-alive: one request, an idle wait past the server's timeout, another (on a new connection). */
async function nodeAgentIdle(url: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true });
  try {
    await get(url, agent);
    await sleep(IDLE.idleTimeoutMs + 500);
    await get(url, agent);
    await sleep(IDLE.idleTimeoutMs + 500);
  } finally {
    agent.destroy();
  }
}

function get(url: string, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 5000 }, (res) => {
      res.resume();
      res.once('end', () => resolve());
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
  });
}

/**
 * A TLS client with its keys logged (SSLKEYLOGFILE format): one request, then idle past the
 * server's keepAliveTimeout. Raw, not https.Agent: node:https sends "Keep-Alive: timeout=0"
 * for 500 ms, and Node's agent would then close the socket itself at once.
 */
async function tlsIdle(url: string, keys: string, caFile: string): Promise<void> {
  const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(url).port), ca: readFileSync(caFile) });
  socket.on('keylog', (line) => appendFileSync(keys, line));
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await sleep(TLS_IDLE_MS + 500);
  socket.destroy();
}

/** curl fetching several URLs in one run (it reuses its connection while the server allows). */
function curl(urls: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', ...urls.flatMap((u) => [u, '-o', '/dev/null'])], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`curl exited ${code}`));
    });
  });
}

/** One request on a raw socket, then idle `ms` (the server closes meanwhile), then close. */
async function rawIdle(port: number, ms: number): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined); // the server's RST
  socket.on('data', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('GET / HTTP/1.1\r\nHost: lab\r\n\r\n');
  await sleep(ms);
  socket.destroy();
}

/** A client that keeps its half open after the server's FIN and writes again after `ms`: returns its local port. */
async function writeAfterFin(port: number, ms: number): Promise<number> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined); // ECONNRESET from the server's RST
  socket.on('data', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  const local = socket.localPort ?? 0;
  socket.write('GET /first HTTP/1.1\r\nHost: lab\r\n\r\n');
  await sleep(ms);
  socket.write('GET /late HTTP/1.1\r\nHost: lab\r\n\r\n');
  await sleep(300);
  socket.destroy();
  return local;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
