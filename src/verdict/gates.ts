import { METRICS } from '../model/metrics.js';
import type { ExpectationResult, MetricValue, ScenarioMeasurement } from '../model/result.js';
import type { Gate } from '../plan/gates.js';
import { formatDuration } from '../util/duration.js';
import { holds } from './expectations.js';

/** The command-line gates (`--expect`, `--behind`) on one scenario, checked against what it measured. */
export function gateExpectations(gates: readonly Gate[], s: ScenarioMeasurement, maxIdleMs: number): ExpectationResult[] {
  return gates.filter((g) => g.scenario === s.id).map((g) => check(g, s, maxIdleMs));
}

function check(gate: Gate, s: ScenarioMeasurement, maxIdleMs: number): ExpectationResult {
  const measured: MetricValue = s.metrics[gate.metric] ?? null;
  let ok = holds(gate.expectation, measured);
  let note = '';
  // No idle close within --max-idle means "longer than --max-idle": enough for a lower bound below it.
  if (measured === null && gate.metric === METRICS.idleTimeout.name && probeOutwaitedServer(s)) {
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
function probeOutwaitedServer(s: ScenarioMeasurement): boolean {
  const last = s.connections.at(-1);
  return last !== undefined && last.end.kind === 'client-close';
}
