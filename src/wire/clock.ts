import { performance } from 'node:perf_hooks';

/** A monotonic clock with its origin at the start of a run (wall-clock changes never move it). */
export interface Clock {
  /** Milliseconds since the run started, with sub-millisecond precision. */
  now(): number;
  /**
   * How much earlier than `t` something the probe stamps at `t` may really have happened, ms:
   * called in the same callback as the stamp, it is the time since the event loop last waited
   * for input (see startClock).
   */
  lateness(t: number): number;
  /** Ms since the event loop last went more than STALL_MS without running a tick (since the start, when it never did). */
  quietFor(): number;
}

/** The run's clock, watching its event loop until stopped. */
export interface RunClock extends Clock {
  stop(): void;
}

/** A gap this long between two ticks is a stall: a stamp in it may be that late (above the 2 ms a timing metric may be off, model/metrics.ts UNCERTAIN_ERROR_MS). */
const STALL_MS = 2;

/** How often the loop watch ticks, ms: the finest a timer runs, and what a quiet stamp's bound comes to. */
const TICK_MS = 1;

/**
 * Starts a run clock at zero, with a bound on how late each stamp is. A socket event is
 * stamped when the event loop runs its callback, not when the bytes arrived: the loop may have
 * been busy with other callbacks, or the process not scheduled at all (a loaded machine).
 * Bytes handed over in one poll phase arrived after the previous poll phase returned without
 * them, and a timer ticking every TICK_MS runs between poll phases, so the last tick before
 * the stamp bounds the arrival from below; when that tick ran in the same loop iteration as the
 * stamp (the check phase has not cleared it yet), the poll before it may have returned just
 * before it ran, so the tick before that one bounds it instead. On a quiet machine the bound is
 * about 1 ms; a loop held up by 30 ms gives about 30 ms. It catches the OS scheduling the
 * process late too, since the ticks then run late alike.
 */
export function startClock(): RunClock {
  const origin = performance.now();
  let last = 0;
  let previous = 0;
  let stalledUntil = 0;
  let unsettled = false;
  const settle = (): void => {
    unsettled = false;
  };
  const tick = setInterval(() => {
    previous = last;
    last = performance.now() - origin;
    if (last - previous > STALL_MS) stalledUntil = last;
    if (process.env.KAP_GAPS && last - previous > 2.5)
      process.stderr.write(
        `gap ${previous.toFixed(1)} -> ${last.toFixed(1)} (${(last - previous).toFixed(1)}) hr ${Number(process.hrtime.bigint() / 1000n)}\n`,
      );
    unsettled = true;
    setImmediate(settle);
  }, TICK_MS);
  tick.unref();
  return {
    now: () => round3(performance.now() - origin),
    lateness: (t) => Math.max(0, round3(t - (unsettled ? previous : last))),
    quietFor: () => performance.now() - origin - stalledUntil,
    stop: () => clearInterval(tick),
  };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
