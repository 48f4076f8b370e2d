import { setMaxListeners } from 'node:events';
import type { AbortReason, StopSignal } from '../model/errors.js';
import { signalExit } from '../verdict/exitCode.js';
import { writeError } from './io.js';

const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Ctrl-C (SIGINT), a CI runner's SIGTERM and a closed terminal's SIGHUP during a run: the
 * first one aborts `signal` (reason user-interrupt, with the signal) so the scenarios stop
 * and report what they measured, and the reports are still written (exit 128 + the signal's
 * number); a second one quits at once. `what` says what happens next (analyze writes no report).
 */
export function stopOnSignals(what = 'writing the reports with what was measured so far'): { readonly signal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const handlers = STOP_SIGNALS.map((name) => {
    const handler = (): void => {
      if (stop.signal.aborted) process.exit(signalExit(name));
      writeError(`interrupted (${name}): ${what} (again to quit at once)`);
      stop.abort({ kind: 'user-interrupt', signal: name } satisfies AbortReason);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: stop.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
