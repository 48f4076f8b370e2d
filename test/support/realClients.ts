import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { serverBinary } from './realServer.js';

/**
 * Harness for real HTTP clients (Go's net/http, Node's http.Agent and fetch): each runs as its
 * own process from test/fixtures, sends request 1, idles, sends request 2, and prints what
 * request 2 experienced as one JSON line, parsed here into a ClientExperience.
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
      /** The error's message as the client printed it (Go: err.Error(); Node: err.message). */
      readonly error: string;
      /** Node's err.code; null for Go, which has none. */
      readonly code: string | null;
      /** Node's err.cause.code and .message (fetch wraps the socket error as its cause). */
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

/** Go's http.DefaultClient: one GotConn per attempt, so `retried` means more than one. */
export interface GoExperience extends CommonExperience {
  readonly client: 'go';
  readonly gotConn: readonly GotConn[];
  readonly retried: boolean;
}

/** A Node client; reusedSocket is req.reusedSocket for node:http and null for fetch (it does not say). */
export interface NodeExperience extends CommonExperience {
  readonly client: NodeClientMode;
  readonly reusedSocket: boolean | null;
}

/** What a real client experienced on request 2 after idling. */
export type ClientExperience = GoExperience | NodeExperience;

/** The run's knobs: the idle pause between the requests and the method of both. */
export interface ClientRun {
  readonly idleMs: number;
  readonly method?: 'GET' | 'POST';
}

/** For Go: also whether both requests carry an Idempotency-Key header. */
export interface GoClientRun extends ClientRun {
  readonly idempotencyKey?: boolean;
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
 */
export async function buildGoFixture(go: string, fixtureDir: string, dir: string, name: string): Promise<string> {
  const binary = path.join(dir, name);
  const env = {
    ...process.env,
    GOCACHE: path.join(dir, 'cache'),
    GOPATH: path.join(dir, 'gopath'),
    GOFLAGS: '-mod=mod',
    GO111MODULE: 'on',
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
    const args = ['-url', url, '-idle', `${run.idleMs}ms`, '-method', run.method ?? 'GET'];
    if (run.idempotencyKey === true) args.push('-idempotency-key');
    return parseGo(await runJsonLine(binary, args, run.idleMs));
  };
}

/** Runs test/fixtures/node-client.mjs in `mode` with this Node (process.execPath). */
export async function runNodeClient(mode: NodeClientMode, url: string, run: ClientRun): Promise<NodeExperience> {
  const args = [path.join(FIXTURES, 'node-client.mjs'), mode, url, String(run.idleMs), run.method ?? 'GET'];
  return parseNode(await runJsonLine(process.execPath, args, run.idleMs), mode);
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

/** Runs a client to completion (killed past its bound) and parses its single stdout line. */
async function runJsonLine(command: string, args: readonly string[], idleMs: number): Promise<JsonLine> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(command, args, { timeout: idleMs + PROCESS_SLACK_MS, killSignal: 'SIGKILL' }));
  } catch (err) {
    const { stdout: out = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${(err as Error).message}\nstdout: ${out}\nstderr: ${stderr}`);
  }
  const raw = stdout.trim();
  const value: unknown = JSON.parse(raw);
  if (typeof value !== 'object' || value === null || raw.includes('\n')) throw new Error(`expected one JSON object line, got: ${raw}`);
  return { value: value as Record<string, unknown>, raw };
}

function parseGo({ value, raw }: JsonLine): GoExperience {
  const gotConn = value.gotConn;
  if (value.client !== 'go' || !Array.isArray(gotConn) || typeof value.retried !== 'boolean') throw new Error(`not a go-client report: ${raw}`);
  return {
    client: 'go',
    ...parseCommon(value, raw),
    gotConn: gotConn.map((g: Record<string, unknown>) => {
      if (typeof g.reused !== 'boolean' || typeof g.wasIdle !== 'boolean') throw new Error(`bad gotConn entry: ${raw}`);
      return { reused: g.reused, wasIdle: g.wasIdle };
    }),
    retried: value.retried,
  };
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
