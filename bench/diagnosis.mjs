// Time to a diagnosis: the whole default suite (`keepalive-probe run <url>`) against servers
// with a known idle timeout T, as wall time of the whole process against T, its floor (the
// idle timeout has to be waited out once). Servers: the embedded lab (`serve`) and, when Go is
// installed, Go's net/http (test/fixtures/go-server), each on 127.0.0.1, each run `rounds` times
// alternating between the servers.
// Usage: npm run build && node bench/diagnosis.mjs [rounds] [T in ms]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.argv[2] ?? 3);
const idleMs = Number(process.argv[3] ?? 2000);
const bin = fileURLToPath(new URL('../bin/keepalive-probe.js', import.meta.url));
const goServer = fileURLToPath(new URL('../test/fixtures/go-server', import.meta.url));

/** Starts a server process that prints its URL on its first line of stdout (or, for serve, its log line). */
function start(command, args, urlOf) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} printed no URL within 10 s`)), 10_000);
    lines.on('line', (line) => {
      const url = urlOf(line);
      if (url === null) return;
      clearTimeout(timer);
      resolve({ url, stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', (code) => reject(new Error(`${command} exited ${code}`)));
  });
}

const servers = [];
const port = 18000 + Math.floor(Math.random() * 1000);
servers.push({
  name: 'lab',
  ...(await start(process.execPath, [bin, 'serve', '--port', String(port), '--idle-timeout', `${idleMs}ms`, '--max-requests', '100'], (line) =>
    line.includes(`127.0.0.1:${port}`) ? `http://127.0.0.1:${port}/` : null,
  )),
});
let goDir = null;
if (spawnSync('go', ['version']).status === 0) {
  goDir = mkdtempSync(path.join(tmpdir(), 'kap-bench-go-'));
  execFileSync('go', ['build', '-o', path.join(goDir, 'server'), '.'], {
    cwd: goServer,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOCACHE: path.join(goDir, 'cache') },
  });
  servers.push({
    name: 'go',
    ...(await start(path.join(goDir, 'server'), ['-idle', `${idleMs}ms`], (line) => (line.startsWith('http://') ? line.trim() : null))),
  });
}

const walls = new Map(servers.map((s) => [s.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const s of servers) {
    const started = performance.now();
    const run = spawnSync(process.execPath, [bin, 'run', s.url, '--json', '-q'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const wall = performance.now() - started;
    if (run.status !== 0 && run.status !== 1) throw new Error(`run against ${s.name} exited ${run.status}: ${run.stderr}`);
    walls.get(s.name).push(wall);
  }
}
for (const s of servers) s.stop();
if (goDir !== null) rmSync(goDir, { recursive: true, force: true });

console.log(`full default suite, wall time of the whole process against T = ${idleMs} ms (${rounds} rounds, alternating servers)`);
for (const [name, xs] of walls) {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const show = (x) => `${(x / 1000).toFixed(2)} s`;
  console.log(
    `  ${name.padEnd(4)} min ${show(sorted[0])} / median ${show(median)} / max ${show(sorted.at(-1))}: median ${(median / idleMs).toFixed(2)} T, T + ${((median - idleMs) / 1000).toFixed(2)} s`,
  );
}
