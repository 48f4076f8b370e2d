import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { metric, probeCli as probe, scenario } from './support/probe.js';
import { useServerProcesses } from './support/process.js';
import { PROBE_LAG_MS } from './support/timing.js';

/**
 * Real servers started by the tests: Node's http.createServer and Python's http.server,
 * probed by the built CLI with --json, as users run it.
 * Idle-timeout tolerance as in lab.integration.test.ts: timers never fire early (the probe
 * reads short only by its own stamping lag, PROBE_LAG_MS), and on a busy CI machine may run a
 * few hundred ms late.
 */
const EARLY_MS = PROBE_LAG_MS;
const LATE_MS = 400;
const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');

const start = useServerProcesses();

describe("Node's http.createServer", () => {
  const node = (keepAliveTimeoutMs: number, maxRequests: number): Promise<string> =>
    start(process.execPath, [path.join(FIXTURES, 'node-server.mjs'), String(keepAliveTimeoutMs), String(maxRequests)]);

  it('keepAliveTimeout: the idle close comes about 1 s after the configured value (Node adds a 1 s buffer), with FIN', async () => {
    const url = await node(600, 0);
    const result = await probe(url, ['idle-timeout', 'http11-reuse', 'request-cap'], { maxRequests: 40 });
    const idle = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
    // lib/_http_server.js arms the socket timeout at keepAliveTimeout + 1000 ms (the buffer
    // later exposed as server.keepAliveTimeoutBuffer), so clients trusting the advertised
    // value do not race the server.
    expect(idle).toBeGreaterThanOrEqual(600 + 1000 - EARLY_MS);
    expect(idle).toBeLessThanOrEqual(600 + 1000 + LATE_MS);
    expect(metric(result, 'idle-timeout', 'closeKind')).toBe('fin');
    // Node advertises Keep-Alive: timeout=floor(keepAliveTimeout / 1000).
    expect(metric(result, 'idle-timeout', 'advertisedTimeoutS')).toBe(0);
    expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
    // res.end() with the headers still unsent writes head and body in one send: no stall.
    expect(metric(result, 'request-cap', 'responseStallMs')).toBeNull();
    expect(scenario(result, 'request-cap').status).toBe('pass');
  });

  it('maxRequestsPerSocket: the last response says Connection: close, and Node leaves the socket open', async () => {
    const url = await node(5000, 4);
    const result = await probe(url, ['request-cap']);
    expect(metric(result, 'request-cap', 'maxRequests')).toBe(4);
    expect(metric(result, 'request-cap', 'signalled')).toBe(true);
    expect(metric(result, 'request-cap', 'closeKind')).toBeNull();
    expect(
      scenario(result, 'request-cap')
        .findings.map((f) => f.text)
        .join('\n'),
    ).toContain('left the connection open');
  });

  it('answers HTTP/1.0 with HTTP/1.1 and Connection: close, even when keep-alive is asked for', async () => {
    const url = await node(5000, 0);
    const result = await probe(url, ['http10-keepalive', 'connection-close']);
    expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(false);
    expect(metric(result, 'http10-keepalive', 'plainClosedBy')).toBe('server');
    expect(metric(result, 'connection-close', 'closedBy')).toBe('server');
    expect(metric(result, 'connection-close', 'timeWaitSide')).toBe('server');
  });
});

describe("Python's http.server", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-py-'));
  writeFileSync(path.join(dir, 'index.html'), 'hello from python\n');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const python = (protocol: string): Promise<string> => start('python3', [path.join(FIXTURES, 'python-server.py'), protocol, dir]);

  it('protocol_version HTTP/1.0: closes after every response, never reused', async () => {
    const url = await python('HTTP/1.0');
    const result = await probe(url, ['http11-reuse', 'http10-keepalive', 'idle-timeout', 'request-cap', 'timeout-mismatch', 'stale-race']);
    expect(result.target.server).toMatch(/^SimpleHTTP\/.* Python\//);
    expect(metric(result, 'http11-reuse', 'reused')).toBe(false);
    expect(scenario(result, 'http11-reuse').status).toBe('warn');
    expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(false);
    expect(metric(result, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
    expect(
      scenario(result, 'idle-timeout')
        .findings.map((f) => f.text)
        .join('\n'),
    ).toContain('does not keep this connection alive');
    expect(metric(result, 'request-cap', 'maxRequests')).toBe(1);
    // One story: not kept alive, with the reason the response gave; the scenarios that measure
    // kept-alive connections say they do not apply, warn about nothing and advise nothing.
    expect(scenario(result, 'http11-reuse').advice.join('\n')).toContain('its response to an HTTP/1.1 request said HTTP/1.0 without "Connection: keep-alive"');
    for (const id of ['idle-timeout', 'request-cap', 'timeout-mismatch', 'stale-race']) {
      const s = scenario(result, id);
      expect(s.status, id).toBe('pass');
      expect(s.advice, id).toEqual([]);
      expect(s.findings[0]?.text, id).toMatch(/^not applicable: the server keeps no connection alive/);
    }
    const advice = result.scenarios.flatMap((s) => s.advice).join('\n');
    expect(advice).not.toMatch(/load balancer|NAT|pool/);
  });

  it('protocol_version HTTP/1.1: reused, no idle timeout within --max-idle, no request cap', async () => {
    const url = await python('HTTP/1.1');
    const result = await probe(url, ['http11-reuse', 'idle-timeout', 'request-cap', 'http10-keepalive'], { maxIdleMs: 1500, maxRequests: 30 });
    expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
    expect(metric(result, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
    expect(
      scenario(result, 'idle-timeout')
        .findings.map((f) => f.text)
        .join('\n'),
    ).toContain('did not close the idle connection within 1.5 s');
    expect(metric(result, 'request-cap', 'maxRequests')).toBeNull();
    // BaseHTTPRequestHandler keeps an HTTP/1.0 "Connection: keep-alive" request open when protocol_version is HTTP/1.1.
    expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(true);
    // SimpleHTTPRequestHandler flushes the head (end_headers → flush_headers), then copies the
    // file in a second send: with Nagle on, the body waits for the ACK of the head, which
    // Linux's delayed ACK sends TCP_DELACK_MIN (40 ms) later once the connection left quick-ack.
    const stall = metric(result, 'request-cap', 'responseStallMs') as number;
    expect(stall).toBeGreaterThanOrEqual(30);
    expect(stall).toBeLessThanOrEqual(250);
    const cap = scenario(result, 'request-cap');
    expect(cap.status).toBe('warn');
    expect(cap.findings.map((f) => f.text).join('\n')).toContain("Nagle on the server with the client's delayed ACK");
    expect(cap.advice.join('\n')).toContain('TCP_NODELAY');
  });

  it('a request loop with a time budget stops there on a stalling server, and the report says where and why', async () => {
    const url = await python('HTTP/1.1');
    const file = path.join(dir, 'budget.yaml');
    writeFileSync(
      file,
      [
        'id: budgeted-cap',
        'title: request cap within 1 s',
        'steps:',
        '  - open: main',
        '  - repeat: { on: main, max: $maxRequests, budget: 1s, until: closed, steps: [ { request: { on: main } } ] }',
        '  - wait-close: { on: main, max: 1s, if-closing: true }',
        'metrics:',
        '  maxRequests: { measure: requestsBeforeClose, on: main }',
        '',
      ].join('\n'),
    );
    const result = await probe(url, [file], { maxRequests: 1000 });
    const run = scenario(result, 'budgeted-cap');
    // ~40 ms a request: about 25 fit in the budget, far below --max-requests.
    const served = run.connections[0]?.events.filter((e) => e.kind === 'response-complete').length ?? 0;
    expect(served).toBeGreaterThan(1);
    expect(served).toBeLessThan(1000);
    expect(run.findings.map((f) => f.text).join('\n')).toMatch(
      /without closing it \(the search stopped at its 1 s time budget, [\d.]+ ms per request, before --max-requests 1000\)/,
    );
  });

  it('a body with neither Content-Length nor chunked on a connection kept open is a finding with its fix, not a probe error', async () => {
    const url = await start('python3', [path.join(FIXTURES, 'python-unframed.py')]);
    const result = await probe(url, ['http11-reuse', 'idle-timeout', 'short-connections'], { bodyMs: 1000 });
    const reuse = scenario(result, 'http11-reuse');
    expect(reuse.error).toBeNull();
    expect(reuse.status).toBe('warn');
    expect(reuse.findings.map((f) => f.text).join('\n')).toContain(
      'the body has no Content-Length or chunked encoding, so it ends only when the server closes',
    );
    expect(reuse.expectations.find((e) => e.metric === 'framed')?.ok).toBe(false);
    expect(reuse.advice.join('\n')).toContain('Frame every response: send Content-Length');
    const idle = scenario(result, 'idle-timeout');
    expect(idle.status).toBe('pass');
    expect(idle.findings[0]?.text).toContain(
      'not applicable: the server keeps no connection alive (its response #1 had neither Content-Length nor chunked framing',
    );
    // One connection shows it: short-connections does not pay the body deadline 20 times.
    expect(metric(result, 'short-connections', 'clientClosesConnections')).toBe(1);
  });
});
