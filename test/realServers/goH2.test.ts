import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metric } from '../support/probe.js';
import { useServerProcesses } from '../support/process.js';
import { serverBinary } from '../support/realServer.js';
import { buildGoFixture } from '../support/realClients.js';
import { PROBE_LAG_MS } from '../support/timing.js';
import { issueTestPki } from '../support/tls.js';
import { expectH2IdleGoaway, expectNoH2StreamCap, expectH2IdleOnWire, probeCli } from './support.js';

/**
 * Go's HTTP/2 server (test/fixtures/go-h2-server), built once with the Debian toolchain:
 * over TLS the standard library alone (net/http's bundled copy of x/net/http2, h2_bundle.go),
 * h2c with prior knowledge through golang.org/x/net/http2/h2c from golang-golang-x-net-dev
 * (0.7.0), built offline in GOPATH mode against /usr/share/gocode.
 *
 * On IdleTimeout the serve loop sends GOAWAY(NO_ERROR) naming the highest stream it processed
 * (idleTimerMsg → goAway(ErrCodeNo)), and once the GOAWAY is written with no stream open it
 * closes the connection goAwayTimeout (1 s) later (shutDownIn(goAwayTimeout)). The idle timer is
 * (re)armed when the last open stream closes, i.e. when the response's END_STREAM is written.
 *
 * Tolerances: the Go runtime's timers never fire early; lateness is scheduling on a busy
 * 2-core machine (as for HTTP/1, go.test.ts), LATE_MS as there, for the idle time and for the
 * 1 s close.
 */
const LATE_MS = 250;
const GO_AWAY_TIMEOUT_MS = 1000;
const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/go-h2-server');
const DEBIAN_GOPATH = '/usr/share/gocode';

const go = serverBinary('go', ['/usr/bin/go', '/usr/lib/go/bin/go'], 'apt-get install golang-go');
const xnet = serverBinary(
  'golang.org/x/net/http2/h2c',
  [path.join(DEBIAN_GOPATH, 'src/golang.org/x/net/http2/h2c/h2c.go')],
  'apt-get install golang-golang-x-net-dev',
);

describe.skipIf(go === null || xnet === null)("Go's HTTP/2 server (net/http over TLS, x/net/http2/h2c)", () => {
  const startProcess = useServerProcesses();
  let dir = '';
  let binary = '';
  let tls = { cert: '', key: '' };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kap-go-h2-'));
    tls = issueTestPki(dir);
    binary = await buildGoFixture(go as string, FIXTURE, dir, 'go-h2-server', DEBIAN_GOPATH);
  }, 130_000);
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const expectCloseOneSecondLater = (result: Awaited<ReturnType<typeof probeCli>>): void => {
    const close = metric(result, 'h2-idle-timeout', 'closeAfterGoawayMs') as number;
    expect(close).toBeGreaterThanOrEqual(GO_AWAY_TIMEOUT_MS - PROBE_LAG_MS);
    expect(close).toBeLessThanOrEqual(GO_AWAY_TIMEOUT_MS + LATE_MS);
  };

  it('h2c, http2.Server IdleTimeout 1500ms, MaxConcurrentStreams 20: GOAWAY(NO_ERROR, last stream 1) after 1.5 s, FIN 1 s after it; no stream cap', async () => {
    const url = await startProcess(binary, ['-idle', '1500ms', '-max-streams', '20']);
    const result = await probeCli(url, ['h2-idle-timeout', 'h2-request-cap'], { protocol: 'h2' });
    expect(result.target.protocols).toEqual(['h2']);
    expect(result.target.server).toBe('go-h2-test');
    expectH2IdleGoaway('Go h2c IdleTimeout 1500ms', result, 1500, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'goawayDebug')).toBe('');
    expectCloseOneSecondLater(result);
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(20);
    expectNoH2StreamCap(result);
  });

  it('TLS (ALPN h2), standard library only, http.Server IdleTimeout 2s: GOAWAY after 2 s, FIN 1 s later, 250 concurrent streams; HTTP/1.1 on the same port closes after 2 s', async () => {
    const url = await startProcess(binary, ['-idle', '2s', '-tls-cert', tls.cert, '-tls-key', tls.key]);
    const result = await probeCli(url, ['h2-idle-timeout', 'idle-timeout'], { insecure: true });
    expect(result.target.protocols).toEqual(['http/1.1', 'h2']);
    expectH2IdleGoaway('Go h2 (TLS) IdleTimeout 2s', result, 2000, LATE_MS);
    expectCloseOneSecondLater(result);
    // http2defaultMaxStreams in h2_bundle.go.
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(250);
    const http1 = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(http1).toBeGreaterThanOrEqual(2000 - PROBE_LAG_MS);
    expect(http1).toBeLessThanOrEqual(2000 + LATE_MS);
  });

  it('tshark (http2 dissector) agrees: h2c, GOAWAY 1.5 s after the response END_STREAM, the FIN 1 s after the GOAWAY', async (ctx) => {
    const url = await startProcess(binary, ['-idle', '1500ms']);
    const { wire } = await expectH2IdleOnWire(ctx, url, { settingMs: 1500, lateMs: LATE_MS });
    expect(wire.closeAfterGoawayMs).toBeGreaterThanOrEqual(GO_AWAY_TIMEOUT_MS);
    expect(wire.closeAfterGoawayMs).toBeLessThanOrEqual(GO_AWAY_TIMEOUT_MS + LATE_MS);
  });
});
