import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { metric } from '../support/probe.js';
import { freePort, serverBinary, startApache } from '../support/realServer.js';
import { PROBE_LAG_MS } from '../support/timing.js';
import { issueTestPki } from '../support/tls.js';
import { expectH2IdleGoaway, expectNoH2StreamCap, expectH2IdleOnWire, probeCli, startInDir, useServerForBlock } from './support.js';

/**
 * Apache httpd with mod_http2 (event MPM) over HTTP/2, one httpd for the file, probed through
 * the built CLI. `Protocols h2 h2c http/1.1` server-wide; H2Direct is left at its default,
 * which is on for cleartext connections (prior knowledge) and off over TLS (h2_c1_allows_direct).
 * Three listeners:
 * - main (h2c): the main server's `KeepAliveTimeout 3`, `MaxKeepAliveRequests 5`;
 * - tls (h2 by ALPN): a vhost with `KeepAliveTimeout 2` and `H2MaxSessionStreams 20`;
 * - vhost (h2c): a vhost with the same two directives as tls.
 * On idle expiry the event MPM closes the connection from its keep-alive queue, and mod_http2's
 * pre_close hook first sends GOAWAY(NO_ERROR) with debug data "timeout" (h2_session_pre_close).
 *
 * Idle tolerance: as for HTTP/1 (apache.test.ts), the event MPM may close up to
 * TIMEOUT_FUDGE_FACTOR (100 ms) late when other connections are queued, and a loaded machine
 * adds to it; LATE_MS as there.
 */
const LATE_MS = 400;

const bin = serverBinary('apache2', ['/usr/sbin/apache2', '/usr/sbin/httpd'], 'apt-get install apache2');

interface ApacheH2 {
  readonly main: string;
  readonly tls: string;
  readonly vhost: string;
  stop(): Promise<void>;
}

async function startApacheH2(httpd: string): Promise<ApacheH2> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-apache-h2-'));
  chmodSync(dir, 0o755); // run as root, httpd serves from www-data children
  const pki = issueTestPki(dir);
  const [main, tls, vhost] = [await freePort(), await freePort(), await freePort()];
  const config = `Protocols h2 h2c http/1.1
KeepAlive On
KeepAliveTimeout 3
MaxKeepAliveRequests 5
<VirtualHost 127.0.0.1:${tls}>
  SSLEngine on
  SSLCertificateFile ${pki.cert}
  SSLCertificateKeyFile ${pki.key}
  KeepAliveTimeout 2
  H2MaxSessionStreams 20
</VirtualHost>
<VirtualHost 127.0.0.1:${vhost}>
  KeepAliveTimeout 2
  H2MaxSessionStreams 20
</VirtualHost>
`;
  // The h2c ports speak HTTP/1.1 too (Protocols), so the readiness check can use one.
  return startInDir(
    dir,
    () => startApache(httpd, dir, { ports: [main, tls, vhost], extraModules: ['http2', 'ssl'], config, readyUrl: `http://127.0.0.1:${main}/` }),
    (_server) => ({
      main: `http://127.0.0.1:${main}/`,
      tls: `https://127.0.0.1:${tls}/`,
      vhost: `http://127.0.0.1:${vhost}/`,
    }),
  );
}

describe.skipIf(bin === null)('Apache httpd (mod_http2) over HTTP/2', () => {
  const urls = useServerForBlock('httpd', () => startApacheH2(bin as string));

  it('main server, h2c by prior knowledge: GOAWAY(NO_ERROR, "timeout") after KeepAliveTimeout 3, FIN at once; MaxKeepAliveRequests 5 caps no HTTP/2 streams', async () => {
    const result = await probeCli(urls().main, ['h2-idle-timeout', 'h2-request-cap'], { protocol: 'h2' });
    expect(result.target.protocols).toEqual(['h2']);
    expect(result.target.server).toMatch(/^Apache\/2\.4\./);
    expectH2IdleGoaway('Apache h2c KeepAliveTimeout 3', result, 3000, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'goawayDebug')).toBe('timeout');
    expect(metric(result, 'h2-idle-timeout', 'closeAfterGoawayMs')).toBeLessThan(PROBE_LAG_MS);
    // H2MaxSessionStreams default.
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(100);
    // 50 streams (--max-requests) on one connection, no GOAWAY: MaxKeepAliveRequests counts
    // HTTP/1 keep-alives only, and mod_http2 has no per-connection stream cap.
    expectNoH2StreamCap(result);
  });

  it('vhost over TLS (ALPN h2): its own KeepAliveTimeout 2 and H2MaxSessionStreams 20 apply; HTTP/1.1 on the same port idles out after 2 s too', async () => {
    const result = await probeCli(urls().tls, ['h2-idle-timeout', 'idle-timeout'], { insecure: true });
    expect(result.target.protocols).toEqual(['http/1.1', 'h2']);
    expectH2IdleGoaway('Apache h2 (TLS) vhost KeepAliveTimeout 2', result, 2000, LATE_MS);
    expect(metric(result, 'h2-idle-timeout', 'goawayDebug')).toBe('timeout');
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(20);
    const http1 = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(http1).toBeGreaterThanOrEqual(2000 - PROBE_LAG_MS);
    expect(http1).toBeLessThanOrEqual(2000 + LATE_MS);
  });

  it("vhost over h2c: H2MaxSessionStreams 20 applies, but the idle GOAWAY comes after the main server's KeepAliveTimeout (3 s), not the vhost's 2 s", async () => {
    const result = await probeCli(urls().vhost, ['h2-idle-timeout'], { protocol: 'h2' });
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(20);
    // The event MPM gives a new connection the main server's keep-alive queue (event.c,
    // cs->sc = ap_server_conf's config) and moves it to a vhost's only in its post_read_request
    // hook, which a cleartext h2 connection never reaches: its requests are read on mod_http2's
    // secondary connections.
    expectH2IdleGoaway('Apache h2c vhost KeepAliveTimeout 2 (main 3)', result, 3000, LATE_MS);
  });

  it('tshark (http2 dissector) agrees: main server, h2c, GOAWAY 3 s after the response END_STREAM, the FIN right after it', async (ctx) => {
    const { wire } = await expectH2IdleOnWire(ctx, urls().main, { settingMs: 3000, lateMs: LATE_MS });
    expect(wire.closeAfterGoawayMs).toBeLessThan(PROBE_LAG_MS);
  });
});
