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
export class ExpectationSyntaxError extends Error {}

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
  if (raw === 'null') return null;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(raw)) return parseDuration(raw);
  if (op !== '=' && op !== '!=') {
    throw new ExpectationSyntaxError(`cannot read expectation "${text}": ${op} needs a number or a duration, got "${raw}"`);
  }
  return raw;
}

/** True when the measured value satisfies the expectation. */
export function holds(expectation: Expectation, measured: MetricValue): boolean {
  const { op, value } = expectation;
  if (op === '=') return measured === value;
  if (op === '!=') return measured !== value;
  if (typeof measured !== 'number' || typeof value !== 'number') return false;
  switch (op) {
    case '<':
      return measured < value;
    case '<=':
      return measured <= value;
    case '>':
      return measured > value;
    case '>=':
      return measured >= value;
  }
}
