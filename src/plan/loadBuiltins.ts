import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { BUILTIN_ORDER } from '../catalog/builtinScenarios.js';
import { PARSED_BUILTINS } from './builtinCache.js';
import type { ParsedBuiltin, ParsedBuiltins } from './builtinCache.js';
import type { Scenario } from './scenario.js';
import { SCENARIO_DIR, SCHEMA_FILE, readScenarioText } from './scenarioFile.js';

/**
 * Loads every built-in scenario, in BUILTIN_ORDER. A file whose text is the one parsed at
 * build time (`parsed`, builtinCache.ts), with the schema it was validated against, takes that
 * parse; any other (edited since the build, or no build: src/) is parsed and validated here,
 * with the YAML parser and the validator loaded only then.
 */
export async function loadBuiltinScenarios(parsed: string | null = PARSED_BUILTINS): Promise<Scenario[]> {
  const files = (await readdir(SCENARIO_DIR)).filter((f) => f.endsWith('.yaml'));
  const stored = parsed === null ? null : (JSON.parse(parsed) as ParsedBuiltins);
  const schema = stored === null ? null : await readFile(SCHEMA_FILE, 'utf8').catch(() => null);
  const known: Readonly<Record<string, ParsedBuiltin>> = stored !== null && stored.schema === schema ? stored.files : {};
  const scenarios = await Promise.all(
    files.map(async (name) => {
      const file = path.join(SCENARIO_DIR, name);
      const text = await readScenarioText(file);
      const built = Object.hasOwn(known, name) ? known[name] : undefined;
      // The path replaces the stored name where it stands: the scenario's fields keep the parser's order.
      if (built !== undefined && built.text === text) return { ...built.scenario, source: file };
      const { parseScenario } = await import('./loadScenario.js');
      return parseScenario(text, file);
    }),
  );
  const rank = (id: string): number => {
    const i = BUILTIN_ORDER.indexOf(id);
    return i === -1 ? BUILTIN_ORDER.length : i;
  };
  return scenarios.sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id));
}
