/** A duration string the user wrote that we cannot read. */
export class DurationError extends Error {
  constructor(readonly input: string) {
    const bare = /^\s*\d+(\.\d+)?\s*$/.test(input);
    super(
      bare
        ? `invalid duration "${input}": give a unit (${input.trim()}s or ${input.trim()}ms?): a bare number could mean seconds or milliseconds`
        : `invalid duration "${input}": use a number with a unit, for example 1500ms, 2s, 1.5s, 2m or 1m30s`,
    );
    this.name = 'DurationError';
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };
/** One part: a number and its unit, spaces allowed between them (`1 min`, as the reports print). */
const PART = /(\d+(?:\.\d+)?)\s*(ms|min|s|m|h)\s*/giy;

/**
 * Parses `1500ms`, `2s`, `1.5s`, `2m`, `1h`, compound `1m30s` and the reports' own
 * `1 min 30 s`, units in any case, into whole milliseconds. A bare number is rejected: "30"
 * could mean seconds (nginx) or milliseconds (Node), and guessing is how keep-alive
 * mismatches start.
 */
export function parseDuration(input: string): number {
  const text = input.trim();
  let ms = 0;
  let at = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    ms += Number(m[1]) * (UNIT_MS[(m[2] as string).toLowerCase()] as number);
    at = PART.lastIndex;
  }
  if (text === '' || at !== text.length) throw new DurationError(input);
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) throw new DurationError(input);
  return rounded;
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
