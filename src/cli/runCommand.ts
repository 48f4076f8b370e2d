import { measureTargets } from '../measures/measureTargets.js';
import type { ScenarioMeasurement } from '../model/result.js';
import { DEMO_PROFILE } from '../options/labProfiles.js';
import { runConfigFrom } from '../options/runConfig.js';
import type { RunFlags } from '../options/runConfig.js';
import { labTargets, makePlan } from '../plan/plan.js';
import type { RunPlan } from '../plan/plan.js';
import type { Target } from '../plan/target.js';
import { errorText } from '../report/format.js';
import { sanitize } from '../util/sanitize.js';
import { formatDuration } from '../util/duration.js';
import { USER_AGENT } from '../util/version.js';
import { exitCodeFor } from '../verdict/exitCode.js';
import { judge, judgeScenario } from '../verdict/judge.js';
import { readHostFacts } from '../wire/hostFacts.js';
import { writeError } from './io.js';
import { closeOutputs, openOutputs, writeOutputs } from './outputs.js';
import type { OutputFlags } from './outputs.js';
import { Progress } from './progress.js';
import { stopOnSignals } from './signals.js';
import { useColor } from './terminalStyle.js';
import type { ColorChoice } from './terminalStyle.js';

/** Flags of `keepalive-probe run`, as commander parsed them. */
export interface RunCommandFlags extends RunFlags, OutputFlags {
  readonly color: ColorChoice;
}

/** `keepalive-probe run [url]`: options → plan → measure → judge → write → exit code. */
export async function runCommand(url: string | undefined, flags: RunCommandFlags): Promise<number> {
  const plan = await makePlan(runConfigFrom(url, flags, process.env));
  const outputs = openOutputs(flags);
  // The lab's modules (and node:http2, which its HTTP/2 side uses) load only for the demo.
  const lab = plan.targets.length === 0 ? await (await import('../lab/labServer.js')).startLabServer(DEMO_PROFILE) : null;
  const interrupt = stopOnSignals();
  let progress: Progress | null = null;
  try {
    const targets = lab === null ? plan.targets : labTargets(plan, lab.url);
    progress = outputs.terminal === 'stdout' && process.stderr.isTTY === true ? startProgress(plan, targets) : null;
    const runs = await measureTargets(
      targets,
      plan.scenarios,
      { ...plan.config, ca: plan.ca, userAgent: USER_AGENT, lab: lab === null ? null : { ...lab.profile } },
      {
        names: plan.hops.map((h) => h.name),
        interrupt: interrupt.signal,
        onScenarioDone: progress === null ? undefined : reportDone(plan, progress),
        capture: plan.config.capture,
      },
    );
    progress?.stop();
    const { result, unprobed } = judge(runs, { ...plan, host: readHostFacts() });
    if (unprobed !== null)
      writeError(`cannot probe ${unprobed.hop === null ? '' : `hop ${unprobed.hop} `}${sanitize(unprobed.url)}: ${errorText(unprobed.error)}`);
    // The reports asked for still say why a target could not be probed; the line above is the terminal's.
    writeOutputs(unprobed === null ? outputs : { ...outputs, terminal: 'none' }, result, (stream) => useColor(flags.color, stream.isTTY === true, process.env));
    return exitCodeFor(result);
  } catch (err) {
    closeOutputs(outputs);
    throw err;
  } finally {
    interrupt.dispose();
    progress?.stop();
    await lab?.close();
  }
}

/** Progress on a TTY while idle waits run (never with --json on stdout: CI logs and pipes stay clean). */
function startProgress(plan: RunPlan, targets: readonly Target[]): Progress {
  const ids = targets.flatMap((_, i) => plan.scenarios.map((s) => shownId(plan, i, s.id)));
  const write = (text: string): void => void process.stderr.write(text);
  const where = targets.map((target) => sanitize(target.url)).join(', ');
  write(
    `Probing ${where} with ${ids.length === 1 ? '1 scenario' : `${ids.length} scenarios at once`}; idle waits are bounded by ${formatDuration(plan.config.maxIdleMs)} (--max-idle)…\n`,
  );
  return new Progress(ids, plan.config.maxIdleMs, write);
}

/** A finished scenario on the progress lines, with the status its own expectations and gates give it. */
function reportDone(plan: RunPlan, progress: Progress): (i: number, m: ScenarioMeasurement) => void {
  return (i, m) =>
    progress.done(shownId(plan, i, m.id), judgeScenario(m, { ...plan, host: { ephemeralPorts: null } }, plan.config.maxIdleMs).status, m.durationMs);
}

/** A scenario's id as reports show it: prefixed with its hop's name under --hop. */
function shownId(plan: RunPlan, i: number, id: string): string {
  const hop = plan.hops[i];
  return hop === undefined ? id : `${hop.name}/${id}`;
}
