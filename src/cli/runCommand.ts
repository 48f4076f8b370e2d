import { setMaxListeners } from 'node:events';
import { DEMO_PROFILE, startLabServer } from '../lab/labServer.js';
import { UnknownClientError, chooseClient } from '../clients/predict.js';
import type { ClientChoice } from '../clients/predict.js';
import type { LabServer } from '../lab/labServer.js';
import { runProbe } from '../engine/runProbe.js';
import { TargetError, applyResolves, parseResolve, parseTarget } from '../engine/target.js';
import type { Resolve, Target } from '../engine/target.js';
import { EXIT, exitCodeFor } from '../report/exitCode.js';
import { errorText } from '../report/format.js';
import { escapeForTerminal } from '../report/sanitize.js';
import { ScenarioFileError } from '../scenario/load.js';
import { GateError, applyGates, resolveGates } from '../scenario/gates.js';
import { HopError, mergeHops, parseHops } from '../scenario/hops.js';
import type { Hop } from '../scenario/hops.js';
import type { Scenario } from '../scenario/model.js';
import type { RunResult } from '../model/result.js';
import type { Gate } from '../scenario/gates.js';
import { formatDuration } from '../util/duration.js';
import { USER_AGENT } from '../version.js';
import { UsageError, writeError } from './io.js';
import { selectScenarios } from './selectScenarios.js';
import { readCaCertificates } from './trust.js';
import { closeOutputs, openOutputs, writeOutputs } from './outputs.js';
import type { OutputFlags } from './outputs.js';
import { Progress } from './progress.js';
import { useColor } from './terminalStyle.js';
import type { ColorChoice } from './terminalStyle.js';

/** Flags of `keepalive-probe run`, as commander parsed them. */
export interface RunFlags extends OutputFlags {
  readonly scenario: readonly string[];
  readonly maxIdle: number;
  readonly maxRequests: number;
  readonly connectTimeout: number;
  readonly responseTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly scenarioTimeout?: number;
  readonly method: string;
  readonly header: readonly (readonly [string, string])[];
  readonly insecure?: boolean;
  readonly cacert?: string;
  readonly resolve: readonly string[];
  readonly color: ColorChoice;
  readonly expect: readonly string[];
  readonly behind: readonly string[];
  readonly client?: string;
  readonly clientIdle?: number;
  readonly hop: readonly string[];
}

/** Room for the non-idle parts of a scenario (requests, the close, TIME_WAIT polling) beyond --max-idle. */
const SCENARIO_SLACK_MS = 120_000;

/** What the flags resolve to before anything is probed (every usage error is found here). */
interface RunPlan {
  readonly scenarios: readonly Scenario[];
  readonly gates: readonly Gate[];
  readonly client: ClientChoice | null;
  readonly hops: readonly Hop[];
  /** --cacert's certificates (and NODE_EXTRA_CA_CERTS's); null: Node's default list. */
  readonly ca: readonly string[] | null;
  readonly resolves: readonly Resolve[];
}

/** Library errors that mean "bad flags", turned into usage errors (exit 2). */
function asUsage<T>(work: () => T, ...kinds: (new (...args: never[]) => Error)[]): T {
  try {
    return work();
  } catch (err) {
    if (kinds.some((kind) => err instanceof kind)) throw new UsageError((err as Error).message);
    throw err;
  }
}

async function plan(url: string | undefined, flags: RunFlags): Promise<RunPlan | null> {
  let scenarios: Scenario[];
  try {
    scenarios = await selectScenarios(flags.scenario, false);
  } catch (err) {
    if (err instanceof ScenarioFileError) {
      writeError(`invalid scenario file ${err.message}`);
      return null;
    }
    throw err;
  }
  const hops = flags.hop.length === 0 ? [] : asUsage(() => parseHops(flags.hop), HopError);
  if (hops.length > 0 && url !== undefined) throw new UsageError('give either a URL or --hop name=URL …, not both');
  // The hop rule compares idle timeouts: every hop runs idle-timeout (before gates resolve against the list).
  if (hops.length > 0 && !scenarios.some((s) => s.id === 'idle-timeout')) scenarios = [...(await selectScenarios(['idle-timeout'], false)), ...scenarios];
  const gates = asUsage(() => resolveGates(flags.expect, flags.behind, scenarios, flags.maxIdle), GateError);
  const client = asUsage(() => chooseClient(flags.client, flags.clientIdle), UnknownClientError);
  const ca = readCaCertificates(flags.cacert, process.env);
  const resolves = asUsage(() => flags.resolve.map(parseResolve), TargetError);
  return { scenarios, gates, client, hops, ca, resolves };
}

/** `keepalive-probe run [url]`: probe, render, return the exit code. */
export async function runCommand(url: string | undefined, flags: RunFlags): Promise<number> {
  const run = await plan(url, flags);
  if (run === null) return EXIT.usage;
  const outputs = openOutputs(flags);
  let lab: LabServer | null = null;
  let targets: Target[];
  try {
    if (run.hops.length > 0) {
      targets = run.hops.map((hop) => parseTarget(hop.url));
    } else if (url === undefined) {
      lab = await startLabServer(DEMO_PROFILE);
      targets = [parseTarget(lab.url)];
    } else {
      targets = [parseTarget(url)];
    }
    targets = applyResolves(targets, run.resolves);
  } catch (err) {
    closeOutputs(outputs);
    await lab?.close();
    if (err instanceof TargetError) throw new UsageError(err.message);
    throw err;
  }
  const hopAt = (i: number): Hop | null => run.hops[i] ?? null;
  const prefix = (i: number, id: string): string => (hopAt(i) === null ? id : `${hopAt(i)?.name ?? ''}/${id}`);

  // The first Ctrl-C stops the scenarios, which then report what they measured (reports are
  // still written, exit code 130); a second one quits at once. A hop that cannot be probed
  // stops the others too.
  const interrupt = new AbortController();
  const failed = new AbortController();
  const stop = AbortSignal.any([interrupt.signal, failed.signal]);
  setMaxListeners(0, interrupt.signal, failed.signal, stop); // every scenario of every hop listens
  const stopOnSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    writeError('interrupted: writing the reports with what was measured so far (Ctrl-C again quits at once)');
    interrupt.abort();
  };
  process.on('SIGINT', stopOnSigint);
  const write = (text: string): void => void process.stderr.write(text);
  const ids = targets.flatMap((_, i) => run.scenarios.map((s) => prefix(i, s.id)));
  const progress = outputs.terminal === 'stdout' && process.stderr.isTTY === true ? new Progress(ids, flags.maxIdle, write) : null;
  if (progress !== null) {
    const where = targets.map((target) => escapeForTerminal(target.url)).join(', ');
    write(`Probing ${where} with ${ids.length === 1 ? '1 scenario' : `${ids.length} scenarios at once`}; idle waits are bounded by ${formatDuration(flags.maxIdle)} (--max-idle)…\n`);
  }
  const probeTarget = async (target: Target, i: number): Promise<RunResult> => {
    const measured = await runProbe(run.scenarios, {
      target,
      insecure: flags.insecure === true,
      ca: run.ca,
      connectTimeoutMs: flags.connectTimeout,
      deadlines: { firstByteMs: flags.responseTimeout, headersMs: flags.headersTimeout, bodyMs: flags.bodyTimeout },
      maxIdleMs: flags.maxIdle,
      maxRequests: flags.maxRequests,
      scenarioTimeoutMs: flags.scenarioTimeout ?? flags.maxIdle + SCENARIO_SLACK_MS,
      method: flags.method,
      headers: flags.header,
      userAgent: USER_AGENT,
      lab: lab === null ? null : { ...lab.profile },
      onScenarioDone: progress === null ? undefined : (s) => progress.done({ ...s, id: prefix(i, s.id) }),
      interrupt: stop,
      client: run.client,
    });
    return applyGates(measured, run.gates);
  };
  const color = (stream: NodeJS.WriteStream): boolean => useColor(flags.color, stream.isTTY === true, process.env);
  try {
    const results = await Promise.all(
      targets.map(async (target, i) => {
        const result = await probeTarget(target, i);
        if (result.error !== null) failed.abort();
        return result;
      }),
    );
    progress?.stop();
    const merged = run.hops.length > 0 ? mergeHops(results.map((r, i) => ({ hop: run.hops[i] as Hop, result: r }))) : (results[0] as RunResult);
    const unprobed = results.findIndex((r) => r.error !== null);
    const error = results[unprobed]?.error;
    if (error === undefined || error === null) {
      writeOutputs(outputs, merged, color);
      return exitCodeFor(merged);
    }
    const hop = hopAt(unprobed);
    writeError(`cannot probe ${hop === null ? '' : `hop ${hop.name} `}${escapeForTerminal(targets[unprobed]?.url ?? '')}: ${errorText(error)}`);
    // The reports asked for still say why (a CI job reads them); the line above is the terminal's.
    // With --hop: every hop is listed, the error names the one that failed, and the others'
    // scenarios, stopped because of it, are left out.
    const report: RunResult =
      hop === null
        ? (results[unprobed] as RunResult)
        : { ...merged, scenarios: [], clients: [], interrupted: interrupt.signal.aborted, error: { ...error, message: `hop ${hop.name}: ${error.message}` } };
    writeOutputs({ ...outputs, terminal: 'none' }, report, color);
    return exitCodeFor(report);
  } catch (err) {
    failed.abort();
    closeOutputs(outputs);
    throw err;
  } finally {
    process.off('SIGINT', stopOnSigint);
    progress?.stop();
    await lab?.close();
  }
}

