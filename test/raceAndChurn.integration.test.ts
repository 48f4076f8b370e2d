import { describe, expect, it } from 'vitest';
import { useDelayProxy } from './support/delayProxy.js';
import { useLab } from './support/lab.js';
import { probe, scenario } from './support/probe.js';
import { expectTimeWaitByCloser } from './support/shortConnections.js';
import { PROBE_LAG_MS } from './support/timing.js';

/** stale-race and short-connections against the lab server, over real sockets. */
const lab = useLab();
const delayProxy = useDelayProxy();

describe('stale-race', () => {
  it('requests well before T are answered, requests after the close arrived fail, and the window is reported from real idle times', async () => {
    const server = await lab({ idleTimeoutMs: 600, maxRequests: 0 });
    const s = scenario(await probe(server.url, ['stale-race'], { maxIdleMs: 3000 }), 'stale-race');
    expect(s.status).toBe('pass');
    const race = s.race;
    // Measured from the end of the response as the probe received it, after the lab armed its timer.
    expect(race?.idleTimeoutMs).toBeGreaterThanOrEqual(600 - PROBE_LAG_MS);
    expect(race?.trials).toHaveLength(30); // 15 offsets × 2
    const T = race?.idleTimeoutMs as number;
    for (const t of race?.trials ?? []) {
      // Timers fire late, never early (setTimeout works in whole ms): the real idle time is the planned one or more.
      expect(t.idleMs).toBeGreaterThanOrEqual(T + t.offsetMs - 2);
      if (t.idleMs <= T - 50) expect(t.outcome, `${t.connection} at ${t.idleMs} ms`).toBe('ok');
      if (t.closeSeenBeforeWrite) expect(['premature-close', 'ECONNRESET', 'EPIPE']).toContain(t.outcome);
    }
    expect(race?.trials.filter((t) => t.offsetMs >= 50).every((t) => t.outcome !== 'ok')).toBe(true);
    // The trials after T saw the close before writing: the check above is not vacuous.
    expect(race?.trials.some((t) => t.closeSeenBeforeWrite)).toBe(true);
    const window = s.metrics.failureWindowMs as number;
    expect(window).toBeGreaterThanOrEqual(0);
    expect(window).toBeLessThan(50);
    // The safe idle is T minus max(half of T, 2 × the window's upper bound) for T under 2 s.
    const upper = s.metrics.failureWindowUpperMs as number;
    expect(upper).toBeGreaterThanOrEqual(window);
    expect(s.metrics.safeClientIdleMs).toBe(Math.round(T - Math.max(T / 2, Math.ceil(2 * upper))));
    // The calibration (taken again on a new connection when its response was stamped late: calibrate~1, …) and the 30 trials.
    expect(s.connections.filter((c) => c.id.startsWith('race@'))).toHaveLength(30);
    expect(s.connections.filter((c) => !c.id.startsWith('race@')).every((c) => /^calibrate(~\d)?$/.test(c.id))).toBe(true);
  }, 20_000);

  it('the window grows with the round trip: through 40 ms each way, requests from T - 50 ms fail while the connection still looks open', async () => {
    // A request written at idle x reaches the server 2 × 40 ms after the response left it,
    // so it misses the server's T once x > T - 80 ms: offsets -50 ms and later fail, -100 ms
    // and earlier are answered; the earliest failing offset bounds the reported window.
    const ONE_WAY_MS = 40;
    const server = await lab({ idleTimeoutMs: 1000, maxRequests: 0 });
    const url = await delayProxy({ host: server.host, port: server.port }, ONE_WAY_MS);
    const s = scenario(await probe(url, ['stale-race'], { maxIdleMs: 3000 }), 'stale-race');
    const trials = s.race?.trials ?? [];
    expect(trials).toHaveLength(30);
    // Well clear of the round trip (a proxy timer running late only moves the boundary later).
    for (const t of trials.filter((x) => x.offsetMs <= -250)) expect(t.outcome, `${t.connection}`).toBe('ok');
    const inTime = trials.filter((x) => x.offsetMs >= -50 && !x.closeSeenBeforeWrite);
    expect(inTime.length).toBeGreaterThan(0);
    for (const t of inTime) expect(t.outcome, `${t.connection}`).not.toBe('ok');
    const window = s.metrics.failureWindowMs as number;
    expect(window).toBeGreaterThanOrEqual(45);
    // Failures begin between the window and its upper bound: the true 2 × 40 ms lies within.
    expect(window).toBeLessThanOrEqual(2 * ONE_WAY_MS + 30);
    expect(s.metrics.failureWindowUpperMs).toBeGreaterThanOrEqual(2 * ONE_WAY_MS);
  }, 20_000);

  it('with no idle close within --max-idle there is no T to race: no trials, null metrics', async () => {
    const server = await lab({ idleTimeoutMs: 0 });
    const s = scenario(await probe(server.url, ['stale-race'], { maxIdleMs: 800 }), 'stale-race');
    expect(s.race).toEqual({ idleTimeoutMs: null, trials: [], windowMs: null, windowUpperMs: null, safeIdleMs: null, errorMs: 0 });
    expect(s.metrics).toMatchObject({ idleTimeoutMs: null, failureWindowMs: null, safeClientIdleMs: null });
  });
});

describe('short-connections', () => {
  it('Connection: close from the client leaves TIME_WAIT on the server; a client-side close leaves it on the client; abandoned connections leave it on the server after its idle close (read from /proc/net/tcp)', async () => {
    const server = await lab({ idleTimeoutMs: 1000, maxRequests: 0 });
    const result = await probe(server.url, ['short-connections']);
    const s = scenario(result, 'short-connections');
    expect(s.status).toBe('pass');
    await expectTimeWaitByCloser(result, 1000);
    expect(server.accepted()).toBe(62); // 61 + the preflight
    expect(s.advice.join(' ')).toMatch(/This host's \d+ ephemeral ports/);
  });

  it('against a server that caps requests per connection, the kept-alive group stops at the cap', async () => {
    const server = await lab({ idleTimeoutMs: 1000, maxRequests: 5 });
    const s = scenario(await probe(server.url, ['short-connections']), 'short-connections');
    expect(s.metrics).toMatchObject({ keptConnections: 1, keptResponses: 5 });
  });
});
