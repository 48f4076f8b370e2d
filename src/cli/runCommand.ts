import { DEMO_PROFILE, startLabServer } from '../lab/labServer.js';
import { UnknownClientError, chooseClient } from '../clients/predict.js';
import type { ClientChoice } from '../clients/predict.js';
import type { LabServer } from '../lab/labServer.js';
import { runProbe } from '../engine/runProbe.js';
import { ProbeError } from '../engine/probeError.js';
import { TargetError, parseTarget } from '../engine/target.js';
import type { Target } from '../engine/target.js';
import { EXIT, exitCodeFor } from '../report/exitCode.js';
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
import { closeOutputs, openOutputs, writeOutputs } from './outputs.js';
import { Progress } from './progress.js';
import { useColor } from './terminalStyle.js';
import type { ColorChoice } from './terminalStyle.js';

/** Flags of `keepalive-probe run`, as commander parsed them. */
export interface RunFlags {
  readonly json?: string | boolean;
  readonly junit?: string;
  readonly html?: string;
  readonly quiet?: boolean;
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
  readonly color: ColorChoice;
  readonly expect: readonly string[];
  readonly behind: readonly string[];
  readonly client?: string;
  readonly clientIdle?: number;
  readonly hop: readonly string[];
}

/** Room for the non-idle parts of a scenario (requests, the close, TIME_WAIT polling) beyond --max-idle. */
const SCENARIO_SLACK_MS = 120_000;

/** `keepalive-probe run [url]`: probe, render, return the exit code. */
export async function runCommand(url: string | undefined, flags: RunFlags): Promise<number> {
  let scenarios: Scenario[];
  try {
    scenarios = await selectScenarios(flags.scenario, false);
  } catch (err) {
    if (err instanceof ScenarioFileError) {
      writeError(`invalid scenario file ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
  let gates: Gate[];
  try {
    gates = resolveGates(flags.expect, flags.behind, scenarios, flags.maxIdle);
  } catch (err) {
    if (err instanceof GateError) throw new UsageError(err.message);
    throw err;
  }
  let client: ClientChoice | null;
  try {
    client = chooseClient(flags.client, flags.clientIdle);
  } catch (err) {
    if (err instanceof UnknownClientError) throw new UsageError(err.message);
    throw err;
  }
  let hops: Hop[] = [];
  try {
    if (flags.hop.length > 0) hops = parseHops(flags.hop);
  } catch (err) {
    if (err instanceof HopError) throw new UsageError(err.message);
    throw err;
  }
  if (hops.length > 0 && url !== undefined) throw new UsageError('give either a URL or --hop name=URL …, not both');
  // The hop rule compares idle timeouts: every hop runs idle-timeout.
  if (hops.length > 0 && !scenarios.some((s) => s.id === 'idle-timeout')) scenarios = [...(await selectScenarios(['idle-timeout'], false)), ...scenarios];
  const outputs = openOutputs(flags);
  let lab: LabServer | null = null;
  let targets: { readonly hop: Hop | null; readonly target: Target }[];
  try {
    if (hops.length > 0) {
      targets = hops.map((hop) => ({ hop, target: parseTarget(hop.url) }));
    } else if (url === undefined) {
      lab = await startLabServer(DEMO_PROFILE);
      targets = [{ hop: null, target: parseTarget(lab.url) }];
    } else {
      targets = [{ hop: null, target: parseTarget(url) }];
    }
  } catch (err) {
    closeOutputs(outputs);
    if (err instanceof TargetError) throw new UsageError(err.message);
    throw err;
  }
  const prefix = (hop: Hop | null, id: string): string => (hop === null ? id : `${hop.name}/${id}`);

  // The first Ctrl-C stops the scenarios, which then report what they measured (reports are
  // still written, exit code 130); a second one quits at once.
  const interrupt = new AbortController();
  const stopOnSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    writeError('interrupted: writing the reports with what was measured so far (Ctrl-C again quits at once)');
    interrupt.abort();
  };
  process.on('SIGINT', stopOnSigint);
  const write = (text: string): void => void process.stderr.write(text);
  const ids = targets.flatMap(({ hop }) => scenarios.map((s) => prefix(hop, s.id)));
  const progress = outputs.terminal === 'stdout' && process.stderr.isTTY === true ? new Progress(ids, flags.maxIdle, write) : null;
  if (progress !== null) {
    const where = targets.map(({ target }) => escapeForTerminal(target.url)).join(', ');
    write(`Probing ${where} with ${ids.length === 1 ? '1 scenario' : `${ids.length} scenarios at once`}; idle waits are bounded by ${formatDuration(flags.maxIdle)} (--max-idle)…\n`);
  }
  let failing: Target | null = null;
  const probeOne = async ({ hop, target }: (typeof targets)[number]): Promise<RunResult> => {
    try {
      return await probeTarget(hop, target);
    } catch (err) {
      failing ??= target;
      throw err;
    }
  };
  const probeTarget = async (hop: Hop | null, target: Target): Promise<RunResult> => {
    const measured = await runProbe(scenarios, {
      target,
      insecure: flags.insecure === true,
      connectTimeoutMs: flags.connectTimeout,
      deadlines: { firstByteMs: flags.responseTimeout, headersMs: flags.headersTimeout, bodyMs: flags.bodyTimeout },
      maxIdleMs: flags.maxIdle,
      maxRequests: flags.maxRequests,
      scenarioTimeoutMs: flags.scenarioTimeout ?? flags.maxIdle + SCENARIO_SLACK_MS,
      method: flags.method,
      headers: flags.header,
      userAgent: USER_AGENT,
      lab: lab === null ? null : { ...lab.profile },
      onScenarioDone: progress === null ? undefined : (s) => progress.done({ ...s, id: prefix(hop, s.id) }),
      interrupt: interrupt.signal,
      client,
    });
    return applyGates(measured, gates);
  };
  try {
    const runs = await Promise.all(targets.map(async (t) => ({ hop: t.hop, result: await probeOne(t) })));
    const result = hops.length > 0 ? mergeHops(runs.map((r) => ({ hop: r.hop as Hop, result: r.result }))) : (runs[0]?.result as RunResult);
    progress?.stop();
    writeOutputs(outputs, result, (stream) => useColor(flags.color, stream.isTTY === true, process.env));
    return exitCodeFor(result);
  } catch (err) {
    closeOutputs(outputs);
    if (err instanceof ProbeError && err.code === 'interrupted') return EXIT.interrupted;
    if (err instanceof ProbeError) {
      const where = targets.find((t) => t.target === failing) ?? targets[0];
      const name = where?.hop === null || where?.hop === undefined ? '' : `hop ${where.hop.name} `;
      writeError(`cannot probe ${name}${escapeForTerminal(where?.target.url ?? '')}: ${escapeForTerminal(err.message, 400)} [${err.code}]`);
      return EXIT.unprobeable;
    }
    throw err;
  } finally {
    process.off('SIGINT', stopOnSigint);
    progress?.stop();
    await lab?.close();
  }
}
