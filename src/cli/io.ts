/** One error line on stderr, prefixed with the tool's name: the one format of every error the CLI prints. */
export function writeError(message: string): void {
  process.stderr.write(`keepalive-probe: ${message}\n`);
}
