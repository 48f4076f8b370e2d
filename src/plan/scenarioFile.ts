import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../model/errors.js';

/** The folder of built-in scenarios, shipped with the package. */
export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scenarios');

/** The JSON schema every scenario file is validated against. */
export const SCHEMA_FILE = path.join(SCENARIO_DIR, 'schema.json');

/** A scenario file that cannot be used; the message names file, line and field. */
export class ScenarioFileError extends InputError {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly field: string | null,
    readonly reason: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${field === null ? '' : `${field}: `}${reason}`);
    this.name = 'ScenarioFileError';
  }

  override describe(): string {
    return `invalid scenario file ${this.message}`;
  }
}

/** The text of a scenario file. Throws ScenarioFileError when it cannot be read. */
export async function readScenarioText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ScenarioFileError(file, null, null, `cannot read the file (${code})`);
  }
}
