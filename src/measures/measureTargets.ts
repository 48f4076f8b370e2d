import { setMaxListeners } from 'node:events';
import type { AbortReason } from '../model/errors.js';
import type { MeasuredRun, ScenarioMeasurement } from '../model/result.js';
import type { Scenario } from '../plan/scenario.js';
import type { Target } from '../plan/target.js';
import { runProbe } from './runProbe.js';
import type { ProbeOptions } from './runProbe.js';
import type { Remeasurable } from './wireTiming.js';

/** How the targets of one run are measured together. */
export interface MeasureOptions {
  /** Names for the targets in a stop reason (the --hop names); the URL when absent. */
  readonly names: readonly string[];
  /** Aborted by the user (Ctrl-C), with reason user-interrupt. */
  readonly interrupt: AbortSignal;
  /** Called as each scenario of target `i` finishes. */
  readonly onScenarioDone?: (i: number, measured: ScenarioMeasurement) => void;
  /** `run --capture`: capture the run's connections and time them on the wire; `file` keeps the capture (null: a temporary file). */
  readonly capture?: { readonly file: string | null } | null;
}

/**
 * Measures every target at once (one with a URL, one per hop with --hop). A target that
 * cannot be probed stops the others (reason hop-failed): their waits would be wasted, as the
 * run cannot be judged without it.
 */
export async function measureTargets(
  targets: readonly Target[],
  scenarios: readonly Scenario[],
  settings: Omit<ProbeOptions, 'target' | 'stop' | 'onScenarioDone' | 'onTrace'>,
  options: MeasureOptions,
): Promise<MeasuredRun[]> {
  const capture = options.capture ?? null;
  if (capture === null) return probeTargets(targets, scenarios, settings, options, null);
  // dumpcap, tshark and the wire timing (and the built-in modules they use) load only for --capture.
  const { measureOnWire } = await import('./measureOnWire.js');
  return measureOnWire(targets, scenarios, settings, options, capture);
}

/** Probes every target at once; `traced` collects, per target, what a capture needs to measure each scenario again. */
export async function probeTargets(
  targets: readonly Target[],
  scenarios: readonly Scenario[],
  settings: Omit<ProbeOptions, 'target' | 'stop' | 'onScenarioDone' | 'onTrace'>,
  options: MeasureOptions,
  traced: Remeasurable[][] | null,
): Promise<MeasuredRun[]> {
  const failed = new AbortController();
  const stop = AbortSignal.any([options.interrupt, failed.signal]);
  setMaxListeners(0, failed.signal, stop); // every scenario of every target listens
  const fail = (i: number): void => {
    if (!failed.signal.aborted) failed.abort({ kind: 'hop-failed', hop: options.names[i] ?? targets[i]?.url ?? '' } satisfies AbortReason);
  };
  try {
    return await Promise.all(
      targets.map(async (target, i) => {
        const done = options.onScenarioDone;
        const keep = traced?.[i];
        const run = await runProbe(scenarios, {
          ...settings,
          target,
          stop,
          onScenarioDone: done === undefined ? undefined : (m) => done(i, m),
          onTrace: keep === undefined ? undefined : (measured, remeasure) => keep.push({ measured, remeasure }),
        });
        if (run.error !== null) fail(i);
        return run;
      }),
    );
  } catch (err) {
    fail(0);
    throw err;
  }
}
