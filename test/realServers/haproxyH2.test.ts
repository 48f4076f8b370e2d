import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { metric } from '../support/probe.js';
import { freePort, serverBinary, startServer } from '../support/realServer.js';
import { PROBE_LAG_MS } from '../support/timing.js';
import { issueTestPki } from '../support/tls.js';
import { expectH2IdleGoaway, expectNoH2StreamCap, expectH2IdleOnWire, probeCli, startInDir, useServerForBlock } from './support.js';

/**
 * HAProxy 2.6 with HTTP/2 frontends, one haproxy for the file, answering every request itself
 * (`http-request return`, no backend: the probe measures HAProxy's own front connection).
 * `tune.h2.max-concurrent-streams 32` (global). Three frontends, one per step of the idle
 * timeout's fallback in mux_h2.c (h2c_update_timeout: `timeout http-keep-alive`, else
 * `timeout http-request`, else `timeout client`):
 * - ka, h2c (`bind … proto h2`): `timeout http-keep-alive 1500ms`, `timeout client 20s`;
 * - req, h2c: `timeout http-request 2s`, `timeout client 20s`;
 * - tls, h2 by ALPN (`bind … ssl crt … alpn h2,http/1.1`): only `timeout client 2500ms`.
 * On expiry h2_timeout_task sends GOAWAY(NO_ERROR) with the last stream seen and releases the
 * connection. HAProxy 2.6 has no cap on streams per connection: `tune.h2.fe.max-total-streams`
 * came in 3.0 (2.6.12 rejects the keyword).
 *
 * Idle tolerance: HAProxy's timers are 1 ms ticks and the idle start predates the response
 * write (haproxy.test.ts); LATE_MS as there.
 */
const LATE_MS = 250;

const bin = serverBinary('haproxy', ['/usr/sbin/haproxy'], 'apt-get install haproxy');

interface HaproxyH2 {
  readonly ka: string;
  readonly req: string;
  readonly tls: string;
  stop(): Promise<void>;
}

async function startHaproxy(haproxy: string): Promise<HaproxyH2> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-haproxy-h2-'));
  const pki = issueTestPki(dir);
  const pem = path.join(dir, 'server.pem');
  writeFileSync(pem, readFileSync(pki.cert, 'utf8') + readFileSync(pki.key, 'utf8'));
  const [ka, req, tls, ready] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const answer = '  http-request return status 200 content-type text/plain string "ok"';
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      `  pidfile ${path.join(dir, 'haproxy.pid')}`,
      '  tune.h2.max-concurrent-streams 32',
      'defaults',
      '  mode http',
      'frontend ka',
      `  bind 127.0.0.1:${ka} proto h2`,
      '  timeout client 20s',
      '  timeout http-keep-alive 1500ms',
      answer,
      'frontend req',
      `  bind 127.0.0.1:${req} proto h2`,
      '  timeout client 20s',
      '  timeout http-request 2s',
      answer,
      'frontend tls',
      `  bind 127.0.0.1:${tls} ssl crt ${pem} alpn h2,http/1.1`,
      '  timeout client 2500ms',
      answer,
      // HTTP/1, only for the readiness check (an h2c-only bind does not answer HTTP/1).
      'frontend ready',
      `  bind 127.0.0.1:${ready}`,
      '  timeout client 5s',
      answer,
      '',
    ].join('\n'),
  );
  return startInDir(
    dir,
    () => startServer(haproxy, ['-f', cfg, '-db'], { cwd: dir, readyUrl: `http://127.0.0.1:${ready}/` }),
    (_server) => ({
      ka: `http://127.0.0.1:${ka}/`,
      req: `http://127.0.0.1:${req}/`,
      tls: `https://127.0.0.1:${tls}/`,
    }),
  );
}

describe.skipIf(bin === null)('HAProxy HTTP/2 frontends', () => {
  const urls = useServerForBlock('haproxy', () => startHaproxy(bin as string));

  it('h2c, timeout http-keep-alive 1500ms: GOAWAY(NO_ERROR, last stream 1) after 1.5 s, FIN at once; no stream cap; SETTINGS_MAX_CONCURRENT_STREAMS 32', async () => {
    const result = await probeCli(urls().ka, ['h2-idle-timeout', 'h2-request-cap'], { protocol: 'h2' });
    expect(result.target.protocols).toEqual(['h2']);
    expectH2IdleGoaway('HAProxy h2c timeout http-keep-alive 1500ms', result, 1500, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'goawayDebug')).toBe('');
    expect(metric(result, 'h2-idle-timeout', 'closeAfterGoawayMs')).toBeLessThan(PROBE_LAG_MS);
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(32);
    expectNoH2StreamCap(result);
  });

  it('h2c, no http-keep-alive: timeout http-request 2s is the idle timeout', async () => {
    const result = await probeCli(urls().req, ['h2-idle-timeout'], { protocol: 'h2' });
    expectH2IdleGoaway('HAProxy h2c timeout http-request 2s', result, 2000, LATE_MS);
  });

  it('h2 over TLS (ALPN), neither http-keep-alive nor http-request: timeout client 2500ms is the idle timeout, for HTTP/1.1 on the same port too', async () => {
    const result = await probeCli(urls().tls, ['h2-idle-timeout', 'idle-timeout'], { insecure: true });
    expect(result.target.protocols).toEqual(['http/1.1', 'h2']);
    expectH2IdleGoaway('HAProxy h2 (TLS) timeout client 2500ms', result, 2500, LATE_MS);
    const http1 = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(http1).toBeGreaterThanOrEqual(2500 - PROBE_LAG_MS);
    expect(http1).toBeLessThanOrEqual(2500 + LATE_MS);
  });

  it('tshark (http2 dissector) agrees: h2c, GOAWAY 1.5 s after the response END_STREAM, the FIN right after it', async (ctx) => {
    const { wire } = await expectH2IdleOnWire(ctx, urls().ka, { settingMs: 1500, lateMs: LATE_MS });
    expect(wire.closeAfterGoawayMs).toBeLessThan(PROBE_LAG_MS);
  });
});
