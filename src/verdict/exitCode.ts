import type { RunResult } from '../model/result.js';

/** Documented exit codes (docs/exit-codes.md). Each means one thing. */
export const EXIT = {
  /** Every scenario ran and nothing failed (warnings included). */
  ok: 0,
  /** A scenario failed: an expectation with severity "fail" did not hold. */
  failed: 1,
  /** Usage error or invalid scenario file: nothing was probed. */
  usage: 2,
  /** The target could not be probed (DNS, refused, unreachable, not HTTP, TLS, no answer), or a scenario could not run, or a program the command needs (tshark for analyze) is missing. */
  unprobeable: 3,
  /** Internal error: a bug in keepalive-probe. */
  internal: 4,
  /** Stopped by Ctrl-C (SIGINT): 128 + 2. SIGTERM gives 143, SIGHUP 129 (signalExit). */
  interrupted: 130,
} as const;

/** The exit code for a run stopped by `signal`: 128 + its number, as shells report it. */
export function signalExit(signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP'): number {
  return 128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[signal];
}

/** The exit code a run stands for: interrupted outranks could-not-run, which outranks failed, which outranks ok. */
export function exitCodeFor(result: RunResult): number {
  if (result.interruptedBy !== null) return signalExit(result.interruptedBy);
  if (result.interrupted) return EXIT.interrupted;
  if (result.error !== null) return EXIT.unprobeable;
  if (result.scenarios.some((s) => s.status === 'error')) return EXIT.unprobeable;
  if (result.scenarios.some((s) => s.status === 'fail')) return EXIT.failed;
  return EXIT.ok;
}
