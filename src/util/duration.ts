/** A duration string the user wrote that we cannot read. */
export class DurationError extends Error {
  constructor(readonly input: string) {
    super(`invalid duration "${input}": use a number with a unit, for example 1500ms, 2s, 1.5s or 2m`);
    this.name = 'DurationError';
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/**
 * Parses `1500ms`, `2s`, `1.5s`, `2m`, `1h` into whole milliseconds. A bare number is
 * rejected: "30" could mean seconds (nginx) or milliseconds (Node), and guessing is how
 * keep-alive mismatches start.
 */
export function parseDuration(input: string): number {
  const match = DURATION.exec(input.trim());
  if (match === null) throw new DurationError(input);
  const ms = Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
  if (!Number.isSafeInteger(ms)) throw new DurationError(input);
  return ms;
}

/** Formats milliseconds for people: `850 ms`, `3 s`, `1.5 s`, `2 min`, `1 min 30 s`. */
export function formatDuration(ms: number): string {
  const rounded = Math.round(ms);
  if (Math.abs(rounded) < 1000) return `${rounded} ms`;
  const s = Number((rounded / 1000).toFixed(Math.abs(rounded) < 10_000 ? 2 : 1));
  // Round before splitting into minutes, so 59 999 ms reads "1 min", not "60 s", and
  // 119 600 ms reads "2 min", not "1 min 60 s".
  if (Math.abs(s) < 60) return `${s} s`;
  const wholeSeconds = Math.round(rounded / 1000);
  const minutes = Math.trunc(wholeSeconds / 60);
  const seconds = wholeSeconds - minutes * 60;
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** A time in ms to 0.1 ms, the precision every figure in the reports carries. */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
