import type { ExpectationResult, HopReport, RunResult, ScenarioResult } from '../model/result.js';
import { formatDuration } from '../util/duration.js';

/** `--hop name=URL`, parsed. */
export interface Hop {
  readonly name: string;
  readonly url: string;
}

/** A --hop value that cannot be used. */
export class HopError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;
/** Least difference between two hops' idle timeouts that counts as "longer" (else 1 % of the front's). */
const HOP_MARGIN_MS = 50;

/** Parses `name=URL`; hops are listed from the client inward (the load balancer first, its backend next). */
export function parseHops(values: readonly string[]): Hop[] {
  const hops = values.map((value) => {
    const eq = value.indexOf('=');
    const name = value.slice(0, eq);
    if (eq === -1 || !NAME.test(name)) throw new HopError(`invalid --hop "${value}": expected name=URL, the name made of letters, digits, - and _ (for example --hop lb=https://lb.internal/)`);
    return { name, url: value.slice(eq + 1) };
  });
  const names = hops.map((h) => h.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new HopError(`--hop name "${twice}" is given twice`);
  if (hops.length === 1) throw new HopError('--hop needs at least two hops (the one in front first), for example --hop lb=http://lb/ --hop app=http://app:8080/');
  return hops;
}

/**
 * One report for all hops: each hop's scenarios, ids prefixed with the hop's name
 * (`lb/idle-timeout`), and on every hop but the first, the rule that it keeps idle
 * connections open longer than the hop in front of it, as a failing expectation on its
 * idle-timeout scenario when broken. Target and client verdicts are the first hop's: that is
 * the one clients talk to.
 */
export function mergeHops(runs: readonly { readonly hop: Hop; readonly result: RunResult }[]): RunResult {
  const idleOf = (r: RunResult): ScenarioResult | undefined => r.scenarios.find((s) => s.id === 'idle-timeout');
  const hops: HopReport[] = runs.map(({ hop, result }) => {
    const idle = idleOf(result);
    return {
      name: hop.name,
      url: result.target.url,
      connectAddress: result.target.connectAddress,
      server: result.target.server,
      idleTimeoutMs: typeof idle?.metrics.idleTimeoutMs === 'number' ? idle.metrics.idleTimeoutMs : null,
      closeKind: typeof idle?.metrics.closeKind === 'string' ? idle.metrics.closeKind : null,
    };
  });
  const scenarios = runs.flatMap(({ hop, result }, i) =>
    result.scenarios.map((s) => {
      const renamed = { ...s, id: `${hop.name}/${s.id}`, title: `${s.title} (hop ${hop.name})` };
      const front = hops[i - 1];
      const frontIdle = i === 0 ? undefined : idleOf(runs[i - 1]?.result as RunResult);
      // Nothing to compare when either side's idle-timeout could not run (an error, Ctrl-C).
      if (i === 0 || front === undefined || s.id !== 'idle-timeout' || s.error !== null || frontIdle?.error !== null) return renamed;
      const rule = hopRule(front, hops[i] as HopReport, result.options.maxIdleMs);
      return { ...renamed, expectations: [...s.expectations, rule], status: rule.ok ? s.status : 'fail' };
    }),
  );
  const first = runs[0]?.result as RunResult;
  return {
    ...first,
    durationMs: Math.max(...runs.map((r) => r.result.durationMs)),
    loopDelayMaxMs: Math.max(...runs.map((r) => r.result.loopDelayMaxMs)),
    interrupted: runs.some((r) => r.result.interrupted),
    scenarios,
    hops,
  };
}

/**
 * A hop must keep idle connections open longer than the hop in front of it, or the front hop
 * reuses connections the one behind has closed (the 502s behind a load balancer). No close
 * within --max-idle counts as "longer than --max-idle".
 */
function hopRule(front: HopReport, behind: HopReport, maxIdleMs: number): ExpectationResult {
  const show = (h: HopReport): string => (h.idleTimeoutMs === null ? `no idle close within ${formatDuration(maxIdleMs)}` : `idle timeout ${formatDuration(h.idleTimeoutMs)}`);
  // Equal timeouts race each other, and two measurements of one timeout differ by a few ms:
  // "longer" means longer by more than the measurement error.
  const margin = front.idleTimeoutMs === null ? 0 : Math.max(HOP_MARGIN_MS, front.idleTimeoutMs * 0.01);
  const ok = behind.idleTimeoutMs === null || (front.idleTimeoutMs !== null && behind.idleTimeoutMs > front.idleTimeoutMs + margin);
  const equal = !ok && behind.idleTimeoutMs !== null && front.idleTimeoutMs !== null && behind.idleTimeoutMs >= front.idleTimeoutMs - margin;
  const verb = equal ? `idles out together with "${front.name}" (equal within ${formatDuration(margin)}, the measurement error)` : `closes idle connections before "${front.name}"`;
  const message = ok
    ? `"${behind.name}" (${show(behind)}) keeps idle connections open longer than "${front.name}" in front of it (${show(front)})`
    : `"${behind.name}" (${show(behind)}) ${verb} in front of it (${show(front)}): "${front.name}" will reuse connections "${behind.name}" has closed (errors, or 502s from a load balancer). Make "${behind.name}" idle longer than "${front.name}", or "${front.name}" shorter.`;
  return { expression: `${behind.name}.idle-timeout > ${front.name}.idle-timeout`, metric: 'idleTimeoutMs', origin: 'cli', severity: 'fail', ok, measured: behind.idleTimeoutMs, message };
}
