import { METRICS, readMetric } from '../model/metrics.js';
import type { ExpectationResult, HopReport, MeasuredRun, ScenarioMeasurement } from '../model/result.js';
import type { Hop } from '../plan/hops.js';
import { formatDuration } from '../util/duration.js';
import { serverFacts } from './clients.js';
import type { ServerFacts } from './clients.js';

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
  const behindRun = runs[i] as MeasuredRun;
  return [hopRule(front, reports[i] as HopReport, behindRun.options.maxIdleMs, serverFacts(behindRun.scenarios, behindRun.options.maxIdleMs))];
}

/**
 * What the front hop will see when the hop behind idles out first, graded by how the hop
 * behind closes: with a FIN or RST on the idle connection a front hop that watches its idle
 * connections (HAProxy, nginx) drops it, and only a request sent while the close is in flight
 * fails (nginx does not pass a non-idempotent request to the next server once it was sent:
 * proxy_next_upstream, since 1.9.13); a silent drop tells the front hop nothing, so every
 * reuse after it fails.
 */
function consequence(front: HopReport, behind: HopReport, facts: ServerFacts): { severity: 'warn' | 'fail'; text: string } {
  const f = `"${front.name}"`;
  const b = `"${behind.name}"`;
  if (facts.serverClose === 'silent-drop') {
    return {
      severity: 'fail',
      text: `${b} drops idle connections silently (no FIN or RST), so ${f} cannot notice: every request ${f} sends on such a connection fails (resets, or frequent 502s)`,
    };
  }
  if (behind.closeKind === 'fin' || behind.closeKind === 'rst') {
    const window = facts.windowMs === null ? '' : ` (the race window measured on ${b}: ${formatDuration(facts.windowMs)} before its idle timeout)`;
    return {
      severity: 'warn',
      text: `${b} closes with ${behind.closeKind === 'fin' ? 'a FIN' : 'an RST'}, which a front hop that watches idle connections notices: only requests ${f} sends while the close is in flight fail${window}, a rare 502 on non-idempotent requests (idempotent ones are usually retried on a new connection)`,
    };
  }
  return { severity: 'fail', text: `${f} will reuse connections ${b} has closed (errors, or 502s from a load balancer)` };
}

/**
 * A hop must keep idle connections open longer than the hop in front of it, or the front hop
 * reuses connections the one behind has closed (the 502s behind a load balancer). No close
 * within --max-idle counts as "longer than --max-idle".
 */
function hopRule(front: HopReport, behind: HopReport, maxIdleMs: number, facts: ServerFacts): ExpectationResult {
  const show = (h: HopReport): string =>
    h.idleTimeoutMs === null ? `no idle close within ${formatDuration(maxIdleMs)}` : `idle timeout ${formatDuration(h.idleTimeoutMs)}`;
  // Equal timeouts race each other, and two measurements of one timeout differ by a few ms:
  // "longer" means longer by more than the measurement error.
  const margin = front.idleTimeoutMs === null ? 0 : Math.max(HOP_MARGIN_MS, front.idleTimeoutMs * 0.01);
  // No close within --max-idle is "longer", unless the hop behind was seen to drop idle connections silently.
  const silent = facts.serverClose === 'silent-drop';
  const ok = !silent && (behind.idleTimeoutMs === null || (front.idleTimeoutMs !== null && behind.idleTimeoutMs > front.idleTimeoutMs + margin));
  const equal = !ok && behind.idleTimeoutMs !== null && front.idleTimeoutMs !== null && behind.idleTimeoutMs >= front.idleTimeoutMs - margin;
  const verb = equal
    ? `idles out together with "${front.name}" (equal within ${formatDuration(margin)}, the measurement error)`
    : `closes idle connections before "${front.name}"`;
  const graded = consequence(front, behind, facts);
  const message = ok
    ? `"${behind.name}" (${show(behind)}) keeps idle connections open longer than "${front.name}" in front of it (${show(front)})`
    : `"${behind.name}" (${show(behind)}) ${verb} in front of it (${show(front)}): ${graded.text}. Make "${behind.name}" idle longer than "${front.name}", or "${front.name}" shorter.`;
  return {
    expression: `${behind.name}.idle-timeout > ${front.name}.idle-timeout`,
    metric: METRICS.idleTimeout.name,
    origin: 'cli',
    severity: graded.severity,
    ok,
    measured: behind.idleTimeoutMs,
    message,
  };
}
