import { BUILTIN_ORDER } from '../src/catalog/builtinScenarios.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, test } from 'vitest';
import type { TestContext } from 'vitest';
import { SERVE_DEFAULTS } from '../src/options/labProfiles.js';
import { startLabServer } from '../src/lab/labServer.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import type { LabServer } from '../src/lab/labServer.js';
import type { RunResult } from '../src/model/result.js';
import type { ConnEvent } from '../src/model/events.js';
import { interruptCli, runCli } from './support/cli.js';
import { expectValid, validateReport as validate } from './support/reportSchema.js';
import { issueTestPki, startHttpsServer } from './support/tls.js';

/**
 * docs/report.schema.json is the JSON report's contract (schemaVersion 1, docs/json-report.md):
 * every report below comes from the built CLI probing real sockets, and must validate, so a
 * renamed, removed or retyped field fails here. The tests run concurrently: each starts and
 * stops its own servers (useLab's afterEach would stop those of tests still running).
 */
const dir = mkdtempSync(path.join(tmpdir(), 'kap-schema-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A lab server (SERVE_DEFAULTS plus overrides) on 127.0.0.1, stopped when the test finishes. */
async function lab(onTestFinished: TestContext['onTestFinished'], overrides: Partial<LabProfile>): Promise<LabServer> {
  const server = await startLabServer({ ...SERVE_DEFAULTS, ...overrides });
  onTestFinished(() => server.close());
  return server;
}

/** A CLI run's exit code and its --json document, parsed but not yet checked. */
interface Run {
  readonly code: number | null;
  readonly report: unknown;
}

/** Runs `run … --json -q`. */
async function report(args: readonly string[]): Promise<Run> {
  const { code, stdout, stderr } = await runCli(['run', ...args, '--json', '-q']);
  if (stdout === '') throw new Error(`no report (exit code ${code}): ${stderr}`);
  return { code, report: JSON.parse(stdout) as unknown };
}

let demo: Promise<Run> | null = null;
/** The demo run (every built-in scenario against the embedded lab, ~5 s), shared by the tests that read it. */
function demoReport(): Promise<Run> {
  demo ??= report([]);
  return demo;
}

/** Every event of every connection of the run. */
const allEvents = (r: RunResult): ConnEvent[] => r.scenarios.flatMap((s) => s.connections.flatMap((c) => c.events));

describe.concurrent('real reports validate against docs/report.schema.json', () => {
  test('the demo: every built-in scenario against the embedded lab', async ({ expect }) => {
    const { code, report: r } = await demoReport();
    expect(code).toBe(0);
    expectValid(expect, r);
    expect(r.target.lab).not.toBeNull();
    expect(r.scenarios).toHaveLength(BUILTIN_ORDER.length);
    expect(r.scenarios.find((s) => s.id === 'stale-race')?.race?.trials.length).toBeGreaterThan(0);
    expect(r.clients.length).toBeGreaterThan(0);
  });

  test('a lab that resets (close rst) with a request cap, --client, --client-idle and --expect', async ({ expect, onTestFinished }) => {
    const server = await lab(onTestFinished, { idleTimeoutMs: 500, close: 'rst', maxRequests: 3, advertise: true });
    const { code, report: r } = await report([
      server.url,
      '-s',
      'idle-timeout',
      '-s',
      'request-cap',
      '-s',
      'timeout-mismatch',
      '--max-idle',
      '2s',
      '--client',
      'node-agent',
      '--client-idle',
      '300ms',
      '--expect',
      'idle-timeout>=100ms',
    ]);
    expect(code).toBe(0);
    expectValid(expect, r);
    expect(r.target.lab).toBeNull();
    expect(allEvents(r)).toContainEqual(expect.objectContaining({ kind: 'error', code: 'ECONNRESET' }));
    expect(r.scenarios.find((s) => s.id === 'idle-timeout')?.connections[0]).toMatchObject({
      end: { kind: 'server-reset', signal: 'rst' },
      timeWait: { side: 'none' },
    });
    expect(r.scenarios.find((s) => s.id === 'request-cap')?.metrics.maxRequests).toBe(3);
    // The lab advertises timeout=0 (500 ms rounded down): Node's agent then never reuses the socket,
    // whatever its own timeout (lib/_http_agent.js keepSocketAlive).
    expect(r.clients[0]).toMatchObject({ client: 'node-agent', yours: true, idleMs: 0, idleFrom: 'keep-alive-hint', staleReuse: 'no' });
    expect(r.scenarios.flatMap((s) => s.expectations)).toContainEqual(expect.objectContaining({ origin: 'cli', ok: true }));
  });

  test('a lab that drops idle connections silently (close drop)', async ({ expect, onTestFinished }) => {
    const server = await lab(onTestFinished, { idleTimeoutMs: 500, close: 'drop' });
    const { code, report: r } = await report([server.url, '-s', 'idle-timeout', '-s', 'timeout-mismatch', '--max-idle', '1500ms', '--client', 'undici']);
    expect(code).toBe(0);
    expectValid(expect, r);
    const mismatch = r.scenarios.find((s) => s.id === 'timeout-mismatch');
    expect(mismatch?.metrics).toMatchObject({ serverClose: 'silent-drop', outcome: 'ECONNRESET' });
    expect(r.scenarios.find((s) => s.id === 'idle-timeout')?.metrics.idleTimeoutMs).toBeNull();
    expect(r.clients[0]).toMatchObject({ client: 'undici', yours: true, staleReuse: 'every-reuse' });
  });

  test('--hop with a backend that idles out first: hops are reported, the rule is broken (a FIN backend: only the race, so warn)', async ({
    expect,
    onTestFinished,
  }) => {
    const front = await lab(onTestFinished, { idleTimeoutMs: 900 });
    const back = await lab(onTestFinished, { idleTimeoutMs: 300 });
    // The backend by a name, connected to by --resolve: its address is reported on its hop.
    const backPort = new URL(back.url).port;
    const { code, report: r } = await report([
      '--hop',
      `lb=${front.url}`,
      '--hop',
      `app=http://app.test:${backPort}/`,
      '--resolve',
      `app.test:${backPort}:127.0.0.1`,
      '-s',
      'http11-reuse',
      '--max-idle',
      '2s',
    ]);
    expect(code).toBe(0);
    expectValid(expect, r);
    expect(r.hops.map((h) => [h.name, h.connectAddress])).toEqual([
      ['lb', null],
      ['app', '127.0.0.1'],
    ]);
    const rule = r.scenarios.find((s) => s.id === 'app/idle-timeout');
    expect(rule?.status).toBe('warn');
    expect(rule?.expectations).toContainEqual(
      expect.objectContaining({ expression: 'app.idle-timeout > lb.idle-timeout', origin: 'cli', ok: false, severity: 'warn' }),
    );
  });

  test('scenarios that cannot run: no response, not HTTP (exit 3), next to one that ends with unsolicited bytes', async ({ expect, onTestFinished }) => {
    const url = await brokenServer(onTestFinished);
    const { code, report: r } = await report([url, '-s', 'http11-reuse', '-s', 'http10-keepalive', '-s', 'connection-close', '--response-timeout', '1s']);
    expect(code).toBe(3);
    expectValid(expect, r);
    expect(r.scenarios.map((s) => [s.id, s.status, s.error?.code ?? null])).toEqual([
      ['http11-reuse', 'error', 'no-response'],
      ['http10-keepalive', 'error', 'not-http'],
      ['connection-close', 'pass', null],
    ]);
    expect(allEvents(r).map((e) => e.kind)).toEqual(expect.arrayContaining(['timeout', 'protocol-error', 'unsolicited']));
  });

  test('over TLS (--cacert): connections carry their tls event', async ({ expect, onTestFinished }) => {
    const pki = issueTestPki(mkdtempSync(path.join(dir, 'pki-')));
    const server = await startHttpsServer(pki, 500);
    onTestFinished(server.stop);
    const { code, report: r } = await report([server.url, '--cacert', pki.ca, '-s', 'http11-reuse']);
    expect(code).toBe(0);
    expectValid(expect, r);
    expect(r.target.tls).toBe(true);
    expect(allEvents(r)).toContainEqual(expect.objectContaining({ kind: 'tls' }));
  });

  test('a target that cannot be probed: error set, no scenarios (exit 3)', async ({ expect }) => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { code, report: r } = await report([`http://127.0.0.1:${port}/`]);
    expect(code).toBe(3);
    expectValid(expect, r);
    expect(r.error).toMatchObject({ code: 'connect-refused', errno: 'ECONNREFUSED', syscall: 'connect' });
    expect(r.scenarios).toEqual([]);
  });

  test('an interrupted run (Ctrl-C): the --json file written on the way out', async ({ expect, onTestFinished }) => {
    // A lab that keeps idle connections for a minute: idle-timeout is still waiting when interrupted.
    const server = await lab(onTestFinished, { idleTimeoutMs: 60_000 });
    const file = path.join(dir, 'interrupted.json');
    // Preflight plus one connection per scenario accepted: both scenarios are under way.
    const { code } = await interruptCli(
      ['run', server.url, '-s', 'http11-reuse', '-s', 'idle-timeout', '--max-idle', '60s', '--json', file, '-q'],
      () => server.accepted() >= 3,
    );
    expect(code).toBe(130);
    const r = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    expectValid(expect, r);
    expect(r.interrupted).toBe(true);
    expect(r.scenarios.find((s) => s.id === 'idle-timeout')?.error?.code).toBe('interrupted');
  });
});

/**
 * Answers like HTTP only for `Connection: close` (the preflight, connection-close: there with
 * bytes past the body), an HTTP/1.0 request with an SSH banner, and any other request never.
 */
async function brokenServer(onTestFinished: TestContext['onTestFinished']): Promise<string> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const preflight = ++accepted === 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      if (/^connection: *close\r?$/im.test(head))
        socket.end(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok${preflight ? '' : 'and more'}`);
      else if (/^\S+ \S+ HTTP\/1\.0\r\n/.test(head)) socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

/** The demo report's first scenario (http11-reuse), its connection and events. */
const SCENARIO = '/scenarios/0';
const CONNECTION = `${SCENARIO}/connections/0`;
const EVENTS = `${CONNECTION}/events`;

/** One change that breaks the contract: the object at `at` (a JSON pointer) as found, changed, and where the schema must object. */
interface Breakage {
  readonly name: string;
  readonly at: string;
  readonly found: Record<string, unknown>;
  readonly change: (node: Record<string, unknown>) => void;
  readonly errorAt: string;
}

const BREAKAGES: readonly Breakage[] = [
  { name: 'schemaVersion 2', at: '', found: { schemaVersion: 1 }, change: (r) => (r.schemaVersion = 2), errorAt: '/schemaVersion' },
  { name: 'an unknown top-level key', at: '', found: {}, change: (r) => (r.generatedBy = 'someone'), errorAt: '' },
  {
    name: 'a renamed field of a connect event',
    at: `${EVENTS}/0`,
    found: { kind: 'connect' },
    change: (e) => {
      e.peer = e.remote;
      delete e.remote;
    },
    errorAt: `${EVENTS}/0`,
  },
  {
    name: 'a response-complete event relabelled peer-fin (fields of another kind)',
    at: `${EVENTS}/3`,
    found: { kind: 'response-complete' },
    change: (e) => (e.kind = 'peer-fin'),
    errorAt: `${EVENTS}/3`,
  },
  { name: 'an unknown event kind', at: `${EVENTS}/0`, found: { kind: 'connect' }, change: (e) => (e.kind = 'open'), errorAt: `${EVENTS}/0/kind` },
  {
    name: 'a count written as a string',
    at: CONNECTION,
    found: { id: 'main' },
    change: (c) => (c.bytesIn = String(c.bytesIn)),
    errorAt: `${CONNECTION}/bytesIn`,
  },
  { name: 'a required field removed', at: `${CONNECTION}/end`, found: {}, change: (end) => delete end.summary, errorAt: `${CONNECTION}/end` },
  { name: 'a status outside its enum', at: SCENARIO, found: { id: 'http11-reuse' }, change: (s) => (s.status = 'ok'), errorAt: `${SCENARIO}/status` },
  {
    name: 'a metric value that is an object',
    at: `${SCENARIO}/metrics`,
    found: { reused: true },
    change: (m) => (m.reused = { value: true }),
    errorAt: `${SCENARIO}/metrics/reused`,
  },
  { name: 'null where the field is never null', at: '/target', found: {}, change: (t) => (t.tls = null), errorAt: '/target/tls' },
];

/** The object a JSON pointer such as `/scenarios/0/end` designates (no escaped characters). */
function nodeAt(doc: unknown, pointer: string): Record<string, unknown> {
  return pointer
    .split('/')
    .slice(1)
    .reduce((node, key) => (node as Record<string, unknown>)[key], doc) as Record<string, unknown>;
}

describe.concurrent('the schema is strict: a real report, broken, fails', () => {
  test.for(BREAKAGES)('$name', async ({ at, found, change, errorAt }, { expect }) => {
    const doc = structuredClone((await demoReport()).report);
    expectValid(expect, doc);
    expect(nodeAt(doc, at)).toMatchObject(found);
    change(nodeAt(doc, at));
    expect(validate(doc)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toContain(errorAt);
  });
});
