import { BUILTIN_ORDER } from '../src/catalog/builtinScenarios.js';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEMO_PROFILE } from '../src/options/labProfiles.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import { useLab } from './support/lab.js';
import { metric, probe, scenario } from './support/probe.js';
import { PROBE_LAG_MS } from './support/timing.js';

/**
 * The lab server in many configurations, probed over real loopback sockets: each flag must
 * change what the probe reports, and the configured value must come back.
 *
 * Idle-timeout tolerance: the lab arms setTimeout(idle) when it has written a response, and
 * Node timers never fire early, so the probe (which starts counting when the response has
 * arrived, a loopback hop later) reads less than configured only by how late it stamped the
 * response (PROBE_LAG_MS); on a busy 2-core CI machine a timer may run a few hundred ms late.
 */
const EARLY_MS = PROBE_LAG_MS;
const LATE_MS = 400;

const startLab = useLab();
async function lab(overrides: Partial<LabProfile>): Promise<string> {
  return (await startLab(overrides)).url;
}

function expectIdleNear(value: unknown, configuredMs: number): void {
  expect(typeof value).toBe('number');
  expect(value as number).toBeGreaterThanOrEqual(configuredMs - EARLY_MS);
  expect(value as number).toBeLessThanOrEqual(configuredMs + LATE_MS);
}

describe('the demo profile (what `keepalive-probe run` shows with no target)', () => {
  it('reports every scenario with its configured values', async () => {
    const url = await lab(DEMO_PROFILE);
    const result = await probe(url);
    expect(result.scenarios.map((s) => s.id)).toEqual(BUILTIN_ORDER);
    expect(result.target.server).toMatch(/^keepalive-probe-lab\//);
    expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
    expect(metric(result, 'http11-reuse', 'connections')).toBe(1);
    expect(metric(result, 'http10-keepalive', 'plainClosedBy')).toBe('server');
    expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(false);
    expect(scenario(result, 'http10-keepalive').status).toBe('warn');
    expect(metric(result, 'connection-close', 'closedBy')).toBe('server');
    expect(metric(result, 'connection-close', 'closeKind')).toBe('fin');
    expectIdleNear(metric(result, 'idle-timeout', 'idleTimeoutMs'), DEMO_PROFILE.idleTimeoutMs);
    expect(metric(result, 'idle-timeout', 'advertisedTimeoutS')).toBe(2);
    expect(metric(result, 'request-cap', 'maxRequests')).toBe(5);
    expect(metric(result, 'request-cap', 'signalled')).toBe(true);
    expect(metric(result, 'timeout-mismatch', 'outcome')).toBe('premature-close');
    expect(metric(result, 'timeout-mismatch', 'writeAgainOutcome')).toBe('EPIPE');
    expect(metric(result, 'timeout-mismatch', 'serverClose')).toBe('full');
    expectIdleNear(metric(result, 'stale-race', 'idleTimeoutMs'), DEMO_PROFILE.idleTimeoutMs);
    expect(scenario(result, 'stale-race').race?.trials).toHaveLength(30);
    expect(metric(result, 'short-connections', 'clientSendsCloseTimeWaitServer')).toBe(20);
    expect(metric(result, 'short-connections', 'clientClosesTimeWaitClient')).toBe(20);
    expect(metric(result, 'short-connections', 'clientAbandonsTimeWaitServer')).toBe(20);
    // HTTP/2 on the same port (h2c): gRPC-Go's two-step drain at the idle timeout, GOAWAY at the cap.
    expectIdleNear(metric(result, 'h2-idle-timeout', 'idleTimeoutMs'), DEMO_PROFILE.idleTimeoutMs);
    expect(metric(result, 'h2-idle-timeout', 'twoStepGoaway')).toBe(true);
    expect(metric(result, 'h2-idle-timeout', 'goawayDebug')).toBe('max_idle');
    expect(metric(result, 'h2-request-cap', 'maxRequests')).toBe(DEMO_PROFILE.maxRequests);
    expect(metric(result, 'h2-request-cap', 'signalled')).toBe(true);
    // Scenarios run concurrently (short-connections 300 ms behind, waiting for the idle
    // closes of the connections it abandons): the run takes about as long as the slowest one.
    const slowest = Math.max(...result.scenarios.map((s) => s.durationMs));
    const sum = result.scenarios.reduce((n, s) => n + s.durationMs, 0);
    expect(result.durationMs).toBeLessThan(slowest + 1000);
    expect(result.durationMs).toBeLessThan(sum); // run one after another, it would take at least the sum
  });
});

describe('--idle-timeout', () => {
  for (const idle of [700, 1500]) {
    it(`measures an idle timeout of ${idle} ms`, async () => {
      const url = await lab({ idleTimeoutMs: idle });
      const result = await probe(url, ['idle-timeout']);
      expectIdleNear(metric(result, 'idle-timeout', 'idleTimeoutMs'), idle);
      expect(metric(result, 'idle-timeout', 'closeKind')).toBe('fin');
      expect(
        scenario(result, 'idle-timeout')
          .findings.map((f) => f.text)
          .join('\n'),
      ).toMatch(/server closed the idle connection \(FIN\)/);
    });
  }

  it('says there was no close within --max-idle instead of inventing a timeout, having waited it out once', async () => {
    const url = await lab({ idleTimeoutMs: 0 });
    const maxIdleMs = 1200;
    const result = await probe(url, ['idle-timeout'], { maxIdleMs });
    expect(metric(result, 'idle-timeout', 'idleTimeoutMs')).toBeNull();
    // Both request forms idle from the start, each for --max-idle: the waits overlap (one after
    // the other they took 2 × --max-idle, 3 min for a server idling past the default 90 s).
    expect(scenario(result, 'idle-timeout').durationMs).toBeGreaterThanOrEqual(maxIdleMs);
    expect(scenario(result, 'idle-timeout').durationMs).toBeLessThan(2 * maxIdleMs);
    expect(
      scenario(result, 'idle-timeout')
        .findings.map((f) => f.text)
        .join('\n'),
    ).toContain('did not close the idle connection within 1.2 s');
  });
});

describe('--close', () => {
  it('rst: the idle close is reported as a reset and leaves no TIME_WAIT', async () => {
    const url = await lab({ idleTimeoutMs: 600, close: 'rst' });
    const result = await probe(url, ['idle-timeout', 'connection-close']);
    expect(metric(result, 'idle-timeout', 'closeKind')).toBe('rst');
    expectIdleNear(metric(result, 'idle-timeout', 'idleTimeoutMs'), 600);
    expect(metric(result, 'connection-close', 'closeKind')).toBe('rst');
    expect(metric(result, 'connection-close', 'timeWaitSide')).toBe('none');
  });

  it('fin: the server closes first and holds TIME_WAIT (read from /proc/net/tcp on Linux)', async () => {
    const url = await lab({ close: 'fin' });
    const result = await probe(url, ['connection-close']);
    expect(metric(result, 'connection-close', 'closeKind')).toBe('fin');
    expect(metric(result, 'connection-close', 'timeWaitSide')).toBe('server');
    const record = scenario(result, 'connection-close').connections[0];
    expect(record?.timeWait.source).toBe(process.platform === 'linux' ? 'proc-net-tcp' : 'inferred');
  });
});

describe('--max-requests and --no-announce-last', () => {
  it('counts the cap exactly and sees the announcement', async () => {
    const url = await lab({ maxRequests: 7, announceLast: true });
    const result = await probe(url, ['request-cap']);
    expect(metric(result, 'request-cap', 'maxRequests')).toBe(7);
    expect(metric(result, 'request-cap', 'signalled')).toBe(true);
    expect(scenario(result, 'request-cap').status).toBe('pass');
  });

  it('a silent close at the cap is a warning', async () => {
    const url = await lab({ maxRequests: 3, announceLast: false });
    const result = await probe(url, ['request-cap']);
    expect(metric(result, 'request-cap', 'maxRequests')).toBe(3);
    expect(metric(result, 'request-cap', 'signalled')).toBe(false);
    expect(scenario(result, 'request-cap').status).toBe('warn');
  });

  it('no cap: reports none found within --max-requests', async () => {
    const url = await lab({ maxRequests: 0 });
    const result = await probe(url, ['request-cap'], { maxRequests: 25 });
    expect(metric(result, 'request-cap', 'maxRequests')).toBeNull();
    expect(
      scenario(result, 'request-cap')
        .findings.map((f) => f.text)
        .join('\n'),
    ).toContain('answered 25 requests on one connection without closing it');
  });
});

describe('--http10 and --advertise', () => {
  it('keep-alive: HTTP/1.0 with Connection: keep-alive is honoured', async () => {
    const url = await lab({ http10: 'keep-alive' });
    const result = await probe(url, ['http10-keepalive']);
    expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(true);
    expect(metric(result, 'http10-keepalive', 'plainClosedBy')).toBe('server');
    expect(scenario(result, 'http10-keepalive').status).toBe('pass');
  });

  it('close: HTTP/1.0 keep-alive is refused', async () => {
    const url = await lab({ http10: 'close' });
    const result = await probe(url, ['http10-keepalive']);
    expect(metric(result, 'http10-keepalive', 'keepAliveHonoured')).toBe(false);
  });

  it('the Keep-Alive header is reported only when advertised', async () => {
    const plain = await probe(await lab({ advertise: false, idleTimeoutMs: 1000 }), ['idle-timeout']);
    expect(metric(plain, 'idle-timeout', 'advertisedTimeoutS')).toBeNull();
    const advertised = await probe(await lab({ advertise: true, idleTimeoutMs: 3000, maxRequests: 9 }), ['idle-timeout', 'request-cap']);
    expect(metric(advertised, 'idle-timeout', 'advertisedTimeoutS')).toBe(3);
    expect(metric(advertised, 'request-cap', 'advertisedMax')).toBe(8);
  });
});

describe('timeout-mismatch', () => {
  it('a client idling past a FIN-closing server gets no response on its next request', async () => {
    const url = await lab({ idleTimeoutMs: 500, close: 'fin' });
    const result = await probe(url, ['timeout-mismatch']);
    expect(metric(result, 'timeout-mismatch', 'outcome')).toBe('premature-close');
    expect(metric(result, 'timeout-mismatch', 'clientIdleMs') as number).toBeGreaterThanOrEqual(500 + 200 - EARLY_MS);
    expectIdleNear(metric(result, 'timeout-mismatch', 'serverIdleTimeoutMs'), 500);
    expect(scenario(result, 'timeout-mismatch').status).toBe('warn');
    // The lab closed the socket fully: the late request drew an RST, which Node does not
    // report after end of stream; the probe reads it off /proc/net/tcp (Linux).
    if (process.platform === 'linux') {
      const conn = scenario(result, 'timeout-mismatch').connections[0];
      expect(conn?.events.some((e) => e.kind === 'error' && e.code === 'ECONNRESET')).toBe(true);
      expect(conn?.timeWait.side).toBe('none');
    }
  });

  it('a server without an idle timeout keeps the client working', async () => {
    const url = await lab({ idleTimeoutMs: 0 });
    const result = await probe(url, ['timeout-mismatch'], { maxIdleMs: 800 });
    expect(metric(result, 'timeout-mismatch', 'outcome')).toBe('ok');
    expect(scenario(result, 'timeout-mismatch').status).toBe('pass');
  });
});

describe('robustness', () => {
  it('a client reset in the middle of a request does not bring the lab down', async () => {
    const url = await lab({});
    const { port } = new URL(url);
    for (let i = 0; i < 5; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // half a request head
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.resetAndDestroy();
    }
    const result = await probe(url, ['http11-reuse']);
    expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
  });
});
