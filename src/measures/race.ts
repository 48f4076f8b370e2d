import { isAnswered } from '../timeline/outcome.js';
import type { RaceReport, RaceTrial } from '../model/result.js';
import { roundMs } from '../util/duration.js';

/**
 * A server that closes an idle connection within this long of a response it announced as
 * persistent allows one request per connection without saying so: no client idle limit is
 * short enough to reuse such a connection safely (and Node and Go read a limit of 0 as "never
 * expire"), so the advice is not to reuse it. Set just above the probe's own stamping delay
 * under load (tests: PROBE_LAG_MS, 50 ms); real idle timeouts are a second or more.
 */
export const IMMEDIATE_CLOSE_MS = 50;

/** True when an idle timeout means "closes right after the response" (see IMMEDIATE_CLOSE_MS). */
export function closesImmediately(idleTimeoutMs: number): boolean {
  return idleTimeoutMs < IMMEDIATE_CLOSE_MS;
}

/**
 * The longest idle time at which a client pool should still reuse a connection to a server
 * that closes idle ones after T: T less a margin of a quarter of T, at least 1 s (half of T
 * when T is under 2 s), and at least twice the measured race window. Timers on both sides
 * fire late and the request travels for half a round trip, so the client's limit needs room.
 * Null when no positive limit is left.
 */
export function safeIdleMs(idleTimeoutMs: number, windowMs = 0): number | null {
  const margin = Math.max(Math.min(1000, idleTimeoutMs / 2), Math.round(idleTimeoutMs * 0.25), Math.ceil(2 * windowMs));
  const safe = Math.round(idleTimeoutMs - margin);
  // None: the margin takes all of T (a race window of half of T or more, or T itself ~0);
  // a limit of 0 would read as "never expire" to Node's agent and Go's Transport.
  return safe > 0 ? safe : null;
}

/** Trials whose request was written while the connection still looked open (no FIN or RST yet) and failed. */
export function failedWhileOpen(trials: readonly RaceTrial[]): RaceTrial[] {
  return trials.filter((t) => !t.closeSeenBeforeWrite && !isAnswered(t.outcome));
}

/**
 * The race report from T and the trials (see RaceReport). `idleTimeoutErrorMs`: T's error
 * bound; the figures' bound adds nothing for the trials that do not decide them, and takes the
 * larger of T's and those of the trials that do (the earliest failure, the last answer before it).
 */
export function summarizeRace(idleTimeoutMs: number | null, trials: readonly RaceTrial[], idleTimeoutErrorMs = 0): RaceReport {
  const errorMs = idleTimeoutErrorMs;
  if (idleTimeoutMs === null) return { idleTimeoutMs, trials, windowMs: null, windowUpperMs: null, safeIdleMs: null, errorMs };
  const failedInTime = failedWhileOpen(trials);
  if (failedInTime.length === 0) {
    return { idleTimeoutMs, trials, windowMs: 0, windowUpperMs: 0, safeIdleMs: safeIdleMs(idleTimeoutMs), errorMs };
  }
  // Failures begin somewhere between the last answered request before the earliest failure
  // and that failure: the offsets are a grid, so the window is known within one step of it.
  const first = failedInTime.reduce((a, b) => (b.idleMs < a.idleMs ? b : a));
  const earliest = first.idleMs;
  const answered = trials.filter((t) => isAnswered(t.outcome) && t.idleMs < earliest);
  const lastOk = answered.reduce<RaceTrial | null>((a, b) => (a === null || b.idleMs > a.idleMs ? b : a), null);
  const windowMs = Math.max(0, roundMs(idleTimeoutMs - earliest));
  const windowUpperMs = Math.max(windowMs, roundMs(idleTimeoutMs - (lastOk?.idleMs ?? 0)));
  return {
    idleTimeoutMs,
    trials,
    windowMs,
    windowUpperMs,
    safeIdleMs: safeIdleMs(idleTimeoutMs, windowUpperMs),
    errorMs: Math.max(errorMs, first.idleErrorMs, lastOk?.idleErrorMs ?? 0),
  };
}

/** Trials grouped by planned offset, in the order planned: offset → outcomes. */
export function byOffset(trials: readonly RaceTrial[]): Map<number, RaceTrial[]> {
  const groups = new Map<number, RaceTrial[]>();
  for (const t of trials) groups.set(t.offsetMs, [...(groups.get(t.offsetMs) ?? []), t]);
  return new Map([...groups].sort(([a], [b]) => a - b));
}
