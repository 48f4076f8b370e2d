import { distance } from 'fastest-levenshtein';

/**
 * ` (did you mean X?)` for the candidate closest to a mistyped `input`, when it is close
 * enough to be a typo (at most a third of its length changed, and at least 1 edit, at most
 * 3); '' otherwise. Edit distance by fastest-levenshtein.
 */
export function didYouMean(input: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(input.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const allowed = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  return best !== null && bestDistance <= allowed ? ` (did you mean ${best}?)` : '';
}
