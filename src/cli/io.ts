/** A mistake on the command line found after parsing (unknown scenario id, bad URL). */
export class UsageError extends Error {}

/** One error line on stderr, prefixed with the tool's name. */
export function writeError(message: string): void {
  process.stderr.write(`keepalive-probe: ${message}\n`);
}
