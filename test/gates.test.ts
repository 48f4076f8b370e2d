import { describe, expect, it } from 'vitest';
import { useLab } from './support/lab.js';
import { runCli } from './support/cli.js';

/** --expect and --behind, as a CI job uses them: exit codes and what the report says. */
const lab = useLab();

interface Report {
  scenarios: {
    id: string;
    status: string;
    expectations: { expression: string; metric: string; origin: string; ok: boolean; measured: unknown; message: string }[];
  }[];
}

describe('--expect', () => {
  it('a failed gate fails its scenario and the run (exit 1), showing expected versus measured', async () => {
    const { url } = await lab({ idleTimeoutMs: 500 });
    const { code, stdout } = await runCli(['run', url, '-s', 'idle-timeout', '--expect', 'idle-timeout>=60s', '--json']);
    expect(code).toBe(1);
    const s = (JSON.parse(stdout) as Report).scenarios[0];
    expect(s?.status).toBe('fail');
    const gate = s?.expectations.find((e) => e.origin === 'cli');
    expect(gate).toMatchObject({ expression: 'idle-timeout>=60s', metric: 'idleTimeoutMs', ok: false });
    expect(gate?.measured as number).toBeGreaterThanOrEqual(480);

    const terminal = await runCli(['run', url, '-s', 'idle-timeout', '--expect', 'idle-timeout>=60s', '--color', 'never']);
    expect(terminal.code).toBe(1);
    expect(terminal.stdout).toMatch(/✗ --expect idle-timeout>=60s \(expected idle-timeout>=60s, measured (4[89]\d|[5-8]\d\d) ms\)/);
  });

  it('gates that hold pass (exit 0): aliases and scenario.metric forms', async () => {
    const { url } = await lab({ idleTimeoutMs: 500, maxRequests: 4, http10: 'keep-alive' });
    const { code, stdout } = await runCli([
      'run',
      url,
      '--json',
      '--max-idle',
      '3s',
      '-e',
      'idle-timeout>=300ms',
      '-e',
      'max-requests=4',
      '-e',
      'reuse',
      '-e',
      'http10-keepalive',
      '-e',
      'close-kind=fin',
      '-e',
      'request-cap.signalled=true',
      '-e',
      'timeout-mismatch.outcome!=ok',
      '-e',
      'server-close=full',
      '-e',
      'race-window<100ms',
      '-e',
      'safe-client-idle<300ms',
    ]);
    expect(code).toBe(0);
    const gates = (JSON.parse(stdout) as Report).scenarios.flatMap((s) => s.expectations.filter((e) => e.origin === 'cli'));
    expect(gates).toHaveLength(10);
    expect(gates.every((g) => g.ok)).toBe(true);
  });

  it('a gate over a metric the run does not measure is a usage error naming it (exit 2)', async () => {
    const { url } = await lab({});
    const missingScenario = await runCli(['run', url, '-s', 'http11-reuse', '--expect', 'max-requests>=100']);
    expect(missingScenario.code).toBe(2);
    expect(missingScenario.stderr).toContain('needs scenario "request-cap", which this run does not include');
    const missingMetric = await runCli(['run', url, '--expect', 'idle-timeout.speed>1']);
    expect(missingMetric.code).toBe(2);
    expect(missingMetric.stderr).toContain('scenario "idle-timeout" has no metric "speed"');
    const unknown = await runCli(['run', url, '--expect', 'latency<5ms']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown metric "latency"');
  });
});

describe('--behind', () => {
  it('aws-alb: a backend that idles out before the load balancer fails, citing the source', async () => {
    const { url } = await lab({ idleTimeoutMs: 800 });
    const { code, stdout } = await runCli(['run', url, '-s', 'idle-timeout', '--behind', 'aws-alb', '--color', 'never']);
    expect(code).toBe(1);
    expect(stdout).toContain('✗ --behind (AWS ALB idle timeout defaults to 60 s');
  });

  it('a --max-idle too short to check the preset is a usage error', async () => {
    const { code, stderr } = await runCli(['run', '--behind', 'aws-alb', '--max-idle', '30s']);
    expect(code).toBe(2);
    expect(stderr).toContain('checks an idle timeout above 1 min: raise --max-idle above that (it is 30 s)');
  });
});
