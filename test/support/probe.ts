import { runProbe } from '../../src/measures/runProbe.js';
import { judge } from '../../src/verdict/judge.js';
import { readHostFacts } from '../../src/wire/hostFacts.js';
import { runCli } from './cli.js';
import { parseTarget } from '../../src/plan/target.js';
import type { MetricValue, ProtocolChoice, RunResult, ScenarioResult, TimekeeperChoice } from '../../src/model/result.js';
import { loadBuiltinScenarios } from '../../src/plan/loadBuiltins.js';
import type { Scenario } from '../../src/plan/scenario.js';
import type { Compaction } from '../../src/wire/eventLog.js';
import type { Clock } from '../../src/wire/clock.js';
import { ProbeConnection } from '../../src/wire/connection.js';
import type { RequestSpec } from '../../src/http/request.js';
import { openSocketTable } from '../../src/wire/socketTable.js';
import type { Timekeeper } from '../../src/wire/timekeeper.js';

/** Bounds small enough for tests; each test states the ones it depends on. */
export interface ProbeBounds {
  readonly maxIdleMs?: number;
  readonly maxRequests?: number;
  readonly firstByteMs?: number;
  /** --body-timeout (CLI runs only). */
  readonly bodyMs?: number;
  readonly insecure?: boolean;
  readonly scenarioTimeoutMs?: number;
  /** --protocol (auto when absent). */
  readonly protocol?: ProtocolChoice;
  /** How many exchanges each connection's events keep in full at each end (no flag; null keeps every event; the default when absent). */
  readonly compaction?: Compaction | null;
  /** --timekeeper (auto when absent). */
  readonly timekeeper?: TimekeeperChoice;
}

/** Probes `url` with the named built-in scenarios (all when empty) as the CLI does: measure, then judge. */
export async function probe(url: string, ids: readonly string[] = [], bounds: ProbeBounds = {}, extra: readonly Scenario[] = []): Promise<RunResult> {
  const builtins = await loadBuiltinScenarios();
  const scenarios = [...(ids.length === 0 ? builtins : builtins.filter((s) => ids.includes(s.id))), ...extra];
  const maxIdleMs = bounds.maxIdleMs ?? 5000;
  const measured = await runProbe(scenarios, {
    target: parseTarget(url),
    insecure: bounds.insecure ?? false,
    ca: null,
    connectTimeoutMs: 3000,
    firstByteTimeoutMs: bounds.firstByteMs ?? 3000,
    headersTimeoutMs: 4000,
    bodyTimeoutMs: 4000,
    maxIdleMs,
    maxRequests: bounds.maxRequests ?? 50,
    scenarioTimeoutMs: bounds.scenarioTimeoutMs ?? maxIdleMs + 20_000,
    method: 'GET',
    headers: [],
    userAgent: 'keepalive-probe-test',
    lab: null,
    protocol: bounds.protocol ?? 'auto',
    ...(bounds.compaction === undefined ? {} : { compaction: bounds.compaction }),
    ...(bounds.timekeeper === undefined ? {} : { timekeeper: bounds.timekeeper }),
  });
  return judge([measured], { scenarios, gates: [], hops: [], client: null, host: readHostFacts() }).result;
}

/** The scenario with this id; fails the test if it did not run. */
export function scenario(result: RunResult, id: string): ScenarioResult {
  const found = result.scenarios.find((s) => s.id === id);
  if (found === undefined) throw new Error(`scenario ${id} missing from the result`);
  return found;
}

/** One metric of one scenario. */
export function metric(result: RunResult, id: string, name: string): MetricValue | undefined {
  return scenario(result, id).metrics[name];
}

/** The same probe run as users run it: the built CLI with --json, its document parsed. */
export async function probeCli(url: string, ids: readonly string[] = [], bounds: ProbeBounds = {}): Promise<RunResult> {
  const maxIdleMs = bounds.maxIdleMs ?? 5000;
  const args = ['run', url, '--json', '--max-idle', `${maxIdleMs}ms`, '--max-requests', String(bounds.maxRequests ?? 50)];
  args.push('--response-timeout', `${bounds.firstByteMs ?? 3000}ms`, '--scenario-timeout', `${bounds.scenarioTimeoutMs ?? maxIdleMs + 20_000}ms`);
  for (const id of ids) args.push('--scenario', id);
  if (bounds.insecure === true) args.push('--insecure');
  if (bounds.protocol !== undefined) args.push('--protocol', bounds.protocol);
  if (bounds.bodyMs !== undefined) args.push('--body-timeout', `${bounds.bodyMs}ms`);
  if (bounds.timekeeper !== undefined) args.push('--timekeeper', bounds.timekeeper);
  const { code, stdout, stderr } = await runCli(args, { timeoutMs: maxIdleMs + 60_000 });
  // Every run through here must pass (warnings allowed): exit 1 is a failed expectation,
  // which no test of a real server expects; name what failed.
  if (code === 1) {
    const failed = (JSON.parse(stdout) as RunResult).scenarios.filter((s) => s.status === 'fail');
    throw new Error(
      `keepalive-probe exited 1: ${failed
        .map(
          (s) =>
            `${s.id}: ${s.expectations
              .filter((e) => !e.ok)
              .map((e) => e.message)
              .join('; ')}`,
        )
        .join(' | ')}`,
    );
  }
  if (code !== 0) throw new Error(`keepalive-probe exited ${String(code)}: ${stderr}`);
  return JSON.parse(stdout) as RunResult;
}

/** One probe connection to 127.0.0.1:`port` (no socket table), and the plain GET it sends there. */
export async function openLoopback(port: number, clock: Clock, timekeeper: Timekeeper | null = null): Promise<{ conn: ProbeConnection; get: RequestSpec }> {
  const table = await openSocketTable('none');
  const conn = await ProbeConnection.open(
    'main',
    { host: '127.0.0.1', serverName: '127.0.0.1', port, tls: false, insecure: false, ca: null, connectTimeoutMs: 2000, table, timekeeper },
    clock,
  );
  const get: RequestSpec = {
    method: 'GET',
    path: '/',
    version: '1.1',
    host: `127.0.0.1:${port}`,
    connection: null,
    headers: [],
    userAgent: 'keepalive-probe-test',
  };
  return { conn, get };
}
