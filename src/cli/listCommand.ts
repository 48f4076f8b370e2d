import { EXIT } from '../verdict/exitCode.js';
import { sanitize } from '../util/sanitize.js';
import { selectScenarios } from '../plan/selectScenarios.js';

/** `keepalive-probe list`: one line per scenario, id then title. */
export async function listCommand(files: readonly string[]): Promise<number> {
  const scenarios = await selectScenarios(files, true);
  const width = Math.max(...scenarios.map((s) => s.id.length));
  const lines = scenarios.map((s) => `${s.id.padEnd(width)}  ${sanitize(s.title)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
