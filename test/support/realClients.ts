import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { serverBinary } from './realServer.js';

/**
 * Harness for real HTTP clients (Go's net/http, Node's http.Agent and fetch, Apache
 * HttpClient 4 and 5, OkHttp, Python requests, the curl CLI): each runs as its own process
 * from test/fixtures, sends request 1, idles, sends request 2, and prints what request 2
 * experienced as one JSON line, parsed here into a ClientExperience. curl is the exception:
 * the CLI itself is run, and its per-transfer write-out and verbose log are read here.
 */

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
/** Beyond the client's own idle pause and request deadlines (5 s each), a stuck client is killed. */
const PROCESS_SLACK_MS = 20_000;

/** The Node client flavours test/fixtures/node-client.mjs knows. */
export type NodeClientMode = 'agent' | 'global-agent' | 'fetch';

/** Request 1: it only has to work, so the pool holds a connection. */
export interface FirstRequest {
  readonly ok: boolean;
  readonly status: number | null;
}

/** Request 2, after the idle pause: a response, or the error the client raised. */
export type SecondRequest =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false;
      /**
       * The error as the client printed it: Go err.Error(); Node err.message; Java
       * Throwable.toString() (class: message); Python "module.Class: str(err)"; curl
       * "curl: (N) message".
       */
      readonly error: string;
      /** Node's err.code; null for Go, which has none. */
      readonly code: string | null;
      /**
       * Node's err.cause.code and .message (fetch wraps the socket error as its cause); Java's
       * getCause().toString(); Python's repr(err.__context__) (the urllib3 error requests wrapped).
       */
      readonly causeCode: string | null;
      readonly causeMessage: string | null;
    };

/** One GotConn of request 2 (httptrace.GotConnInfo). */
export interface GotConn {
  readonly reused: boolean;
  readonly wasIdle: boolean;
}

interface CommonExperience {
  readonly version: string;
  readonly first: FirstRequest;
  readonly second: SecondRequest;
}

/** How test/fixtures/go-client holds its client (its -mode flag; see main.go). */
export type GoClientMode = 'default' | 'transport-per-request' | 'no-keepalive' | 'h2-tls';

/** Go's net/http: one GotConn per attempt, so `retried` means more than one. */
export interface GoExperience extends CommonExperience {
  readonly client: 'go';
  readonly mode: GoClientMode;
  readonly gotConn: readonly GotConn[];
  readonly retried: boolean;
}

/** The Java clients test/fixtures/java-clients knows (class `<Name>Run` each; okhttp-h2c: OkHttp over HTTP/2 with prior knowledge). */
export type JavaClient = 'httpclient4' | 'httpclient5' | 'okhttp' | 'okhttp-h2c';

/** A Java client; `attempts` is how often request 2 went out, counted by the client's own hook. */
export interface JavaExperience extends CommonExperience {
  readonly client: JavaClient;
  readonly attempts: number;
  readonly retried: boolean;
}

/** A requests Session; both flags come from urllib3's own log lines (python-client.py). */
export interface RequestsExperience extends CommonExperience {
  readonly client: 'requests';
  /** urllib3 resent request 2 ("Retrying (...) after connection broken by ..."). */
  readonly retried: boolean;
  /** urllib3 found the pooled connection closed before reuse ("Resetting dropped connection"). */
  readonly resetDropped: boolean;
}

/** The curl CLI with both URLs in one invocation; the flags come from its verbose log. */
export interface CurlExperience extends CommonExperience {
  readonly client: 'curl';
  /** "Re-using existing connection": request 2 was first written on the pooled connection. */
  readonly reused: boolean;
  /** "Connection 0 seems to be dead": the check before reuse found it closed. */
  readonly seemsDead: boolean;
  /** "Connection died, retrying a fresh connect": resent on a new connection. */
  readonly retried: boolean;
}

/** A Node client; reusedSocket is req.reusedSocket for node:http and null for fetch (it does not say). */
export interface NodeExperience extends CommonExperience {
  readonly client: NodeClientMode;
  readonly reusedSocket: boolean | null;
}

/** What a real client experienced on request 2 after idling. */
export type ClientExperience = GoExperience | NodeExperience | JavaExperience | RequestsExperience | CurlExperience;

/** The run's knobs: the idle pause between the requests and the method of both. */
export interface ClientRun {
  readonly idleMs: number;
  readonly method?: 'GET' | 'POST';
}

/** For Go: also whether both requests carry an Idempotency-Key header, and the client mode. */
export interface GoClientRun extends ClientRun {
  readonly idempotencyKey?: boolean;
  readonly mode?: GoClientMode;
}

/**
 * The `go` toolchain, or null (the calling file's Go tests skip loudly; under CI=true a
 * missing toolchain is a failing test, as for the real servers). Call at collection time.
 */
export function findGo(): string | null {
  return serverBinary('go', ['/usr/bin/go', '/usr/lib/go/bin/go'], 'apt-get install golang-go');
}

/**
 * Builds a standard-library-only Go fixture offline: no module proxy (a download fails loudly
 * instead of hanging), GOCACHE and GOPATH under `dir`, no cgo (no C compiler needed for net).
 * With `debianGopath` (a fixture without go.mod that imports Debian-packaged libraries, e.g.
 * /usr/share/gocode from golang-golang-x-net-dev), it builds in GOPATH mode (GO111MODULE=off)
 * with that tree after `dir`'s own: Debian installs sources there, not a module cache.
 */
export async function buildGoFixture(go: string, fixtureDir: string, dir: string, name: string, debianGopath?: string): Promise<string> {
  const binary = path.join(dir, name);
  const gopath = path.join(dir, 'gopath');
  const env = {
    ...process.env,
    GOCACHE: path.join(dir, 'cache'),
    GOPATH: debianGopath === undefined ? gopath : `${gopath}:${debianGopath}`,
    GOFLAGS: debianGopath === undefined ? '-mod=mod' : '',
    GO111MODULE: debianGopath === undefined ? 'on' : 'off',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
  await promisify(execFile)(go, ['build', '-o', binary, '.'], { cwd: fixtureDir, env, timeout: 120_000, killSignal: 'SIGKILL' });
  return binary;
}

/**
 * For a test file (call once, at its top level): builds test/fixtures/go-client once into a
 * temp dir, removed after the file, and returns `runGoClient(url, run)`. With `go` null
 * (findGo skipped loudly) nothing is built, and the Go tests must be skipped.
 */
export function useGoClient(go: string | null): (url: string, run: GoClientRun) => Promise<GoExperience> {
  let dir = '';
  let binary = '';
  beforeAll(async () => {
    if (go === null) return;
    dir = mkdtempSync(path.join(tmpdir(), 'kap-go-client-'));
    binary = await buildGoFixture(go, path.join(FIXTURES, 'go-client'), dir, 'go-client');
  }, 130_000);
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  return async (url, run) => {
    if (binary === '') throw new Error('the Go client was not built (go missing, or the build failed in beforeAll)');
    const args = ['-url', url, '-idle', `${run.idleMs}ms`, '-method', run.method ?? 'GET', '-mode', run.mode ?? 'default'];
    if (run.idempotencyKey === true) args.push('-idempotency-key');
    return parseGo(await runJsonLine(binary, args, run.idleMs));
  };
}

/** Runs test/fixtures/node-client.mjs in `mode` with this Node (process.execPath). */
export async function runNodeClient(mode: NodeClientMode, url: string, run: ClientRun): Promise<NodeExperience> {
  const args = [path.join(FIXTURES, 'node-client.mjs'), mode, url, String(run.idleMs), run.method ?? 'GET'];
  return parseNode(await runJsonLine(process.execPath, args, run.idleMs), mode);
}

/** Debian's jars the Java clients compile and run against (/usr/share/java, unversioned links). */
const JAVA_LIBRARIES: Readonly<Record<string, readonly string[]>> = {
  'libhttpclient-java': ['httpclient', 'httpcore', 'commons-logging', 'commons-codec'],
  'libhttpclient5-java': ['httpclient5', 'httpcore5', 'httpcore5-h2', 'slf4j-api', 'slf4j-nop'],
  'libokhttp-java': ['okhttp', 'okio'],
};
const JAVA_JAR_DIR = '/usr/share/java';

/** javac, java and the client jars, or null (skipped loudly, a failing test under CI=true). Call at collection time. */
export function findJava(): { javac: string; java: string; classpath: readonly string[] } | null {
  const javac = serverBinary('javac', ['/usr/bin/javac'], 'apt-get install default-jdk-headless');
  const java = serverBinary('java', ['/usr/bin/java'], 'apt-get install default-jdk-headless');
  const jars = Object.entries(JAVA_LIBRARIES).flatMap(([pkg, names]) =>
    names.map((n) => serverBinary(`${pkg} (${n}.jar)`, [path.join(JAVA_JAR_DIR, `${n}.jar`)], `apt-get install ${pkg}`)),
  );
  if (javac === null || java === null || jars.some((j) => j === null)) return null;
  return { javac, java, classpath: jars as string[] };
}

/**
 * For a test file (call once, at its top level): compiles test/fixtures/java-clients into a
 * temp dir once (beforeAll), removed after the file, and returns `runJavaClient(client, url,
 * run)`. With `java` null nothing is compiled, and the Java tests must be skipped.
 */
export function useJavaClients(java: ReturnType<typeof findJava>): (client: JavaClient, url: string, run: ClientRun) => Promise<JavaExperience> {
  let dir = '';
  beforeAll(async () => {
    if (java === null) return;
    dir = mkdtempSync(path.join(tmpdir(), 'kap-java-clients-'));
    const sources = path.join(FIXTURES, 'java-clients');
    const files = readdirSync(sources)
      .filter((f) => f.endsWith('.java'))
      .map((f) => path.join(sources, f));
    await promisify(execFile)(java.javac, ['-d', dir, '-cp', java.classpath.join(':'), ...files], { timeout: 120_000, killSignal: 'SIGKILL' });
  }, 130_000);
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  const mainClass: Record<JavaClient, string> = {
    httpclient4: 'HttpClient4Run',
    httpclient5: 'HttpClient5Run',
    okhttp: 'OkHttpRun',
    'okhttp-h2c': 'OkHttpH2cRun',
  };
  return async (client, url, run) => {
    if (java === null || dir === '') throw new Error('the Java clients were not compiled (javac or a jar missing, or javac failed in beforeAll)');
    // -Xshare:auto and a small heap: a JVM per run on 2 cores starts in about half a second.
    const args = ['-Xmx64m', '-cp', [dir, ...java.classpath].join(':'), mainClass[client], url, String(run.idleMs), run.method ?? 'GET'];
    return parseJava(await runJsonLine(java.java, args, run.idleMs), client);
  };
}

/** Debian's python3 (the interpreter python3-requests installs into), or null (skipped loudly). Call at collection time. */
export function findPython(): string | null {
  return serverBinary('python3 (Debian)', ['/usr/bin/python3'], 'apt-get install python3 python3-requests');
}

/** Runs test/fixtures/python-client.py (a requests.Session) with `python`. */
export async function runRequestsClient(python: string, url: string, run: ClientRun): Promise<RequestsExperience> {
  const args = [path.join(FIXTURES, 'python-client.py'), url, String(run.idleMs), run.method ?? 'GET'];
  return parseRequests(await runJsonLine(python, args, run.idleMs));
}

/** The curl CLI, or null (skipped loudly). Call at collection time. */
export function findCurl(): string | null {
  return serverBinary('curl', ['/usr/bin/curl'], 'apt-get install curl');
}

/**
 * The curl CLI with the URL twice in one invocation: curl keeps its connection cache for the
 * whole invocation, and `--rate N/h` (curl 7.84+) makes it wait before starting transfer 2
 * until 3600 s / N after transfer 1 started, which is the idle pause (transfer 1 takes about
 * a millisecond on loopback). `-w '%{json}'` writes each transfer's outcome on its own line;
 * `-v` logs (stderr) whether the connection was reused, found dead, or retried. A POST is
 * `-d`, which curl applies to both URLs. The error text is as the CLI prints it,
 * "curl: (<exitcode>) <errormsg>" (src/tool_operate.c).
 */
export async function runCurl(curl: string, url: string, run: ClientRun, extra: readonly string[] = []): Promise<CurlExperience> {
  const perHour = Math.round(3_600_000 / run.idleMs);
  const args = ['-sS', '-v', '--rate', `${perHour}/h`, '--max-time', '5', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{json}\n', ...extra];
  if (run.method === 'POST') args.push('-d', 'request body');
  args.push(url, url);
  const version = (await runProcess(curl, ['--version'], 0)).stdout.split('\n')[0] ?? '';
  const { stdout, stderr } = await runProcess(curl, args, run.idleMs, true);
  const transfers = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { exitcode?: unknown; errormsg?: unknown; http_code?: unknown });
  const transfer = (t: (typeof transfers)[number] | undefined): SecondRequest =>
    t?.exitcode === 0 && typeof t.http_code === 'number'
      ? { ok: true, status: t.http_code }
      : { ok: false, error: `curl: (${String(t?.exitcode)}) ${String(t?.errormsg)}`, code: null, causeCode: null, causeMessage: null };
  if (transfers.length !== 2) throw new Error(`expected two curl write-outs, got: ${stdout}\nstderr: ${stderr}`);
  const firstTransfer = transfer(transfers[0]);
  // Transfer 2's verbose lines: everything after transfer 1 left its connection in the cache.
  const log = stderr.slice(stderr.indexOf('left intact'));
  return {
    client: 'curl',
    version,
    first: firstTransfer.ok ? firstTransfer : { ok: false, status: null },
    second: transfer(transfers[1]),
    reused: log.includes('Re-using existing connection'),
    seemsDead: /Connection \d+ seems to be dead/.test(log),
    retried: log.includes('Connection died, retrying a fresh connect'),
  };
}

/**
 * The client's ephemeral ports and the lab's port differ on every run; error texts are
 * compared with them replaced by `<client>` and `<server>`.
 */
export function maskPorts(text: string, serverPort: number): string {
  return text.replaceAll(`127.0.0.1:${serverPort}`, '127.0.0.1:<server>').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<client>');
}

interface JsonLine {
  readonly value: Record<string, unknown>;
  readonly raw: string;
}

/**
 * Runs a process to completion (killed past its bound). A non-zero exit is an error, unless
 * `anyExit` (curl exits with its last transfer's error code and still writes its report).
 */
async function runProcess(command: string, args: readonly string[], idleMs: number, anyExit = false): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(command, args, { timeout: idleMs + PROCESS_SLACK_MS, killSignal: 'SIGKILL' });
  } catch (err) {
    const { stdout = '', stderr = '', code, killed } = err as { stdout?: string; stderr?: string; code?: unknown; killed?: boolean };
    if (anyExit && typeof code === 'number' && killed !== true) return { stdout, stderr };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${(err as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
}

/** Runs a client to completion and parses its single stdout line. */
async function runJsonLine(command: string, args: readonly string[], idleMs: number): Promise<JsonLine> {
  const raw = (await runProcess(command, args, idleMs)).stdout.trim();
  const value: unknown = JSON.parse(raw);
  if (typeof value !== 'object' || value === null || raw.includes('\n')) throw new Error(`expected one JSON object line, got: ${raw}`);
  return { value: value as Record<string, unknown>, raw };
}

function parseGo({ value, raw }: JsonLine): GoExperience {
  const gotConn = value.gotConn;
  const mode = value.mode;
  if (value.client !== 'go' || !Array.isArray(gotConn) || typeof value.retried !== 'boolean' || !(typeof mode === 'string' && mode in GO_MODES))
    throw new Error(`not a go-client report: ${raw}`);
  return {
    client: 'go',
    mode: mode as GoClientMode,
    ...parseCommon(value, raw),
    gotConn: gotConn.map((g: Record<string, unknown>) => {
      if (typeof g.reused !== 'boolean' || typeof g.wasIdle !== 'boolean') throw new Error(`bad gotConn entry: ${raw}`);
      return { reused: g.reused, wasIdle: g.wasIdle };
    }),
    retried: value.retried,
  };
}

const GO_MODES: Record<GoClientMode, true> = { default: true, 'transport-per-request': true, 'no-keepalive': true, 'h2-tls': true };

function parseJava({ value, raw }: JsonLine, client: JavaClient): JavaExperience {
  if (value.client !== client || typeof value.attempts !== 'number' || typeof value.retried !== 'boolean') throw new Error(`not a ${client} report: ${raw}`);
  return { client, ...parseCommon(value, raw), attempts: value.attempts, retried: value.retried };
}

function parseRequests({ value, raw }: JsonLine): RequestsExperience {
  if (value.client !== 'requests' || typeof value.retried !== 'boolean' || typeof value.resetDropped !== 'boolean')
    throw new Error(`not a python-client report: ${raw}`);
  return { client: 'requests', ...parseCommon(value, raw), retried: value.retried, resetDropped: value.resetDropped };
}

function parseNode({ value, raw }: JsonLine, mode: NodeClientMode): NodeExperience {
  const reusedSocket = value.reusedSocket;
  if (value.client !== mode || (reusedSocket !== null && typeof reusedSocket !== 'boolean')) throw new Error(`not a node-client ${mode} report: ${raw}`);
  return { client: mode, ...parseCommon(value, raw), reusedSocket };
}

function parseCommon(value: Record<string, unknown>, raw: string): CommonExperience {
  const first = value.first as Record<string, unknown> | undefined;
  const second = value.second as Record<string, unknown> | undefined;
  if (typeof value.version !== 'string' || typeof first?.ok !== 'boolean' || typeof second?.ok !== 'boolean')
    throw new Error(`malformed client report: ${raw}`);
  const status = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const firstStatus = status(first.status);
  let parsedSecond: SecondRequest;
  if (second.ok) {
    const secondStatus = status(second.status);
    if (secondStatus === null) throw new Error(`request 2 ok without a status: ${raw}`);
    parsedSecond = { ok: true, status: secondStatus };
  } else {
    const error = text(second.error);
    if (error === null) throw new Error(`request 2 failed without an error: ${raw}`);
    parsedSecond = { ok: false, error, code: text(second.code), causeCode: text(second.causeCode), causeMessage: text(second.causeMessage) };
  }
  // Go prints status 0 for a failed request 1; the model says null.
  return { version: value.version, first: { ok: first.ok, status: first.ok ? firstStatus : null }, second: parsedSecond };
}
