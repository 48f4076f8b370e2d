import { setMaxListeners } from 'node:events';
import type { AbortReason } from '../model/errors.js';
import { EXIT } from '../verdict/exitCode.js';
import { writeError } from './io.js';

/**
 * Ctrl-C during a run: the first one aborts `signal` (reason user-interrupt) so the scenarios
 * stop and report what they measured (the reports are still written, exit code 130); a
 * second one quits at once.
 */
export function interruptOnSigint(): { readonly signal: AbortSignal; dispose(): void } {
  const interrupt = new AbortController();
  setMaxListeners(0, interrupt.signal);
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    writeError('interrupted: writing the reports with what was measured so far (Ctrl-C again quits at once)');
    interrupt.abort({ kind: 'user-interrupt' } satisfies AbortReason);
  };
  process.on('SIGINT', onSigint);
  return { signal: interrupt.signal, dispose: () => void process.off('SIGINT', onSigint) };
}
