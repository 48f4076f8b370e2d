import { METRICS, readMetric } from '../model/metrics.js';
import type { ExpectationResult, HopReport, MeasuredRun, ScenarioMeasurement } from '../model/result.js';
import type { Hop } from '../plan/hops.js';
import { formatDuration } from '../util/duration.js';

/** Least difference between two hops' idle timeouts that counts as "longer" (else 1 % of the front's). */
const HOP_MARGIN_MS = 50;

/** The scenario whose idle timeout the hop rule compares. */
const IDLE_SCENARIO = METRICS.idleTimeout.scenarios[0];

/** A hop's idle-timeout scenario, if it ran. */
export function idleScenarioOf(run: MeasuredRun): ScenarioMeasurement | undefined {
  return run.scenarios.find((s) => s.id === IDLE_SCENARIO);
}

/** Each hop as its idle-timeout scenario measured it, from the client inward. */
export function hopReports(hops: readonly Hop[], runs: readonly MeasuredRun[]): HopReport[] {
  return hops.map((hop, i) => {
    const run = runs[i] as MeasuredRun;
    const idle = idleScenarioOf(run);
    return {
      name: hop.name,
      url: run.target.url,
      connectAddress: run.target.connectAddress,
      server: run.target.server,
      idleTimeoutMs: idle === undefined ? null : readMetric(idle.metrics, METRICS.idleTimeout),
      closeKind: idle === undefined ? null : readMetric(idle.metrics, METRICS.closeKind),
    };
  });
}

/**
 * The hop rule on hop `i`'s scenario `s`: on the idle-timeout scenario of every hop but the
 * first, when both it and the front hop's ran, one expectation; none otherwise.
 */
export function hopExpectations(i: number, s: ScenarioMeasurement, reports: readonly HopReport[], runs: readonly MeasuredRun[]): ExpectationResult[] {
  const front = reports[i - 1];
  const frontIdle = i === 0 ? undefined : idleScenarioOf(runs[i - 1] as MeasuredRun);
  // Nothing to compare when either side's idle-timeout could not run (an error, Ctrl-C).
  if (front === undefined || s.id !== IDLE_SCENARIO || s.error !== null || frontIdle?.error !== null) return [];
  return [hopRule(front, reports[i] as HopReport, (runs[i] as MeasuredRun).options.maxIdleMs)];
}

/**
 * A hop must keep idle connections open longer than the hop in front of it, or the front hop
 * reuses connections the one behind has closed (the 502s behind a load balancer). No close
 * within --max-idle counts as "longer than --max-idle".
 */
function hopRule(front: HopReport, behind: HopReport, maxIdleMs: number): ExpectationResult {
  const show = (h: HopReport): string =>
    h.idleTimeoutMs === null ? `no idle close within ${formatDuration(maxIdleMs)}` : `idle timeout ${formatDuration(h.idleTimeoutMs)}`;
  // Equal timeouts race each other, and two measurements of one timeout differ by a few ms:
  // "longer" means longer by more than the measurement error.
  const margin = front.idleTimeoutMs === null ? 0 : Math.max(HOP_MARGIN_MS, front.idleTimeoutMs * 0.01);
  const ok = behind.idleTimeoutMs === null || (front.idleTimeoutMs !== null && behind.idleTimeoutMs > front.idleTimeoutMs + margin);
  const equal = !ok && behind.idleTimeoutMs !== null && front.idleTimeoutMs !== null && behind.idleTimeoutMs >= front.idleTimeoutMs - margin;
  const verb = equal
    ? `idles out together with "${front.name}" (equal within ${formatDuration(margin)}, the measurement error)`
    : `closes idle connections before "${front.name}"`;
  const message = ok
    ? `"${behind.name}" (${show(behind)}) keeps idle connections open longer than "${front.name}" in front of it (${show(front)})`
    : `"${behind.name}" (${show(behind)}) ${verb} in front of it (${show(front)}): "${front.name}" will reuse connections "${behind.name}" has closed (errors, or 502s from a load balancer). Make "${behind.name}" idle longer than "${front.name}", or "${front.name}" shorter.`;
  return {
    expression: `${behind.name}.idle-timeout > ${front.name}.idle-timeout`,
    metric: METRICS.idleTimeout.name,
    origin: 'cli',
    severity: 'fail',
    ok,
    measured: behind.idleTimeoutMs,
    message,
  };
}
