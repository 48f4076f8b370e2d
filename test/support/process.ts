import { afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** A server process started by a test. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `command args` and waits (bounded) for it to print its URL as the first stdout
 * line. The process is killed by pid on stop(), also when the wait fails.
 */
export function startServerProcess(command: string, args: readonly string[], waitMs = 10_000): Promise<ServerProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`${command} ${args.join(' ')}: ${why}\n${stderr}`)));
    };
    const timer = setTimeout(() => fail(`no URL printed within ${waitMs} ms`), waitMs);
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code) => fail(`exited with ${code}`));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ url: line.trim(), child, stop });
      }
    });
  });
}

/**
 * For a test file: `start(command, args)` launches a URL-printing server (startServerProcess)
 * and every server started in a test is stopped after it, also when the test fails.
 */
export function useServerProcesses(): (command: string, args: readonly string[]) => Promise<string> {
  const running: ServerProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  return async (command, args) => {
    const server = await startServerProcess(command, args);
    running.push(server);
    return server.url;
  };
}
