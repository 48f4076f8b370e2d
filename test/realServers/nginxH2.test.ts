import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { metric, scenario } from '../support/probe.js';
import { freePort, serverBinary, startNginx } from '../support/realServer.js';
import { PROBE_LAG_MS } from '../support/timing.js';
import { issueTestPki } from '../support/tls.js';
import { expectH2IdleGoaway, expectH2IdleOnWire, probeCli, startInDir, useServerForBlock } from './support.js';

/**
 * nginx over HTTP/2, one nginx for the file with two server blocks (configurations), probed
 * through the built CLI with --protocol h2:
 * A `keepalive_timeout 2s; keepalive_requests 10;` on an h2c port (`listen … http2;` without
 * ssl: prior knowledge only) and a TLS port (`listen … ssl http2;`, ALPN h2);
 * B `keepalive_timeout 3s; keepalive_requests 25; http2_max_concurrent_streams 16;` on h2c.
 * Since 1.19.7 nginx applies keepalive_timeout and keepalive_requests to HTTP/2 (the
 * http2_idle_timeout and http2_max_requests directives are obsolete): on idle expiry
 * ngx_http_v2_idle_handler ends the connection with ngx_http_v2_finalize_connection(NO_ERROR),
 * one GOAWAY then close; on the HEADERS of the request that reaches keepalive_requests it sends
 * GOAWAY(NO_ERROR) and closes once that stream is done (src/http/v2/ngx_http_v2.c, see
 * docs/servers.md for lines).
 *
 * Idle tolerance: the idle handler is a read-event timer armed with ngx_current_msec, as for
 * HTTP/1 (nginx.test.ts): on the wire 2000.3–2003.7 ms over 20 HTTP/1 runs; LATE_MS as there.
 */
const LATE_MS = 250;

const bin = serverBinary('nginx', ['/usr/sbin/nginx'], 'apt-get install nginx-light (or nginx)');

interface NginxH2 {
  /** h2c, configuration A. */
  readonly a: string;
  /** h2 over TLS, configuration A. */
  readonly aTls: string;
  /** h2c, configuration B. */
  readonly b: string;
  stop(): Promise<void>;
}

async function startNginxH2(nginx: string): Promise<NginxH2> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-nginx-h2-'));
  chmodSync(dir, 0o755); // run as root, nginx serves from an unprivileged worker
  const pki = issueTestPki(dir);
  const [a, aTls, b, ready] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const servers = `  server {
    listen 127.0.0.1:${a} http2;
    listen 127.0.0.1:${aTls} ssl http2;
    # HTTP/1, only for the readiness check (an h2c-only port does not answer HTTP/1).
    listen 127.0.0.1:${ready};
    ssl_certificate ${pki.cert};
    ssl_certificate_key ${pki.key};
    keepalive_timeout 2s;
    keepalive_requests 10;
    location / { return 200 "ok\\n"; }
  }
  server {
    listen 127.0.0.1:${b} http2;
    keepalive_timeout 3s;
    keepalive_requests 25;
    http2_max_concurrent_streams 16;
    location / { return 200 "ok\\n"; }
  }`;
  return startInDir(
    dir,
    () => startNginx(nginx, dir, servers, `http://127.0.0.1:${ready}/`),
    (_server) => ({
      a: `http://127.0.0.1:${a}/`,
      aTls: `https://127.0.0.1:${aTls}/`,
      b: `http://127.0.0.1:${b}/`,
    }),
  );
}

describe.skipIf(bin === null)('nginx over HTTP/2', () => {
  const urls = useServerForBlock('nginx', () => startNginxH2(bin as string));

  it('A, h2c: GOAWAY(NO_ERROR, last stream 1) keepalive_timeout after the response and the FIN at once; GOAWAY after keepalive_requests streams', async () => {
    const result = await probeCli(urls().a, ['h2-idle-timeout', 'h2-request-cap'], { protocol: 'h2' });
    expect(result.target.protocols).toEqual(['h2']);
    expect(result.target.server).toBe('nginx/1.22.1');
    expectH2IdleGoaway('nginx h2c keepalive_timeout 2s', result, 2000, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'goawayDebug')).toBe('');
    // ngx_http_v2_finalize_connection closes right after queueing the GOAWAY.
    expect(metric(result, 'h2-idle-timeout', 'closeAfterGoawayMs')).toBeLessThan(PROBE_LAG_MS);
    // http2_max_concurrent_streams default.
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(128);
    expect(metric(result, 'h2-request-cap', 'maxRequests')).toBe(10);
    expect(metric(result, 'h2-request-cap', 'signalled')).toBe(true);
    expect(metric(result, 'h2-request-cap', 'goawayErrorCode')).toBe('NO_ERROR');
    expect(metric(result, 'h2-request-cap', 'closeKind')).toBe('fin');
  });

  it('A, h2 over TLS (ALPN), the timed samples on the timekeeper: the same GOAWAY after 2 s and cap of 10; HTTP/1.1 on the same port idles out after the same keepalive_timeout', async () => {
    // nginx sends its SETTINGS with the end of the handshake: the thread must hand them over after the connect has been awaited.
    const result = await probeCli(urls().aTls, ['h2-idle-timeout', 'h2-request-cap', 'idle-timeout'], { insecure: true, timekeeper: 'always' });
    expect(result.target.protocols).toEqual(['http/1.1', 'h2']);
    expect(scenario(result, 'h2-idle-timeout').connections[0]?.events.find((e) => e.kind === 'tls')).toMatchObject({ alpn: 'h2' });
    expectH2IdleGoaway('nginx h2 (TLS) keepalive_timeout 2s', result, 2000, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'closeAfterGoawayMs')).toBeLessThan(PROBE_LAG_MS);
    expect(metric(result, 'h2-request-cap', 'maxRequests')).toBe(10);
    expect(metric(result, 'h2-request-cap', 'signalled')).toBe(true);
    const http1 = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(http1).toBeGreaterThanOrEqual(2000 - PROBE_LAG_MS);
    expect(http1).toBeLessThanOrEqual(2000 + LATE_MS);
  });

  it('B, h2c: GOAWAY 3 s after the response, after 25 streams, and SETTINGS_MAX_CONCURRENT_STREAMS 16', async () => {
    const result = await probeCli(urls().b, ['h2-idle-timeout', 'h2-request-cap'], { protocol: 'h2' });
    expectH2IdleGoaway('nginx h2c keepalive_timeout 3s', result, 3000, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(16);
    expect(metric(result, 'h2-request-cap', 'maxRequests')).toBe(25);
    expect(metric(result, 'h2-request-cap', 'signalled')).toBe(true);
    expect(metric(result, 'h2-request-cap', 'goawayErrorCode')).toBe('NO_ERROR');
  });

  it('tshark (http2 dissector) agrees: A, h2c, the GOAWAY on the wire 2 s after the response END_STREAM, the FIN right after it', async (ctx) => {
    const { wire } = await expectH2IdleOnWire(ctx, urls().a, { settingMs: 2000, lateMs: LATE_MS });
    expect(wire.closeAfterGoawayMs).toBeLessThan(PROBE_LAG_MS);
  });
});
