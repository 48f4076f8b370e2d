import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { it } from 'vitest';

/**
 * Harness for real servers (nginx, Apache httpd, HAProxy, Tomcat, Go): find the binary,
 * start it in the foreground with a config the test wrote, wait until it answers, stop it by
 * process group. Never systemd, never the package's default config.
 */

/**
 * The path of a server binary, or null. A missing binary skips that server's tests with a
 * loud message naming the install command; under CI=true it is a failing test instead, so a
 * skip can never hide a broken install.
 */
export function serverBinary(name: string, candidates: readonly string[], install: string): string | null {
  const found = candidates.find((p) => existsSync(p)) ?? which(name);
  if (found !== null) return found;
  if (process.env.CI === 'true') {
    it(`${name} is installed`, () => {
      throw new Error(`${name} is missing on this CI machine: ${install}`);
    });
  } else {
    process.stderr.write(`\n*** SKIPPING the ${name} tests: ${name} is not installed. Install it with: ${install} ***\n\n`);
  }
  return null;
}

function which(name: string): string | null {
  const out = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = out.stdout.trim();
  return out.status === 0 && path !== '' ? path : null;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningServer {
  readonly child: ChildProcess;
  /** What the server wrote on stdout and stderr so far (for failure messages). */
  output(): string;
  /** Stops the whole process group (SIGTERM, then SIGKILL after 5 s). Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** A URL that answers once the server is ready. */
  readonly readyUrl: string;
  readonly readyTimeoutMs?: number;
}

/** Starts a server in the foreground in its own process group and waits (bounded) until `readyUrl` answers. */
export async function startServer(command: string, args: readonly string[], options: StartOptions): Promise<RunningServer> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const server: RunningServer = {
    child,
    output: () => output,
    stop: async () => {
      if (stopped) return exited;
      stopped = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      signalGroup(child, 'SIGKILL'); // workers a master left behind
    },
  };
  const deadline = performance.now() + (options.readyTimeoutMs ?? 30_000);
  while (performance.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await answers(options.readyUrl)) return server;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await server.stop();
  throw new Error(`${command} ${args.join(' ')} did not answer ${options.readyUrl}:\n${output}`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** One GET with Connection: close; true on any HTTP response within 1 s. */
function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * nginx in the foreground (`master_process on`, one worker) with `http` as its http block's
 * own directives and servers, everything it writes (pid, logs, temp files) in `dir`; ready
 * once `readyUrl` answers HTTP/1.
 */
export function startNginx(bin: string, dir: string, http: string, readyUrl: string): Promise<RunningServer> {
  const conf = path.join(dir, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`).join('\n');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 64; }
http {
  access_log ${path.join(dir, 'access.log')};
${temp}
${http}
}
`,
  );
  // -e: nginx opens its compiled-in error log before it reads the config.
  const args = ['-c', conf, '-p', `${dir}/`, '-e', path.join(dir, 'error.log'), '-g', 'daemon off; master_process on;'];
  return startServer(bin, args, { cwd: dir, readyUrl });
}

const APACHE_MODULES = '/usr/lib/apache2/modules';

/**
 * Apache httpd in the foreground (event MPM, one process of 16 threads) listening on `ports`
 * of 127.0.0.1, with `extraModules` besides those it always needs and `config` after its
 * globals; config, pid, logs, runtime files and DocumentRoot (an index.html saying "ok") all in
 * `dir`; ready once `readyUrl` answers HTTP/1.
 */
export function startApache(
  bin: string,
  dir: string,
  options: { readonly ports: readonly number[]; readonly extraModules?: readonly string[]; readonly config: string; readonly readyUrl: string },
): Promise<RunningServer> {
  writeFileSync(path.join(dir, 'index.html'), 'ok\n');
  writeFileSync(path.join(dir, 'mime.types'), 'text/html html\n');
  const modules = ['mpm_event', 'authz_core', 'dir', 'mime', ...(options.extraModules ?? [])]
    .map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`)
    .join('\n');
  // As root httpd must drop to an unprivileged user for its children (mod_unixd is built in).
  const user = process.getuid?.() === 0 ? 'User www-data\nGroup www-data\n' : '';
  const conf = path.join(dir, 'httpd.conf');
  writeFileSync(
    conf,
    `ServerRoot ${dir}
DefaultRuntimeDir ${dir}
PidFile ${path.join(dir, 'httpd.pid')}
ErrorLog ${path.join(dir, 'error.log')}
LogLevel warn
ServerName 127.0.0.1
${options.ports.map((port) => `Listen 127.0.0.1:${port}`).join('\n')}
${modules}
${user}StartServers 1
ServerLimit 1
ThreadsPerChild 16
MinSpareThreads 4
MaxSpareThreads 16
MaxRequestWorkers 16
TypesConfig ${path.join(dir, 'mime.types')}
DocumentRoot ${dir}
DirectoryIndex index.html
${options.config}
`,
  );
  return startServer(bin, ['-f', conf, '-d', dir, '-DFOREGROUND'], { cwd: dir, readyUrl: options.readyUrl });
}
