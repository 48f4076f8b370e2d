import { EXIT } from '../report/exitCode.js';
import { escapeForTerminal } from '../report/sanitize.js';
import { ScenarioFileError } from '../scenario/load.js';
import { writeError } from './io.js';
import { selectScenarios } from './selectScenarios.js';

/** `keepalive-probe list`: one line per scenario, id then title. */
export async function listCommand(files: readonly string[]): Promise<number> {
  try {
    const scenarios = await selectScenarios(files, true);
    const width = Math.max(...scenarios.map((s) => s.id.length));
    const lines = scenarios.map((s) => `${s.id.padEnd(width)}  ${escapeForTerminal(s.title)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ScenarioFileError) {
      writeError(`invalid scenario file ${err.message}`);
      return EXIT.usage;
    }
    throw err;
  }
}
