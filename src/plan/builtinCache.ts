import type { Scenario } from './scenario.js';

/** A built-in scenario as parsed from its file: the text it was parsed from, and the scenario (`source`: the file's name). */
export interface ParsedBuiltin {
  readonly text: string;
  readonly scenario: Scenario;
}

/** The built-in scenarios parsed at build time: the schema they were validated against, and each file's parse by file name. */
export interface ParsedBuiltins {
  readonly schema: string;
  readonly files: Readonly<Record<string, ParsedBuiltin>>;
}

/**
 * The built-in scenarios parsed at build time (loadScenario.ts parseBuiltins: ParsedBuiltins
 * as JSON), or null. In src/ it is null and every built-in is parsed
 * from its YAML; scripts/build.mjs replaces this module in the bundle with the parsed ones,
 * so that a run of the built-ins loads neither the YAML parser nor the schema validator, nor
 * builds their objects: together they were ~10 MiB of a run's peak RSS (bench/suite-memory.mjs).
 */
export const PARSED_BUILTINS: string | null = null;
