import { setMaxListeners } from 'node:events';
import type { AbortReason } from '../model/errors.js';
import type { MeasuredRun, ScenarioMeasurement } from '../model/result.js';
import type { Scenario } from '../plan/scenario.js';
import type { Target } from '../plan/target.js';
import { runProbe } from './runProbe.js';
import type { ProbeOptions } from './runProbe.js';

/** How the targets of one run are measured together. */
export interface MeasureOptions {
  /** Names for the targets in a stop reason (the --hop names); the URL when absent. */
  readonly names: readonly string[];
  /** Aborted by the user (Ctrl-C), with reason user-interrupt. */
  readonly interrupt: AbortSignal;
  /** Called as each scenario of target `i` finishes. */
  readonly onScenarioDone?: (i: number, measured: ScenarioMeasurement) => void;
}

/**
 * Measures every target at once (one with a URL, one per hop with --hop). A target that
 * cannot be probed stops the others (reason hop-failed): their waits would be wasted, as the
 * run cannot be judged without it.
 */
export async function measureTargets(
  targets: readonly Target[],
  scenarios: readonly Scenario[],
  settings: Omit<ProbeOptions, 'target' | 'stop' | 'onScenarioDone'>,
  options: MeasureOptions,
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
        const run = await runProbe(scenarios, { ...settings, target, stop, onScenarioDone: done === undefined ? undefined : (m) => done(i, m) });
        if (run.error !== null) fail(i);
        return run;
      }),
    );
  } catch (err) {
    fail(0);
    throw err;
  }
}
