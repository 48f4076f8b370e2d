import { spawn } from 'node:child_process';
import path from 'node:path';

/** The built binary, as users run it (npm test builds it first). */
export const BIN = path.resolve(import.meta.dirname, '../../bin/keepalive-probe.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with a bounded wait; the child is killed if it outlives `timeoutMs`. */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts the CLI, waits (up to 10 s) until `ready()` holds, lets it run 300 ms more, sends
 * `signal` (SIGINT, as Ctrl-C does, by default), and returns the exit code (null when killed
 * by a signal it does not handle), the signal that ended it, stderr and the time from the
 * signal to exit. A child still running 20 s after the signal is killed. `env` is added to this process's environment.
 */
export async function interruptCli(
  args: readonly string[],
  ready: () => boolean | Promise<boolean>,
  signal: NodeJS.Signals = 'SIGINT',
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; endedBy: NodeJS.Signals | null; stderr: string; tookMs: number }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let endedBy: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code, by) => {
      endedBy = by;
      resolve(code);
    }),
  );
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  for (const deadline = performance.now() + 10_000; !(await ready()); await sleep(20)) {
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`the CLI never got ready to interrupt (run ${args.join(' ')}): ${stderr}`);
    }
  }
  await sleep(300);
  const sentAt = performance.now();
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, endedBy, stderr, tookMs: performance.now() - sentAt };
}
