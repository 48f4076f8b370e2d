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
}

/** Room for the non-idle parts of a scenario (requests, the close, TIME_WAIT polling) beyond --max-idle. */
const SCENARIO_SLACK_MS = 120_000;

/** `keepalive-probe run [url]`: probe, render, return the exit code. */
export async function runCommand(url: string | undefined, flags: RunFlags): Promise<number> {
  let scenarios;
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
  const outputs = openOutputs(flags);
  let target: Target;
  let lab: LabServer | null = null;
  if (url === undefined) {
    lab = await startLabServer(DEMO_PROFILE);
    target = parseTarget(lab.url);
  } else {
    try {
      target = parseTarget(url);
    } catch (err) {
      if (err instanceof TargetError) throw new UsageError(err.message);
      throw err;
    }
  }

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
  const progress = outputs.terminal === 'stdout' && process.stderr.isTTY === true ? new Progress(scenarios.map((s) => s.id), flags.maxIdle, write) : null;
  if (progress !== null) {
    write(`Probing ${escapeForTerminal(target.url)} with ${scenarios.length === 1 ? '1 scenario' : `${scenarios.length} scenarios at once`}; idle waits are bounded by ${formatDuration(flags.maxIdle)} (--max-idle)…\n`);
  }
  try {
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
      onScenarioDone: progress === null ? undefined : (s) => progress.done(s),
      interrupt: interrupt.signal,
      client,
    });
    const result = applyGates(measured, gates);
    progress?.stop();
    writeOutputs(outputs, result, (stream) => useColor(flags.color, stream.isTTY === true, process.env));
    return exitCodeFor(result);
  } catch (err) {
    closeOutputs(outputs);
    if (err instanceof ProbeError && err.code === 'interrupted') return EXIT.interrupted;
    if (err instanceof ProbeError) {
      writeError(`cannot probe ${escapeForTerminal(target.url)}: ${escapeForTerminal(err.message, 400)} [${err.code}]`);
      return EXIT.unprobeable;
    }
    throw err;
  } finally {
    process.off('SIGINT', stopOnSigint);
    progress?.stop();
    await lab?.close();
  }
}
