import { performance } from 'node:perf_hooks';

/** A monotonic clock with its origin at the start of a run (wall-clock changes never move it). */
export interface Clock {
  /** Milliseconds since the run started, with sub-millisecond precision. */
  now(): number;
}

/** Starts a run clock at zero. */
export function startClock(): Clock {
  const origin = performance.now();
  return { now: () => round3(performance.now() - origin) };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
