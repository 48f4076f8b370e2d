import type { ExpectationResult, MetricValue } from '../model/result.js';
import { parseExpectation } from '../plan/expectation.js';
import type { Expectation } from '../plan/expectation.js';
import type { Step } from '../plan/scenario.js';

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

/** The `expect` steps of a scenario file (nested ones too), checked against its final metrics. */
export function scenarioExpectations(steps: readonly Step[], metrics: Readonly<Record<string, MetricValue>>): ExpectationResult[] {
  const results: ExpectationResult[] = [];
  for (const step of steps) {
    if (step.type === 'repeat') results.push(...scenarioExpectations(step.steps, metrics));
    if (step.type !== 'expect') continue;
    const expectation = parseExpectation(step.that);
    const measured = metrics[expectation.metric] ?? null;
    results.push({
      expression: step.that,
      metric: expectation.metric,
      origin: 'scenario',
      severity: step.severity,
      ok: holds(expectation, measured),
      measured,
      message: step.message ?? `expected ${step.that}, measured ${JSON.stringify(measured)}`,
    });
  }
  return results;
}
