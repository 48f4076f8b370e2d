import { BUILTIN_ORDER } from '../catalog/builtinScenarios.js';
import { loadBuiltinScenarios } from './loadBuiltins.js';
import { ScenarioFileError } from './scenarioFile.js';
import type { Scenario } from './scenario.js';
import { UsageError } from '../model/errors.js';
import { didYouMean } from '../util/didYouMean.js';

/**
 * The scenarios asked for: all built-ins when none is named; otherwise each `--scenario`
 * is a built-in id or a scenario file path (`alwaysBuiltins`: list them all plus the files). Throws UsageError (unknown id)
 * or ScenarioFileError (invalid file), both exit code 2.
 */
export async function selectScenarios(names: readonly string[], alwaysBuiltins: boolean): Promise<Scenario[]> {
  const builtins = await loadBuiltinScenarios();
  if (names.length === 0) return builtins;
  const chosen: Scenario[] = alwaysBuiltins ? [...builtins] : [];
  for (const name of names) {
    const builtin = builtins.find((s) => s.id === name);
    if (builtin !== undefined) {
      if (!chosen.includes(builtin)) chosen.push(builtin);
      continue;
    }
    if (!looksLikeFile(name)) {
      throw new UsageError(
        `unknown scenario "${name}"${didYouMean(name, BUILTIN_ORDER)}: built-in scenarios are ${BUILTIN_ORDER.join(', ')}; a scenario file path must contain "/" or end in .yaml, .yml or .json`,
      );
    }
    // The YAML parser and the schema validator load only for a scenario file.
    const { loadScenarioFile } = await import('./loadScenario.js');
    const scenario = await loadScenarioFile(name);
    const clash = chosen.find((s) => s.id === scenario.id);
    if (clash !== undefined) {
      throw new ScenarioFileError(name, null, 'id', `"${scenario.id}" is already used by ${clash.source}; give this scenario another id`);
    }
    chosen.push(scenario);
  }
  return chosen;
}

function looksLikeFile(name: string): boolean {
  return name.includes('/') || name.includes('\\') || /\.(ya?ml|json)$/i.test(name);
}
