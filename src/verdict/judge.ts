import type {
  ExpectationResult,
  HostFacts,
  MeasuredRun,
  MetricValue,
  ProbeErrorInfo,
  RunResult,
  ScenarioMeasurement,
  ScenarioResult,
} from '../model/result.js';
import type { ClientChoice } from '../plan/client.js';
import type { Gate } from '../plan/gates.js';
import type { Hop } from '../plan/hops.js';
import type { Scenario } from '../plan/scenario.js';
import { VERSION } from '../util/version.js';
import { METRIC_ENTRIES } from '../model/metrics.js';
import { h2AdviceFor } from './h2Advice.js';
import { adviceFor } from './advice.js';
import { predictClients, serverFacts } from './clients.js';
import { h2ServerFacts, predictH2Clients } from './h2Clients.js';
import { scenarioExpectations } from './expectations.js';
import { gateExpectations } from './gates.js';
import { hopExpectations, hopReports } from './hops.js';
import { statusOf } from './status.js';
import { notKeptAlive, unframedBody } from '../timeline/queries.js';
import { UNFRAMED_TEXT } from '../measures/metrics.js';

const UNFRAMED_ADVICE =
  'Frame every response: send Content-Length (or Transfer-Encoding: chunked), or send "Connection: close" and close after the body. A body with neither ends only at the close, so clients hang until their read timeout and never reuse the connection.';

/** What judging needs besides the measurements: the plan's rules and the host's facts. */
export interface Rules {
  /** The scenario definitions run (their `expect` steps). */
  readonly scenarios: readonly Scenario[];
  readonly gates: readonly Gate[];
  /** With --hop: one per measured run, from the client inward; empty otherwise. */
  readonly hops: readonly Hop[];
  readonly client: ClientChoice | null;
  readonly host: HostFacts;
}

/** The judged run, and the target that could not be probed (for the error line), if one could not. */
export interface Judgement {
  readonly result: RunResult;
  readonly unprobed: { readonly hop: string | null; readonly url: string; readonly error: ProbeErrorInfo } | null;
}

/**
 * Judges the measured runs (one per target; one per hop with --hop): every expectation of
 * each scenario (its file's, the gates, the hop rule), then its status, once; advice; the
 * client verdicts (HTTP/1 and HTTP/2) against the first target, the one clients talk to.
 */
export function judge(runs: readonly MeasuredRun[], rules: Rules): Judgement {
  const reports = rules.hops.length > 0 ? hopReports(rules.hops, runs) : [];
  const scenarios = runs.flatMap((run, i) =>
    run.scenarios.map((s) => {
      const judged = judgeScenario(s, rules, run.options.maxIdleMs, reports.length > 0 ? hopExpectations(i, s, reports, runs) : [], run.scenarios);
      const hop = rules.hops[i];
      return hop === undefined ? judged : { ...judged, id: `${hop.name}/${s.id}`, title: `${s.title} (hop ${hop.name})` };
    }),
  );
  const first = runs[0] as MeasuredRun;
  const failed = runs.findIndex((r) => r.error !== null);
  const failedRun = runs[failed];
  if (failedRun === undefined || failedRun.error === null) {
    return {
      result: runResult(
        runs,
        scenarios,
        predictClients(serverFacts(first.scenarios, first.options.maxIdleMs), rules.client),
        predictH2Clients(h2ServerFacts(first.scenarios), rules.client?.profile?.name ?? null),
        reports,
        first.error,
      ),
      unprobed: null,
    };
  }
  // The reports still say why the target could not be probed (a CI job reads them). With
  // --hop: every hop is listed, the error names the one that failed, and the others'
  // scenarios, stopped because of it, are left out.
  const hop = rules.hops[failed] ?? null;
  const error = hop === null ? failedRun.error : { ...failedRun.error, message: `hop ${hop.name}: ${failedRun.error.message}` };
  return {
    result: runResult(runs, hop === null ? scenarios : [], [], [], reports, error),
    unprobed: { hop: hop?.name ?? null, url: failedRun.target.url, error: failedRun.error },
  };
}

/** One scenario judged: its expectations (file, gates, then `extra` such as the hop rule), status, advice. */
export function judgeScenario(
  s: ScenarioMeasurement,
  rules: Pick<Rules, 'scenarios' | 'gates' | 'host'>,
  maxIdleMs: number,
  extra: ReturnType<typeof hopExpectations> = [],
  /** The run's other scenarios: a metric several of them measure is advised on once (advisedMetrics). */
  siblings: readonly ScenarioMeasurement[] = [s],
): ScenarioResult {
  const definition = rules.scenarios.find((d) => d.id === s.id);
  const ran = s.error === null;
  // A server that keeps no connection alive gets one story: not kept alive, said once, and
  // no idle-time warnings or pool advice from the scenarios that measure kept-alive connections.
  const unkept = notKeptAlive(s.connections);
  const inapplicable = definition?.needs === 'keep-alive' && unkept !== null;
  const own = definition === undefined || inapplicable ? [] : scenarioExpectations(definition.steps, s.metrics);
  // An unframed body on a connection kept open warns like a failed expectation of severity warn.
  const unframed = !inapplicable && s.connections.some((c) => unframedBody(c.events) !== undefined);
  const framing: ExpectationResult[] = unframed
    ? [
        {
          expression: 'framed',
          metric: 'framed',
          origin: 'scenario',
          severity: 'warn',
          ok: false,
          measured: false,
          message: `a response never ended: ${UNFRAMED_TEXT}`,
        },
      ]
    : [];
  const expectations = ran ? [...framing, ...own, ...gateExpectations(rules.gates, s, maxIdleMs), ...extra] : [];
  const findings = inapplicable
    ? [
        { text: `not applicable: the server keeps no connection alive (${unkept?.reason}), so there is nothing kept alive to measure`, evidence: [] },
        ...s.findings,
      ]
    : s.findings;
  // The same key order as always (the JSON report's field order).
  return {
    id: s.id,
    title: s.title,
    source: s.source,
    protocol: s.protocol,
    headline: s.headline,
    status: statusOf(s.error, expectations),
    startedAtMs: s.startedAtMs,
    durationMs: s.durationMs,
    metrics: s.metrics,
    errorMs: s.errorMs,
    findings,
    expectations,
    advice:
      ran && !inapplicable
        ? [
            ...(unframed ? [UNFRAMED_ADVICE] : []),
            ...(s.protocol === 'h2' ? h2AdviceFor(advisedMetrics(s, siblings)) : adviceFor(advisedMetrics(s, siblings), rules.host, unkept)),
          ]
        : [],
    error: s.error,
    connections: s.connections,
    race: s.race,
    ...(s.wire === undefined ? {} : { wire: s.wire }),
  };
}

function runResult(
  runs: readonly MeasuredRun[],
  scenarios: readonly ScenarioResult[],
  clients: RunResult['clients'],
  h2Clients: RunResult['h2Clients'],
  hops: RunResult['hops'],
  error: ProbeErrorInfo | null,
): RunResult {
  const first = runs[0] as MeasuredRun;
  return {
    schemaVersion: 1,
    tool: { name: 'keepalive-probe', version: VERSION },
    target: first.target,
    startedAt: first.startedAt,
    durationMs: Math.max(...runs.map((r) => r.durationMs)),
    loopDelayMaxMs: Math.max(...runs.map((r) => r.loopDelayMaxMs)),
    interrupted: runs.some((r) => r.interrupted),
    interruptedBy: runs.find((r) => r.interruptedBy !== null)?.interruptedBy ?? null,
    error,
    options: first.options,
    evidence: first.evidence,
    scenarios,
    clients: error === null ? clients : [],
    hops,
    h2Clients: error === null ? h2Clients : [],
  };
}

/**
 * The metrics of `s` its advice reads. A registry metric that several scenarios measure (the
 * idle timeout: idle-timeout and stale-race; TIME_WAIT's side: connection-close, idle-timeout,
 * http11-reuse) is advised on only by the first of its registry scenarios that measured it in
 * this run, so one fact gives one piece of advice, not two with slightly different figures or
 * contradicting sides.
 */
function advisedMetrics(s: ScenarioMeasurement, siblings: readonly ScenarioMeasurement[]): Readonly<Record<string, MetricValue>> {
  const measured = (id: string, name: string): boolean => siblings.some((x) => x.id === id && x.error === null && name in x.metrics);
  return Object.fromEntries(
    Object.entries(s.metrics).filter(([name]) => {
      const entry = METRIC_ENTRIES.find((e) => e.name === name && e.scenarios.includes(s.id));
      return entry === undefined || entry.scenarios.find((id) => measured(id, name)) === s.id;
    }),
  );
}
