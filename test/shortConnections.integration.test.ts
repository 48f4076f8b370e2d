import { describe, expect, it } from 'vitest';
import { useLab } from './support/lab.js';
import { metric, probe, scenario } from './support/probe.js';
import { timeWaitNow } from './support/shortConnections.js';
import { PROBE_LAG_MS } from './support/timing.js';

/**
 * short-connections against the lab over real loopback sockets: the three ways a client ends
 * up with one connection per request, and which side each leaves in TIME_WAIT (read from
 * /proc/net/tcp by the probe, and again by the test after the run).
 */
const startLab = useLab();
const COUNT = 20;

describe('short-connections: three client patterns', () => {
  it('Connection: close → server TIME_WAIT; client close → client TIME_WAIT; abandoned → the server closes at its idle timeout and holds TIME_WAIT', async () => {
    const idleMs = 800;
    const lab = await startLab({ idleTimeoutMs: idleMs, maxRequests: 100 });
    const result = await probe(lab.url, ['short-connections'], { maxIdleMs: 10_000 });
    const s = scenario(result, 'short-connections');
    expect(s.status).toBe('pass');
    expect(s.metrics).toMatchObject({
      clientSendsCloseConnections: COUNT,
      clientSendsCloseTimeWaitServer: COUNT,
      clientSendsCloseTimeWaitClient: 0,
      clientClosesConnections: COUNT,
      clientClosesTimeWaitServer: 0,
      clientClosesTimeWaitClient: COUNT,
      clientAbandonsConnections: COUNT,
      clientAbandonsTimeWaitServer: COUNT,
      clientAbandonsTimeWaitClient: 0,
      keptConnections: 1,
      keptResponses: COUNT,
    });
    for (const name of ['shortPerRequestMs', 'clientSendsClosePerRequestMs', 'clientAbandonsPerRequestMs', 'keptPerRequestMs']) {
      expect(typeof s.metrics[name], name).toBe('number');
    }
    // The lab's idle timer never fires early; the probe stamps the response a little late.
    const close = s.metrics.clientAbandonsIdleCloseMs as number;
    expect(close).toBeGreaterThanOrEqual(idleMs - PROBE_LAG_MS);
    expect(close).toBeLessThan(10_000);
    for (const c of s.connections.filter((c) => c.id.startsWith('client-abandons#'))) {
      expect(c.end).toMatchObject({ kind: 'server-idle-close', closedBy: 'server', signal: 'fin' });
    }
    // The abandoned connections' idle closes are awaited together: not 20 idle timeouts in turn.
    expect(s.durationMs).toBeLessThan(COUNT * idleMs);
    expect(s.findings.map((f) => f.text)).toContainEqual(expect.stringMatching(/^the server closed 20 of 20 idle connections \(client-abandons\) a median /));
    expect(s.advice.join('\n')).toMatch(
      /the server when the client abandons the idle connection \(a new pool per request\) and the server times it out \(\S+ (ms|s) after the response here\)/,
    );
    expect(await timeWaitNow(result, 'short-connections')).toEqual({
      'client-sends-close': { server: COUNT, client: 0, neither: 0 },
      'client-closes': { server: 0, client: COUNT, neither: 0 },
      'client-abandons': { server: COUNT, client: 0, neither: 0 },
      kept: { server: 0, client: 1, neither: 0 },
    });
  });

  it('a server with no idle timeout: abandoned connections stay open until --max-idle, then the probe closes them and says so', async () => {
    const lab = await startLab({ idleTimeoutMs: 0, maxRequests: 100 });
    const result = await probe(lab.url, ['short-connections'], { maxIdleMs: 1000 });
    const s = scenario(result, 'short-connections');
    expect(s.metrics).toMatchObject({
      clientAbandonsConnections: COUNT,
      clientAbandonsIdleCloseMs: null,
      clientAbandonsTimeWaitServer: 0,
      clientAbandonsTimeWaitClient: COUNT,
    });
    for (const c of s.connections.filter((c) => c.id.startsWith('client-abandons#'))) {
      expect(c.end).toMatchObject({ kind: 'client-close', closedBy: 'client' });
    }
    expect(s.findings.map((f) => f.text)).toContainEqual(
      'the server did not close 20 of 20 (client-abandons) within 1 s (--max-idle); the probe closed them at the end',
    );
    expect(s.advice).toContainEqual(expect.stringMatching(/^The server did not close idle connections a client abandoned within --max-idle/));
    expect(metric(result, 'short-connections', 'clientSendsCloseTimeWaitServer')).toBe(COUNT);
    expect(metric(result, 'short-connections', 'clientClosesTimeWaitClient')).toBe(COUNT);
  });
});
