import type { ExpectationResult, ProbeErrorInfo, ScenarioStatus } from '../model/result.js';

/**
 * A scenario's status, decided once every expectation is known (its file's, the command
 * line's gates and the hop rule): error when it could not run, fail when an expectation of
 * severity fail did not hold, warn when only warnings did not, pass otherwise.
 */
export function statusOf(error: ProbeErrorInfo | null, expectations: readonly ExpectationResult[]): ScenarioStatus {
  if (error !== null) return 'error';
  if (expectations.some((e) => !e.ok && e.severity === 'fail')) return 'fail';
  if (expectations.some((e) => !e.ok)) return 'warn';
  return 'pass';
}
