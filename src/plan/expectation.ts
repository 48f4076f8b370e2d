import { InputError } from '../model/errors.js';
import type { MetricValue } from '../model/result.js';
import { parseDuration } from '../util/duration.js';

/** A parsed expectation: `metric`, or `metric <op> literal` (see docs/scenarios.md). */
export interface Expectation {
  readonly text: string;
  readonly metric: string;
  readonly op: Operator;
  readonly value: MetricValue;
}

export type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** An expectation that does not parse. */
export class ExpectationSyntaxError extends InputError {}

const FORM = /^\s*([A-Za-z][A-Za-z0-9.-]*)\s*(?:(!=|<=|>=|=|<|>)\s*(\S+)\s*)?$/;

/** Parses `reused`, `idleTimeoutMs >= 60s`, `closeKind = fin`, `maxRequests != null`. Durations become ms. */
export function parseExpectation(text: string): Expectation {
  const match = FORM.exec(text);
  if (match === null) {
    throw new ExpectationSyntaxError(`cannot read expectation "${text}": expected "<metric>" or "<metric> <op> <value>" with op one of = != < <= > >=`);
  }
  const [, metric = '', op, raw] = match;
  if (op === undefined || raw === undefined) return { text, metric, op: '=', value: true };
  return { text, metric, op: op as Operator, value: literal(raw, op as Operator, text) };
}

function literal(raw: string, op: Operator, text: string): MetricValue {
  // `a ==b`, `a =<5`, `a !==false` would otherwise compare against the string "=b", "<5", "=false".
  if (/^[=<>!]/.test(raw)) {
    throw new ExpectationSyntaxError(`cannot read expectation "${text}": unexpected "${raw[0] ?? ''}" after "${op}"; op is one of = != < <= > >=`);
  }
  const value = raw === 'null' ? null : raw === 'true' ? true : raw === 'false' ? false : numberOrText(raw);
  // `< null` or `>= true` would never hold; say so instead of failing quietly at run time.
  if (op !== '=' && op !== '!=' && typeof value !== 'number') {
    throw new ExpectationSyntaxError(`cannot read expectation "${text}": ${op} needs a number or a duration, got "${raw}"`);
  }
  return value;
}

function numberOrText(raw: string): number | string {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(raw)) return parseDuration(raw);
  return raw;
}
