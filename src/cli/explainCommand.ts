import { EXIT } from '../verdict/exitCode.js';
import { sanitize } from '../util/sanitize.js';
import { ERROR_CATALOG, findExplanations } from '../catalog/errorCatalog.js';
import { writeError } from './io.js';

/** `keepalive-probe explain <error text>`: what it means on the wire, which scenario reproduces it, what to change. */
export function explainCommand(words: readonly string[]): number {
  const text = words.join(' ');
  const found = findExplanations(text);
  if (found.length === 0) {
    writeError(`no explanation for "${sanitize(text, 80)}": known errors are ${ERROR_CATALOG.map((e) => e.id).join(', ')}`);
    return EXIT.usage;
  }
  const blocks = found.map((e) =>
    [
      `${e.id} — seen in ${e.seenIn}`,
      `  on the wire: ${e.wire}`,
      `  reproduce:   keepalive-probe run <url>  (scenario: ${e.scenario})`,
      `  fix:         ${e.fix}`,
    ].join('\n'),
  );
  process.stdout.write(`${blocks.join('\n\n')}\n`);
  return EXIT.ok;
}
