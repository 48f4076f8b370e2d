import type { HttpVersion } from '../model/events.js';
import type { BodyFraming } from './responseParser.js';

/** What the persistence decision needs to know about one exchange. */
export interface PersistenceInput {
  readonly requestVersion: HttpVersion;
  /** Lower-cased Connection tokens the request carried. */
  readonly requestTokens: readonly string[];
  readonly responseVersionMinor: 0 | 1;
  /** Lower-cased Connection tokens of the response. */
  readonly responseTokens: readonly string[];
  readonly framing: BodyFraming;
}

/**
 * Whether the connection stays open after this exchange, per RFC 9112 §9.3:
 * `close` in either message ends it; a close-delimited body ends it (§9.3: persistence
 * needs a self-defined length); an HTTP/1.1 response persists; an HTTP/1.0 response
 * persists only with `keep-alive`, and only if the request asked for it (Appendix C.2.2).
 */
export function isPersistent(input: PersistenceInput): boolean {
  if (input.requestTokens.includes('close') || input.responseTokens.includes('close')) return false;
  if (input.framing.kind === 'close') return false;
  if (input.requestVersion === '1.0' && !input.requestTokens.includes('keep-alive')) return false;
  if (input.responseVersionMinor === 1) return true;
  return input.responseTokens.includes('keep-alive');
}

/** Splits a Connection header value into lower-cased tokens. */
export function tokenize(value: string | null): string[] {
  if (value === null) return [];
  return value
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token.length > 0);
}
