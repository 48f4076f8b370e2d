import { PRESETS } from '../catalog/presets.js';
import { InputError } from '../model/errors.js';
import { METRIC_ENTRIES, entryByAlias } from '../model/metrics.js';
import { didYouMean } from '../util/didYouMean.js';
import { formatDuration } from '../util/duration.js';
import { ExpectationSyntaxError, parseExpectation } from './expectation.js';
import type { Expectation } from './expectation.js';
import type { Scenario } from './scenario.js';

/**
 * Expectations given on the command line (`--expect`, `--behind`): CI gates over the
 * metrics of the run, such as `idle-timeout>=60s` or `timeout-mismatch.outcome=ok`. A
 * failed gate makes its scenario `fail` (exit code 1). See docs/expectations.md.
 */
export interface Gate {
  /** As the user wrote it. */
  readonly text: string;
  readonly scenario: string;
  readonly metric: string;
  readonly expectation: Expectation;
  /** Where a preset's threshold comes from, shown in the report. */
  readonly source: string | null;
}

/** A gate that cannot be checked by this run: names what is missing. */
export class GateError extends InputError {}

/**
 * Resolves `--expect` texts and `--behind` presets against the scenarios this run will
 * execute. `command`: which command's scenarios they are, for the hint when one is missing
 * (`run` selects more with --scenario; `analyze` has a fixed set).
 */
export function resolveGates(
  expects: readonly string[],
  behind: readonly string[],
  scenarios: readonly Scenario[],
  maxIdleMs: number,
  command: 'run' | 'analyze' = 'run',
): Gate[] {
  const gates = expects.map((text) => resolve(text, null, scenarios, command));
  for (const name of behind) {
    const preset = PRESETS[name];
    if (preset === undefined)
      throw new GateError(`unknown --behind "${name}"${didYouMean(name, Object.keys(PRESETS))}: one of ${Object.keys(PRESETS).join(', ')}`);
    const gate = resolve(preset.expect, preset.source, scenarios, command);
    const threshold = gate.expectation.value;
    if (typeof threshold === 'number' && maxIdleMs <= threshold) {
      throw new GateError(
        `--behind ${name} checks an idle timeout above ${formatDuration(threshold)}: raise --max-idle above that (it is ${formatDuration(maxIdleMs)})`,
      );
    }
    gates.push(gate);
  }
  return gates;
}

function resolve(text: string, source: string | null, scenarios: readonly Scenario[], command: 'run' | 'analyze'): Gate {
  let expectation: Expectation;
  try {
    expectation = parseExpectation(text);
  } catch (err) {
    if (err instanceof ExpectationSyntaxError) throw new GateError(`--expect: ${err.message}`);
    throw err;
  }
  const [scenarioId, metric] = target(expectation.metric);
  const scenario = scenarios.find((s) => s.id === scenarioId);
  if (scenario === undefined) {
    const hint =
      command === 'run'
        ? `which this run does not include (add --scenario ${scenarioId})`
        : `which a capture does not answer (analyze reports ${scenarios.map((s) => s.id).join(', ')})`;
    throw new GateError(`--expect ${text}: needs scenario "${scenarioId}", ${hint}`);
  }
  if (!(metric in scenario.metrics)) {
    throw new GateError(
      `--expect ${text}: scenario "${scenarioId}" has no metric "${metric}"${didYouMean(metric, Object.keys(scenario.metrics))} (metrics: ${Object.keys(scenario.metrics).join(', ')})`,
    );
  }
  return { text, scenario: scenarioId, metric, expectation, source };
}

/** `idle-timeout`, `request-cap.maxRequests` or `request-cap.max-requests` → [scenario, metric]. */
function target(name: string): [string, string] {
  const alias = entryByAlias(name);
  if (alias !== undefined) return [alias.scenarios[0], alias.name];
  const dot = name.indexOf('.');
  if (dot === -1) {
    throw new GateError(
      `--expect: unknown metric "${name}"${didYouMean(
        name,
        METRIC_ENTRIES.flatMap((e) => e.alias ?? []),
      )}: write <scenario>.<metric> (for example timeout-mismatch.outcome) or one of ${METRIC_ENTRIES.flatMap((e) => e.alias ?? []).join(', ')}`,
    );
  }
  const metric = name.slice(dot + 1).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return [name.slice(0, dot), metric];
}
