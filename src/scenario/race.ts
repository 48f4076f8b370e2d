import type { RaceReport, RaceTrial } from '../model/result.js';

/**
 * The margin below T a client pool keeps: a quarter of T, at least 1 s (half of T when T is
 * under 2 s), and at least twice the measured race window. Timers on both sides fire late and
 * the request travels for half a round trip, so the client's limit needs room below T.
 */
export function clientMarginMs(idleTimeoutMs: number, windowMs = 0): number {
  return Math.max(Math.min(1000, idleTimeoutMs / 2), Math.round(idleTimeoutMs * 0.25), Math.ceil(2 * windowMs));
}

/** The race report from T and the trials (see RaceReport). */
export function summarizeRace(idleTimeoutMs: number | null, trials: readonly RaceTrial[]): RaceReport {
  if (idleTimeoutMs === null) return { idleTimeoutMs, trials, windowMs: null, safeIdleMs: null };
  const failedInTime = trials.filter((t) => !t.closeSeenBeforeWrite && t.outcome !== 'ok');
  const earliest = Math.min(...failedInTime.map((t) => t.idleMs));
  const windowMs = failedInTime.length === 0 ? 0 : Math.max(0, Math.round((idleTimeoutMs - earliest) * 10) / 10);
  return { idleTimeoutMs, trials, windowMs, safeIdleMs: Math.round(Math.max(0, idleTimeoutMs - clientMarginMs(idleTimeoutMs, windowMs))) };
}

/** Trials grouped by planned offset, in the order planned: offset → outcomes. */
export function byOffset(trials: readonly RaceTrial[]): Map<number, RaceTrial[]> {
  const groups = new Map<number, RaceTrial[]>();
  for (const t of trials) groups.set(t.offsetMs, [...(groups.get(t.offsetMs) ?? []), t]);
  return new Map([...groups].sort(([a], [b]) => a - b));
}
