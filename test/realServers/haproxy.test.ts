import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../../src/options/labProfiles.js';
import { startLabServer } from '../../src/lab/labServer.js';
import type { LabServer } from '../../src/lab/labServer.js';
import type { RunResult } from '../../src/model/result.js';
import { connectionSegments, wireClose } from '../support/capture.js';
import { expectCaptureAgreement } from '../support/captureAgreement.js';
import { metric, scenario } from '../support/probe.js';
import { serverBinary } from '../support/realServer.js';
import { checkIdleAndCloseOnWire, connection, expectIdleFinClose, probeCli, responseHeads } from './support.js';
import { startHaproxy } from './support-haproxy-tomcat.js';
import type { StartedServer } from './support-haproxy-tomcat.js';

/**
 * HAProxy 2.6 in `mode http` in front of the lab server, probed through the built CLI. The
 * probe must measure the FRONT hop (client ↔ HAProxy): the lab behind it keeps idle
 * connections 30 s, caps them at 10 requests and advertises `Keep-Alive: timeout=30, max=…`,
 * none of which is HAProxy's own behaviour.
 *
 * Idle-timeout tolerance. HAProxy's timers are "ticks" of 1 ms (include/haproxy/ticks.h);
 * mux_h1.c h1_set_idle_expiration arms idle_exp = now_ms + `timeout http-keep-alive`, with
 * now_ms the clock cached when epoll_wait returned (so it predates the response write), and
 * ev_epoll.c sleeps until the nearest tick. The probe starts counting when its event loop has
 * read the last response byte, which is after HAProxy armed the timer. Measured with
 * idle-timeout run alone (20 sequential runs, 1500 ms): 1497.4 … 1506.0 ms. With all six
 * scenarios in one run, request-cap's 50 back-to-back exchanges keep the probe's event loop
 * busy while the idle-timeout response arrives, so that response is stamped late and the
 * idle time reads short: 1485.6 … 1505.0 ms over 12 runs of this file (within PROBE_LAG_MS).
 * LATE_MS is HAProxy's own lateness:
 */
const LATE_MS = 250;

const bin = serverBinary('haproxy', ['/usr/sbin/haproxy'], 'apt-get install haproxy');

/** The backend: long idle timeout, a cap of 10, Keep-Alive advertised. */
const BACKEND = { ...SERVE_DEFAULTS, idleTimeoutMs: 30_000, maxRequests: 10, advertise: true };
const TIMEOUTS = ['timeout connect 2s', 'timeout server 20s'];

describe.skipIf(bin === null)('HAProxy (mode http, keep-alive) in front of the lab server', () => {
  let lab: LabServer;
  beforeAll(async () => {
    lab = await startLabServer(BACKEND);
  });
  afterAll(async () => {
    await lab.close();
  });

  /** Starts HAProxy with `defaults` lines in beforeAll and stops it in afterAll; returns a getter. */
  function useHaproxy(defaults: readonly string[]): () => StartedServer {
    let server: StartedServer | undefined;
    beforeAll(async () => {
      server = await startHaproxy(bin ?? 'haproxy', { defaults: [...TIMEOUTS, ...defaults], backendPort: lab.port });
    });
    afterAll(async () => {
      await server?.stop();
    });
    return () => {
      if (server === undefined) throw new Error('HAProxy did not start');
      return server;
    };
  }

  describe('timeout http-keep-alive 1500ms, timeout client 20s', () => {
    const haproxy = useHaproxy(['timeout client 20s', 'timeout http-keep-alive 1500ms']);
    let result: RunResult;
    let backendConnections: number;
    beforeAll(async () => {
      const before = lab.accepted();
      result = await probeCli(haproxy().url, ['http11-reuse', 'http10-keepalive', 'connection-close', 'idle-timeout', 'request-cap', 'timeout-mismatch']);
      backendConnections = lab.accepted() - before;
    });

    it('closes the idle front connection after timeout http-keep-alive with FIN; HAProxy holds TIME_WAIT', () => {
      expect(result.target.server).toMatch(/^keepalive-probe-lab\//); // the backend's Server header, passed through
      expectIdleFinClose('HAProxy timeout http-keep-alive 1500ms', result, 1500, LATE_MS);
      expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
    });

    it("passes the backend's Keep-Alive: timeout=30, max=9 through, although the front closes after 1.5 s", () => {
      // Keep-Alive is hop-by-hop (RFC 9112 Appendix C.2.2), but HAProxy 2.6 forwards it: the
      // advertised figure is the backend's, and the probe must say it contradicts the measured one.
      expect(metric(result, 'idle-timeout', 'advertisedTimeoutS')).toBe(30);
      expect(responseHeads(connection(result, 'idle-timeout'))[0]).toMatchObject({ connectionHeader: null, keepAliveHeader: 'timeout=30, max=9' });
      expect(scenario(result, 'idle-timeout').advice.join('\n')).toContain('differs from the measured one');
    });

    it("has no request cap on the front: the backend's cap of 10 is absorbed by HAProxy", () => {
      expect(metric(result, 'request-cap', 'maxRequests')).toBeNull();
      expect(metric(result, 'request-cap', 'signalled')).toBeNull();
      expect(metric(result, 'request-cap', 'closeKind')).toBeNull();
      expect(metric(result, 'request-cap', 'advertisedMax')).toBe(9); // the backend's max=, passed through
      const heads = responseHeads(connection(result, 'request-cap'));
      expect(heads).toHaveLength(50);
      expect(heads.every((h) => h.keepAlive && h.connectionHeader === null)).toBe(true);
      // The lab said Connection: close on every 10th response; HAProxy dropped it and opened a
      // new server connection: at least 5 for request-cap's 50 requests alone.
      expect(backendConnections).toBeGreaterThanOrEqual(5);
    });

    it('HTTP/1.0: closes a plain request after the response, keeps one with Connection: keep-alive', () => {
      expect(metric(result, 'http10-keepalive', 'plainClosedBy')).toBe('server');
      expect(connection(result, 'http10-keepalive', 'plain').end).toMatchObject({ kind: 'server-close-after-response', signal: 'fin' });
      // The lab said Connection: close; HAProxy drops it (close is HTTP/1.0's default).
      expect(responseHeads(connection(result, 'http10-keepalive', 'plain'))).toMatchObject([{ keepAlive: false, connectionHeader: null }]);
      expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(true);
      expect(responseHeads(connection(result, 'http10-keepalive', 'ka')).map((h) => h.connectionHeader)).toEqual(['keep-alive', 'keep-alive']);
    });

    it('Connection: close: HAProxy answers, sends the first FIN and holds TIME_WAIT', () => {
      expect(metric(result, 'connection-close', 'closedBy')).toBe('server');
      expect(metric(result, 'connection-close', 'closeKind')).toBe('fin');
      expect(metric(result, 'connection-close', 'timeWaitSide')).toBe('server');
      expect(responseHeads(connection(result, 'connection-close'))[0]?.connectionHeader).toBe('close');
    });

    it('a request written after the idle FIN reaches a closed socket: the kernel answers RST, so no TIME_WAIT is left', () => {
      expect(metric(result, 'timeout-mismatch', 'outcome')).toBe('premature-close');
      // HAProxy close()s the idle socket: the stale request meets an orphaned FIN_WAIT2 socket
      // and HAProxy's kernel answers RST at once (checked on the wire in the tshark test), which
      // destroys both ends: /proc/net/tcp has no row for the pair afterwards.
      expect(connection(result, 'timeout-mismatch').timeWait.side).toBe('none');
    });

    it('tshark agrees: idle close timed as on the wire, HAProxy sends the first FIN, the stale request is reset', async (ctx) => {
      const { rest: closeRun, segments } = await checkIdleAndCloseOnWire(ctx, haproxy(), ['timeout-mismatch']);

      const stalePort = connection(closeRun, 'timeout-mismatch').local?.port ?? -1;
      expect(wireClose(segments, haproxy().port, stalePort)).toMatchObject({ firstCloser: 'server', how: 'fin' });
      const seg = connectionSegments(segments, stalePort);
      const staleRequest = seg.filter((s) => s.srcPort === stalePort && s.payload > 0).pop();
      const resets = seg.filter((s) => s.rst && s.srcPort === haproxy().port);
      expect(resets).toHaveLength(1);
      expect(resets[0]?.time ?? 0).toBeGreaterThanOrEqual(staleRequest?.time ?? Infinity);
    });

    it('run --capture, then analyze of its capture: the same verdicts (no request cap on the front)', async (ctx) => {
      const file = path.join(haproxy().dir, 'haproxy.pcapng');
      const { run } = await expectCaptureAgreement(ctx, 'HAProxy', haproxy().url, ['idle-timeout', 'request-cap', 'timeout-mismatch'], file);
      expect(metric(run, 'request-cap', 'maxRequests')).toBeNull();
      expect(metric(run, 'timeout-mismatch', 'serverClose')).toBe('full');
    });
  });

  describe('timeout http-keep-alive 3s, timeout client 20s', () => {
    const haproxy = useHaproxy(['timeout client 20s', 'timeout http-keep-alive 3s']);

    it('closes the idle front connection after 3 s with FIN', async () => {
      const result = await probeCli(haproxy().url, ['idle-timeout', 'http11-reuse']);
      expectIdleFinClose('HAProxy timeout http-keep-alive 3s', result, 3000, LATE_MS);
      expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
    });
  });

  describe('timeout client 2s below timeout http-keep-alive 3s', () => {
    const haproxy = useHaproxy(['timeout client 2s', 'timeout http-keep-alive 3s']);

    it('closes after timeout client: the idle expiry is the earlier of the two', async () => {
      // mux_h1.c h1_refresh_timeout: task->expire = tick_first(now + timeout client, idle_exp).
      const result = await probeCli(haproxy().url, ['idle-timeout']);
      expectIdleFinClose('HAProxy timeout client 2s, http-keep-alive 3s', result, 2000, LATE_MS);
    });
  });

  describe('option httpclose', () => {
    const haproxy = useHaproxy(['timeout client 20s', 'timeout http-keep-alive 3s', 'option httpclose']);
    let result: RunResult;
    beforeAll(async () => {
      result = await probeCli(haproxy().url, ['http11-reuse', 'http10-keepalive', 'connection-close', 'idle-timeout', 'request-cap']);
    });

    it('one request per connection, announced: Connection: close added, FIN right after, HAProxy holds TIME_WAIT', () => {
      expect(metric(result, 'http11-reuse', 'reused')).toBe(false);
      expect(metric(result, 'request-cap', 'maxRequests')).toBe(1);
      expect(metric(result, 'request-cap', 'signalled')).toBe(true);
      expect(metric(result, 'request-cap', 'closeKind')).toBe('fin');
      // HAProxy replaces the backend's Connection/Keep-Alive headers with Connection: close.
      expect(responseHeads(connection(result, 'request-cap'))).toMatchObject([{ connectionHeader: 'close', keepAliveHeader: null }]);
      expect(metric(result, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
      expect(connection(result, 'idle-timeout').end).toMatchObject({ kind: 'server-close-after-response', closedBy: 'server', signal: 'fin' });
      expect(metric(result, 'connection-close', 'timeWaitSide')).toBe('server');
    });

    it('HTTP/1.0 keep-alive is refused: no Connection header, closed after the response', () => {
      expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(false);
      expect(metric(result, 'http10-keepalive', 'plainClosedBy')).toBe('server');
      expect(responseHeads(connection(result, 'http10-keepalive', 'ka'))).toMatchObject([{ keepAlive: false, connectionHeader: null }]);
    });

    it('names HAProxy as the first closer when its FIN follows the Connection: close response at once', () => {
      // HAProxy writes the response and its FIN back to back (on the wire 10 µs apart, the
      // probe's FIN 0.65 ms later), so HAProxy's socket is the one left in TIME_WAIT.
      const conn = connection(result, 'http11-reuse');
      expect(conn.timeWait).toMatchObject({ side: 'server', source: 'proc-net-tcp' });
      expect(conn.end.closedBy).toBe('server');
    });
  });
});
