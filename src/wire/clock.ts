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
  /** The run clock's reading at a moment another thread read process.hrtime (in ms): the timekeeper's stamps (wire/timekeeper.ts). */
  at(hrMs: number): number;
}

/** The run's clock, watching its event loop until stopped. */
export interface RunClock extends Clock {
  /** The longest the loop went between two check phases so far, ms (0.1 ms steps): the most any stamp of the run may be late. */
  heldMaxMs(): number;
  stop(): void;
}

/** A loop that went this long between two check phases stalled: a stamp in it may be that late (above the 2 ms a timing metric may be off, model/metrics.ts UNCERTAIN_ERROR_MS). */
const STALL_MS = 2;

/** How often the loop watch ticks, ms: the finest a timer runs, and what a quiet stamp's bound comes to. */
const TICK_MS = 1;

/**
 * Starts a run clock at zero, with a bound on how late each stamp is. A socket event is
 * stamped when the event loop runs its callback, not when the bytes arrived: the loop may have
 * been busy with other callbacks, or the process not scheduled at all (a loaded machine).
 * Bytes handed over in one poll phase arrived after the previous poll phase returned without
 * them. A timer ticks every TICK_MS and queues a check-phase callback (setImmediate), which
 * runs right after that iteration's poll phase and records the tick as settled: every settled
 * tick ran before a poll phase that has since returned, so the newest settled one bounds the
 * arrival of whatever a later poll phase hands over. Not the newest tick itself: Node runs
 * every expired timer in one timers phase and refreshes its clock between them, so after a
 * long stall (a busy loop, the process descheduled) several ticks may run back to back before
 * the poll phase that finally hands over bytes that have waited all along. On a quiet machine
 * the bound is about 1 ms; a loop held up by 30 ms gives about 30 ms, whether its own work or
 * the OS held it.
 */
export function startClock(): RunClock {
  const origin = performance.now();
  // The same monotonic clock (uv_hrtime) as performance.now(), read a moment apart: under a microsecond.
  const hrOrigin = Number(process.hrtime.bigint()) / 1e6;
  let last = 0;
  let settled = 0;
  let settledAt = 0;
  let stalledUntil = 0;
  let heldMax = 0;
  const settle = (): void => {
    const now = performance.now() - origin;
    if (now - settledAt > STALL_MS) stalledUntil = now;
    // A stamp made just now could be this late: the bound lateness() gives it.
    heldMax = Math.max(heldMax, now - settled);
    settledAt = now;
    settled = last;
  };
  const tick = setInterval(() => {
    last = performance.now() - origin;
    setImmediate(settle);
  }, TICK_MS);
  tick.unref();
  return {
    now: () => round3(performance.now() - origin),
    lateness: (t) => Math.max(0, round3(t - settled)),
    quietFor: () => performance.now() - origin - stalledUntil,
    at: (hrMs) => round3(hrMs - hrOrigin),
    heldMaxMs: () => Math.round(heldMax * 10) / 10,
    stop: () => clearInterval(tick),
  };
}

/**
 * How late what arrives on one socket may be stamped: the clock's lateness, except just after
 * a read on the same socket. libuv ends a socket's read callback when a read comes back
 * shorter than its buffer (src/unix/stream.c uv__read: "Return if we didn't fill the buffer,
 * there is no more data to read"), so what arrived right behind those bytes (the FIN behind a
 * GOAWAY, the next segment) is handed over in the next poll phase, after a check phase that
 * may have settled a tick taken while it waited. Until a tick taken after that read has
 * settled, the next arrival is bounded by the read's own settled tick. (Seen under load: a FIN
 * stamped 75 ms after the GOAWAY it followed by 5 ms on the wire, 228 ms late against a bound
 * of 161.)
 */
export class SocketArrivals {
  private lastT = Number.NEGATIVE_INFINITY;
  private lastSettled = 0;

  /**
   * The bound for something on this socket stamped at `t` (the socket's arrivals in order),
   * given the stamping loop's own lateness for it (Clock.lateness, or the timekeeper thread's).
   */
  lateness(t: number, own: number): number {
    const late = t - own < this.lastT ? Math.max(own, round3(t - this.lastSettled)) : own;
    this.lastT = t;
    this.lastSettled = t - late;
    return late;
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
