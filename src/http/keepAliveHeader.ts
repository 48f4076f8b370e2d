import { isFieldName } from './fieldName.js';

/** Header fields as parsed: name as sent, value trimmed. */
export type HeaderList = readonly (readonly [string, string])[];

/** The parameters of a `Keep-Alive` response header (RFC 2068 §19.7.1.1, still sent by nginx, Apache, Node). */
export interface KeepAliveParams {
  readonly raw: string;
  /** `timeout=` in seconds, or null when absent or invalid. */
  readonly timeoutS: number | null;
  /** `max=`: requests left on this connection, or null. */
  readonly max: number | null;
  /** Parameters that were present but unreadable, as sent. */
  readonly invalid: readonly string[];
}

/** The first value of a header (case-insensitive name), or null. */
export function headerValue(headers: HeaderList, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [n, v] of headers) if (n.toLowerCase() === lower) return v;
  return null;
}

/** All values of a header joined with ", " (RFC 9110 §5.3), or null when absent. */
export function joinedValue(headers: HeaderList, name: string): string | null {
  const lower = name.toLowerCase();
  let joined: string | null = null;
  // A loop, and names compared without lowercasing them: this runs on every response.
  for (const [n, v] of headers) {
    if (isFieldName(n, lower)) joined = joined === null ? v : `${joined}, ${v}`;
  }
  return joined;
}

/** Parses `Keep-Alive: timeout=5, max=100` (all fields joined), or null when there is none. */
export function parseKeepAlive(headers: HeaderList): KeepAliveParams | null {
  const raw = joinedValue(headers, 'keep-alive');
  if (raw === null) return null;
  let timeoutS: number | null = null;
  let max: number | null = null;
  const invalid: string[] = [];
  for (const part of raw.split(',')) {
    const param = part.trim();
    if (param.length === 0) continue;
    const eq = param.indexOf('=');
    const key = (eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase();
    const value =
      eq === -1
        ? ''
        : param
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    if (key !== 'timeout' && key !== 'max') continue; // unknown parameters are allowed and ignored
    if (!/^\d{1,9}$/.test(value)) {
      invalid.push(param);
      continue;
    }
    if (key === 'timeout' && timeoutS === null) timeoutS = Number(value);
    if (key === 'max' && max === null) max = Number(value);
  }
  return { raw, timeoutS, max, invalid };
}
