import { InvalidArgumentError } from 'commander';
import { DurationError, parseDuration } from '../util/duration.js';

/** Commander argument parser for durations (`1500ms`, `2s`, `1.5s`, `2m`). */
export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    if (err instanceof DurationError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** A duration that must be positive (a zero deadline would fail every request). */
export function positiveDurationArg(value: string): number {
  const ms = durationArg(value);
  if (ms <= 0) throw new InvalidArgumentError('must be more than 0');
  return ms;
}

/** Commander argument parser for a whole number within bounds. */
export function integerArg(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
}

/** Commander argument parser for a TCP port (0 = pick a free one). */
export const portArg = integerArg(0, 65535);

/** Headers the scenarios own: a user value would change what they test. */
const SCENARIO_OWNED = new Set(['connection', 'keep-alive', 'content-length', 'transfer-encoding', 'upgrade', 'te']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Commander collector for repeatable `-H "Name: value"`. */
export function headerArg(value: string, previous: readonly (readonly [string, string])[] | undefined): (readonly [string, string])[] {
  const colon = value.indexOf(':');
  const name = colon === -1 ? '' : value.slice(0, colon).trim();
  const headerValue = colon === -1 ? '' : value.slice(colon + 1).trim();
  if (!TOKEN.test(name)) throw new InvalidArgumentError('expected "Name: value"');
  if (/[\r\n\0]/.test(headerValue)) throw new InvalidArgumentError('header values cannot contain CR, LF or NUL');
  if (SCENARIO_OWNED.has(name.toLowerCase())) {
    throw new InvalidArgumentError(`${name} is set by each scenario (it decides what is being tested); write a scenario file to change it`);
  }
  return [...(previous ?? []), [name, headerValue]];
}

/** Commander collector for repeatable options (none given: undefined, read as an empty list). */
export function collect(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A default duration as a user would type it: 90000 → `90s`, 1500 → `1500ms`, 120000 → `2m`. */
export function formatFlagDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Commander argument parser for an HTTP method token. */
export function methodArg(value: string): string {
  const method = value.toUpperCase();
  if (!TOKEN.test(method)) throw new InvalidArgumentError('expected an HTTP method such as GET or HEAD');
  return method;
}
