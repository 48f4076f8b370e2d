import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../wire/clock.js';

/** The closest two timed idle periods of a run begin (and so end, one idle timeout later), ms. */
const SPACING_MS = 15;

/**
 * When the run's timed idle periods begin. Each ends with the server's close one idle timeout
 * after it began, so idle periods that begin together end together too, and the closes then
 * arrive in one burst that makes the probe stamp all of them late. A `timed` request sent again
 * (runScenario's settleIdleStart) takes the next start at least SPACING_MS after every other
 * one the run has begun or planned.
 */
export class TimedStarts {
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  /** Notes an idle period that began at `t` (a response), so later ones keep their distance. */
  began(t: number): void {
    this.last = Math.max(this.last, t);
  }

  /** Waits for the next free start; stopped by `signal`. */
  async next(signal: AbortSignal): Promise<void> {
    const at = Math.max(this.clock.now(), this.last + SPACING_MS);
    this.last = at;
    const wait = at - this.clock.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
  }
}
