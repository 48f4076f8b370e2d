import type { ExpectationResult, MetricValue, RunResult, ScenarioResult, ScenarioStatus } from '../model/result.js';
import { formatDuration } from '../util/duration.js';
import { ExpectationSyntaxError, holds, parseExpectation } from './expectation.js';
import type { Expectation } from './expectation.js';
import type { Scenario } from './model.js';

/**
 * Expectations given on the command line (`--expect`, `--behind`): CI gates over the
 * metrics of the run, such as `idle-timeout>=60s` or `timeout-mismatch.outcome=ok`. A
 * failed gate makes its scenario `fail` (exit code 1). See docs/expectations.md.
 */
export interface Gate {
  /** As the user wrote it. */
  readonly text: string;
  readonly scenario: string;
  readonly metric: string;
  readonly expectation: Expectation;
  /** Where a preset's threshold comes from, shown in the report. */
  readonly source: string | null;
}

/** A gate that cannot be checked by this run: names what is missing. */
export class GateError extends Error {}

/** Short names for the metrics people gate on most. */
export const ALIASES: Readonly<Record<string, readonly [string, string]>> = {
  'idle-timeout': ['idle-timeout', 'idleTimeoutMs'],
  'advertised-timeout': ['idle-timeout', 'advertisedTimeoutS'],
  'close-kind': ['idle-timeout', 'closeKind'],
  'max-requests': ['request-cap', 'maxRequests'],
  signalled: ['request-cap', 'signalled'],
  reuse: ['http11-reuse', 'reused'],
  'http10-keepalive': ['http10-keepalive', 'keepAliveHonoured'],
  'time-wait-side': ['connection-close', 'timeWaitSide'],
  outcome: ['timeout-mismatch', 'outcome'],
  'server-close': ['timeout-mismatch', 'serverClose'],
  'race-window': ['stale-race', 'failureWindowMs'],
  'safe-client-idle': ['stale-race', 'safeClientIdleMs'],
};

/** `--behind` presets: the hop in front of the server and the rule it imposes. */
export const PRESETS: Readonly<Record<string, { readonly expect: string; readonly source: string }>> = {
  'aws-alb': {
    expect: 'idle-timeout>60s',
    source: 'AWS ALB idle timeout defaults to 60 s; AWS asks for an application idle timeout larger than it (docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html)',
  },
  'nginx-upstream': {
    expect: 'idle-timeout>60s',
    source: 'nginx upstream keepalive_timeout defaults to 60 s (src/http/modules/ngx_http_upstream_keepalive_module.c, ngx_conf_init_msec_value(kcf->timeout, 60000))',
  },
};

/** Resolves `--expect` texts and `--behind` presets against the scenarios this run will execute. */
export function resolveGates(expects: readonly string[], behind: readonly string[], scenarios: readonly Scenario[], maxIdleMs: number): Gate[] {
  const gates = expects.map((text) => resolve(text, null, scenarios));
  for (const name of behind) {
    const preset = PRESETS[name];
    if (preset === undefined) throw new GateError(`unknown --behind "${name}": one of ${Object.keys(PRESETS).join(', ')}`);
    const gate = resolve(preset.expect, preset.source, scenarios);
    const threshold = gate.expectation.value;
    if (typeof threshold === 'number' && maxIdleMs <= threshold) {
      throw new GateError(`--behind ${name} checks an idle timeout above ${formatDuration(threshold)}: raise --max-idle above that (it is ${formatDuration(maxIdleMs)})`);
    }
    gates.push(gate);
  }
  return gates;
}

function resolve(text: string, source: string | null, scenarios: readonly Scenario[]): Gate {
  let expectation: Expectation;
  try {
    expectation = parseExpectation(text);
  } catch (err) {
    if (err instanceof ExpectationSyntaxError) throw new GateError(`--expect: ${err.message}`);
    throw err;
  }
  const [scenarioId, metric] = target(expectation.metric);
  const scenario = scenarios.find((s) => s.id === scenarioId);
  if (scenario === undefined) {
    throw new GateError(`--expect ${text}: needs scenario "${scenarioId}", which this run does not include (add --scenario ${scenarioId})`);
  }
  if (!(metric in scenario.metrics)) {
    throw new GateError(`--expect ${text}: scenario "${scenarioId}" has no metric "${metric}" (metrics: ${Object.keys(scenario.metrics).join(', ')})`);
  }
  return { text, scenario: scenarioId, metric, expectation, source };
}

/** `idle-timeout`, `request-cap.maxRequests` or `request-cap.max-requests` → [scenario, metric]. */
function target(name: string): [string, string] {
  const alias = ALIASES[name];
  if (alias !== undefined) return [alias[0], alias[1]];
  const dot = name.indexOf('.');
  if (dot === -1) {
    throw new GateError(`--expect: unknown metric "${name}": write <scenario>.<metric> (for example timeout-mismatch.outcome) or one of ${Object.keys(ALIASES).join(', ')}`);
  }
  const metric = name.slice(dot + 1).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return [name.slice(0, dot), metric];
}

/** The run with each gate checked and its scenario's status updated (pure). */
export function applyGates(result: RunResult, gates: readonly Gate[]): RunResult {
  if (gates.length === 0) return result;
  const scenarios = result.scenarios.map((s) => {
    const mine = gates.filter((g) => g.scenario === s.id);
    if (mine.length === 0 || s.error !== null) return s;
    const checked = mine.map((g) => check(g, s, result.options.maxIdleMs));
    const expectations = [...s.expectations, ...checked];
    return { ...s, expectations, status: statusOf(s.status, checked) };
  });
  return { ...result, scenarios };
}

function check(gate: Gate, s: ScenarioResult, maxIdleMs: number): ExpectationResult {
  const measured: MetricValue = s.metrics[gate.metric] ?? null;
  let ok = holds(gate.expectation, measured);
  let note = '';
  // No idle close within --max-idle means "longer than --max-idle": enough for a lower bound below it.
  if (measured === null && gate.metric === 'idleTimeoutMs' && probeOutwaitedServer(s)) {
    const bound = gate.expectation.value;
    const { op } = gate.expectation;
    ok = typeof bound === 'number' && (op === '>' || op === '>=') && maxIdleMs > bound;
    note = ` (no idle close within ${formatDuration(maxIdleMs)}, --max-idle)`;
  }
  return {
    expression: gate.text,
    metric: gate.metric,
    origin: 'cli',
    severity: 'fail',
    ok,
    measured,
    message: `${gate.source === null ? '--expect' : `--behind (${gate.source})`} ${gate.text}${note}`,
  };
}

/** The probe, not the server, ended the idle connection: the server waited at least that long. */
function probeOutwaitedServer(s: ScenarioResult): boolean {
  const last = s.connections.at(-1);
  return last !== undefined && last.end.kind === 'client-close';
}

function statusOf(current: ScenarioStatus, checked: readonly ExpectationResult[]): ScenarioStatus {
  if (checked.some((e) => !e.ok)) return 'fail';
  return current;
}
