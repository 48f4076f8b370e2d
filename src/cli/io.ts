import { fstatSync, writeSync } from 'node:fs';

/** One error line on stderr, prefixed with the tool's name: the one format of every error the CLI prints. */
export function writeError(message: string): void {
  process.stderr.write(`keepalive-probe: ${message}\n`);
}

/**
 * Whether stdout is a pipe, a file or a socket, so never a terminal: help and --version then
 * go to fd 1 in one write (writeStdoutSync), without process.stdout, whose stream set-up was
 * ~2 ms of a ~60 ms start (issue 14). A character device may be a terminal (or /dev/null):
 * the stream then, with the terminal's width.
 */
export function stdoutIsNotTerminal(): boolean {
  try {
    const stat = fstatSync(1);
    return stat.isFIFO() || stat.isFile() || stat.isSocket();
  } catch {
    return false;
  }
}

/**
 * Writes `text` to fd 1 synchronously. What a full non-blocking pipe refuses (EAGAIN) goes
 * through process.stdout; a pipe whose reader is gone (EPIPE, `| head`) ends the output.
 */
export function writeStdoutSync(text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(1, bytes, written);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return;
    if (code !== 'EAGAIN') throw err;
    process.stdout.write(bytes.subarray(written));
  }
}
