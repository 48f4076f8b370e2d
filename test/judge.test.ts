import { describe, expect, it } from 'vitest';
import type { ExpectationResult, MeasuredRun, MetricValue, ProbeErrorInfo, ScenarioMeasurement } from '../src/model/result.js';
import { resolveGates } from '../src/plan/gates.js';
import { loadBuiltinScenarios } from '../src/plan/loadBuiltins.js';
import { judge } from '../src/verdict/judge.js';
import { statusOf } from '../src/verdict/status.js';

/** verdict/: every expectation first, then one status per scenario; measurements in, a RunResult out. */
const expectation = (ok: boolean, severity: 'warn' | 'fail'): ExpectationResult => ({
  expression: 'x',
  metric: 'x',
  origin: 'scenario',
  severity,
  ok,
  measured: null,
  message: 'x',
});
const refused: ProbeErrorInfo = {
  code: 'connect-refused',
  message: 'connection refused by 127.0.0.1:9',
  errno: 'ECONNREFUSED',
  syscall: 'connect',
  hint: null,
};

function measurement(id: string, metrics: Record<string, MetricValue>, error: ProbeErrorInfo | null = null): ScenarioMeasurement {
  return {
    id,
    title: id,
    source: `${id}.yaml`,
    protocol: 'http/1.1',
    headline: null,
    startedAtMs: 0,
    durationMs: 10,
    metrics,
    errorMs: {},
    findings: [],
    error,
    connections: [],
    race: null,
  };
}

function run(url: string, scenarios: ScenarioMeasurement[], error: ProbeErrorInfo | null = null): MeasuredRun {
  return {
    target: {
      url,
      host: '127.0.0.1',
      port: 80,
      connectAddress: null,
      tls: false,
      server: null,
      lab: null,
      local: true,
      protocols: ['http/1.1'],
      h2Refusal: null,
    },
    startedAt: '2026-12-01T00:00:00.000Z',
    durationMs: 100,
    loopDelayMaxMs: 1,
    interrupted: false,
    interruptedBy: null,
    evidence: { socketTable: 'proc-net-tcp' },
    error,
    options: {
      protocol: 'auto',
      maxIdleMs: 5000,
      maxRequests: 50,
      connectTimeoutMs: 1000,
      firstByteTimeoutMs: 1000,
      headersTimeoutMs: 1000,
      bodyTimeoutMs: 1000,
      scenarioTimeoutMs: 9000,
    },
    scenarios,
  };
}

describe('statusOf', () => {
  it('error over fail over warn over pass', () => {
    expect(statusOf(refused, [expectation(false, 'fail')])).toBe('error');
    expect(statusOf(null, [expectation(false, 'warn'), expectation(false, 'fail')])).toBe('fail');
    expect(statusOf(null, [expectation(true, 'fail'), expectation(false, 'warn')])).toBe('warn');
    expect(statusOf(null, [expectation(true, 'fail')])).toBe('pass');
  });
});

describe('judge', async () => {
  const builtins = await loadBuiltinScenarios();
  const rules = { scenarios: builtins, gates: [], hops: [], client: null, host: { ephemeralPorts: 28232 } };

  it("a scenario's own expectations, then the gates, decide its status once; advice and client verdicts come with it", () => {
    const gates = resolveGates(['idle-timeout>=3s'], [], builtins, 5000);
    const measured = run('http://127.0.0.1:80/', [
      measurement('idle-timeout', { idleTimeoutMs: 2000.3, closeKind: 'fin', advertisedTimeoutS: 2, timeWaitSide: 'server' }),
    ]);
    const { result, unprobed } = judge([measured], { ...rules, gates });
    const s = result.scenarios[0];
    expect(unprobed).toBeNull();
    expect(s?.expectations.map((e) => [e.origin, e.ok])).toEqual([
      ['scenario', true],
      ['cli', false],
    ]);
    expect(s?.status).toBe('fail');
    expect(s?.advice.some((a) => a.includes('2 s'))).toBe(true);
    expect(result.clients.length).toBeGreaterThan(5);
    expect(Object.keys(s ?? {})).toEqual([
      'id',
      'title',
      'source',
      'protocol',
      'headline',
      'status',
      'startedAtMs',
      'durationMs',
      'metrics',
      'errorMs',
      'findings',
      'expectations',
      'advice',
      'error',
      'connections',
      'race',
    ]);
  });

  it('a scenario that could not run is an error with no expectations and no advice', () => {
    const { result } = judge(
      [run('http://127.0.0.1:80/', [measurement('idle-timeout', { idleTimeoutMs: null }, { ...refused, code: 'scenario-timeout' })])],
      rules,
    );
    expect(result.scenarios[0]).toMatchObject({ status: 'error', expectations: [], advice: [] });
  });

  it('hops: ids prefixed, the hop rule on the inner idle-timeout, the first hop is the target', () => {
    const hops = [
      { name: 'lb', url: 'http://127.0.0.1:81/' },
      { name: 'app', url: 'http://127.0.0.1:82/' },
    ];
    const runs = [
      run(hops[0]!.url, [measurement('idle-timeout', { idleTimeoutMs: 3000, closeKind: 'fin' })]),
      run(hops[1]!.url, [measurement('idle-timeout', { idleTimeoutMs: 1000, closeKind: 'fin' })]),
    ];
    const { result } = judge(runs, { ...rules, hops });
    expect(result.scenarios.map((s) => [s.id, s.status])).toEqual([
      ['lb/idle-timeout', 'pass'],
      ['app/idle-timeout', 'warn'], // the backend closes with a FIN: only the race (verdict/hops.ts)
    ]);
    expect(result.scenarios[1]?.expectations.at(-1)?.expression).toBe('app.idle-timeout > lb.idle-timeout');
    expect(result.hops.map((h) => h.idleTimeoutMs)).toEqual([3000, 1000]);
    expect(result.target.url).toBe(hops[0]!.url);
  });

  it('a hop that cannot be probed: the error names it, no scenarios or clients, and the failed target is returned for the error line', () => {
    const hops = [
      { name: 'lb', url: 'http://127.0.0.1:81/' },
      { name: 'app', url: 'http://127.0.0.1:9/' },
    ];
    const runs = [
      run(hops[0]!.url, [measurement('idle-timeout', { idleTimeoutMs: null }, { ...refused, code: 'interrupted' })]),
      run(hops[1]!.url, [], refused),
    ];
    const { result, unprobed } = judge(runs, { ...rules, hops });
    expect(result.error?.message).toBe(`hop app: ${refused.message}`);
    expect(result.scenarios).toEqual([]);
    expect(result.clients).toEqual([]);
    expect(unprobed).toEqual({ hop: 'app', url: hops[1]!.url, error: refused });
  });
});
