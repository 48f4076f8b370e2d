import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/model/result.js';
import { runCli } from '../support/cli.js';
import { useLab } from '../support/lab.js';
import { serverBinary } from '../support/realServer.js';
import { startHaproxy } from './support-haproxy-tomcat.js';
import type { StartedServer } from './support-haproxy-tomcat.js';
import { PROBE_LAG_MS } from '../support/timing.js';

/**
 * `run --hop lb=… --hop app=…` with HAProxy 2.6 as the load balancer and the lab server as
 * its backend: each hop is probed, and the rule that the backend keeps idle connections open
 * longer than the balancer in front of it is checked, naming the pair that breaks it.
 * HAProxy's client-side idle timeout is `timeout http-keep-alive` (its card in docs/servers.md).
 */
const bin = serverBinary('haproxy', ['/usr/sbin/haproxy'], 'apt-get install haproxy');
const lab = useLab();
const started: StartedServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function hops(
  lbKeepAliveMs: number,
  backendIdleMs: number,
  close: 'fin' | 'drop' = 'fin',
  scenarios: readonly string[] = ['idle-timeout'],
): Promise<{ code: number | null; result: RunResult }> {
  const backend = await lab({ idleTimeoutMs: backendIdleMs, maxRequests: 0, close });
  const haproxy = await startHaproxy(bin ?? 'haproxy', {
    defaults: ['timeout connect 2s', 'timeout server 20s', 'timeout client 20s', `timeout http-keep-alive ${lbKeepAliveMs}ms`],
    backendPort: backend.port,
  });
  started.push(haproxy);
  const selected = scenarios.flatMap((s) => ['-s', s]);
  const run = await runCli(['run', '--hop', `lb=${haproxy.url}`, '--hop', `app=${backend.url}`, ...selected, '--max-idle', '6s', '--json', '-q'], {
    timeoutMs: 30_000,
  });
  return { code: run.code, result: JSON.parse(run.stdout) as RunResult };
}

describe.skipIf(bin === null)('--hop: HAProxy in front of the lab server', () => {
  it('a backend that idles out before the balancer with a FIN breaks the rule, graded as a race: warn, exit 0, the pair named', async () => {
    const { code, result } = await hops(2500, 1000);
    expect(code).toBe(0);
    expect(result.hops.map((h) => h.name)).toEqual(['lb', 'app']);
    // Each hop measured on its own: HAProxy's 2.5 s (not the backend's 1 s), and the backend's 1 s.
    expect(result.hops[0]?.idleTimeoutMs).toBeGreaterThan(2250);
    expect(result.hops[0]?.idleTimeoutMs).toBeLessThan(2750);
    expect(result.hops[1]?.idleTimeoutMs).toBeGreaterThan(1000 - PROBE_LAG_MS);
    expect(result.hops[1]?.idleTimeoutMs).toBeLessThan(1250);
    const app = result.scenarios.find((s) => s.id === 'app/idle-timeout');
    expect(app?.status).toBe('warn');
    const rule = app?.expectations.find((e) => e.expression === 'app.idle-timeout > lb.idle-timeout');
    expect(rule?.ok).toBe(false);
    expect(rule?.severity).toBe('warn');
    expect(rule?.message).toMatch(
      /^"app" \(idle timeout (9\d\d ms|1(\.\d+)? s)\) closes idle connections before "lb" in front of it \(idle timeout 2\.\d+ s\)/,
    );
    expect(rule?.message).toContain('which a front hop that watches idle connections notices: only requests "lb" sends while the close is in flight fail');
    expect(result.scenarios.find((s) => s.id === 'lb/idle-timeout')?.status).toBe('pass');
  }, 40_000);

  it('a backend that drops idle connections silently fails the rule: every reuse after the drop fails, exit 1', async () => {
    const { code, result } = await hops(2500, 1000, 'drop', ['idle-timeout', 'timeout-mismatch']);
    expect(code).toBe(1);
    const rule = result.scenarios.find((s) => s.id === 'app/idle-timeout')?.expectations.find((e) => e.expression === 'app.idle-timeout > lb.idle-timeout');
    expect(rule?.ok).toBe(false);
    expect(rule?.severity).toBe('fail');
    expect(rule?.message).toContain('"app" drops idle connections silently (no FIN or RST), so "lb" cannot notice');
  }, 40_000);

  it('a backend that idles longer than the balancer keeps it: exit 0', async () => {
    const { code, result } = await hops(1000, 2500);
    expect(code).toBe(0);
    // Both measured (a hop with no idle close would pass the rule too): HAProxy's 1 s, the backend's 2.5 s.
    expect(result.hops[0]?.idleTimeoutMs).toBeGreaterThan(1000 - PROBE_LAG_MS);
    expect(result.hops[0]?.idleTimeoutMs).toBeLessThan(1250);
    expect(result.hops[1]?.idleTimeoutMs).toBeGreaterThan(2500 - PROBE_LAG_MS);
    expect(result.hops[1]?.idleTimeoutMs).toBeLessThan(2750);
    const rule = result.scenarios.find((s) => s.id === 'app/idle-timeout')?.expectations.find((e) => e.expression === 'app.idle-timeout > lb.idle-timeout');
    expect(rule?.ok).toBe(true);
  }, 40_000);
});

describe('--hop failures', () => {
  it('a hop that cannot be probed stops the others: one error line naming the hop, exit 3, at once; the report lists the hops and names it', async () => {
    const front = await lab({ idleTimeoutMs: 20_000 });
    const started = performance.now();
    const { code, stdout, stderr } = await runCli(['run', '--hop', `lb=${front.url}`, '--hop', 'app=http://127.0.0.1:1/', '-s', 'idle-timeout', '--json']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/^keepalive-probe: cannot probe hop app http:\/\/127\.0\.0\.1:1\/: .*\[connect-refused\]\n$/);
    expect(performance.now() - started).toBeLessThan(15_000); // not lb's 20 s idle wait
    const report = JSON.parse(stdout) as RunResult;
    expect(report.hops.map((h) => [h.name, h.url])).toEqual([
      ['lb', front.url],
      ['app', 'http://127.0.0.1:1/'],
    ]);
    expect(report.target.url).toBe(front.url);
    expect(report.error).toMatchObject({ code: 'connect-refused', message: expect.stringMatching(/^hop app: connection refused/) as unknown });
    // lb's scenarios were stopped because app failed, not by the user: left out, not "interrupted".
    expect(report).toMatchObject({ scenarios: [], clients: [], interrupted: false });
  });
});

describe('--hop usage', () => {
  it('one hop, a bad name, or a URL beside --hop are usage errors (exit 2)', async () => {
    for (const args of [
      ['--hop', 'lb=http://127.0.0.1:9/'],
      ['--hop', 'l b=http://x/', '--hop', 'a=http://y/'],
      ['http://127.0.0.1:9/', '--hop', 'a=http://x/', '--hop', 'b=http://y/'],
    ]) {
      const { code, stderr } = await runCli(['run', ...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });
});
