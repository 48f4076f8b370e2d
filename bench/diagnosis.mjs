// Time to a diagnosis: the whole default suite (`keepalive-probe run <url>`) against servers
// with a configured idle timeout T, as wall time of the whole process against T, its floor (the
// idle timeout has to be waited out once), and against the idle timeout the probe measured
// (a server may close later than configured: Tomcat's poller checks now and then). Servers: the embedded lab (`serve`) and, when
// installed, Go's net/http (test/fixtures/go-server), nginx (keepalive_timeout T) and Tomcat 10
// (Debian's tomcat10, keepAliveTimeout T), each on 127.0.0.1, each run `rounds` times
// alternating between the servers.
// Usage: npm run build && node bench/diagnosis.mjs [rounds] [T in ms]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
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

/** Resolves once `port` answers an HTTP request (a server that logs nothing when ready), within `ms`. */
async function answering(port, ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      const settle = (answered) => {
        socket.destroy();
        resolve(answered);
      };
      socket.once('data', () => settle(true));
      socket.once('error', () => settle(false));
      socket.setTimeout(1000, () => settle(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`nothing answered on 127.0.0.1:${port} within ${ms} ms`);
}

/** A server run as a child with its own directory; `stop` kills it and removes the directory. */
async function startDaemon(name, command, args, options, port) {
  const child = spawn(command, args, { stdio: 'ignore', ...options });
  await answering(port, 60_000);
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(options.cwd, { recursive: true, force: true });
  };
  return { name, url: `http://127.0.0.1:${port}/`, stop };
}

const seconds = `${idleMs / 1000}`;
if (existsSync('/usr/sbin/nginx')) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-bench-nginx-'));
  const nginxPort = port + 1;
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  keepalive_timeout ${seconds}s; keepalive_requests 1000;
  server { listen 127.0.0.1:${nginxPort}; location / { return 200 "ok\n"; } } }
`,
  );
  servers.push(await startDaemon('nginx', '/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { cwd: dir }, nginxPort));
}
const catalinaHome = '/usr/share/tomcat10';
if (existsSync(`${catalinaHome}/bin/catalina.sh`)) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-bench-tomcat-'));
  const tomcatPort = port + 2;
  for (const sub of ['conf', 'logs', 'temp', 'work', 'webapps/ROOT']) mkdirSync(path.join(dir, sub), { recursive: true });
  copyFileSync(
    ['/etc/tomcat10/web.xml', `${catalinaHome}/conf/web.xml`].find((p) => existsSync(p)),
    path.join(dir, 'conf', 'web.xml'),
  );
  writeFileSync(path.join(dir, 'webapps', 'ROOT', 'index.html'), 'ok\n');
  writeFileSync(
    path.join(dir, 'conf', 'server.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN"><Service name="Catalina">
  <Connector protocol="HTTP/1.1" address="127.0.0.1" port="${tomcatPort}" keepAliveTimeout="${idleMs}" maxKeepAliveRequests="100" />
  <Engine name="Catalina" defaultHost="localhost"><Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" /></Engine>
</Service></Server>
`,
  );
  const env = { ...process.env, CATALINA_HOME: catalinaHome, CATALINA_BASE: dir, CATALINA_TMPDIR: path.join(dir, 'temp') };
  servers.push(await startDaemon('tomcat', `${catalinaHome}/bin/catalina.sh`, ['run'], { cwd: dir, env }, tomcatPort));
}

const walls = new Map(servers.map((s) => [s.name, []]));
/** The idle timeout each server really has, as the probe measured it (idle-timeout's slowest sample): Tomcat's poller closes later than configured. */
const measured = new Map(servers.map((s) => [s.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const s of servers) {
    const started = performance.now();
    const run = spawnSync(process.execPath, [bin, 'run', s.url, '--json', '-q'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const wall = performance.now() - started;
    if (run.status !== 0 && run.status !== 1) throw new Error(`run against ${s.name} exited ${run.status}: ${run.stderr}`);
    walls.get(s.name).push(wall);
    const idle = JSON.parse(run.stdout).scenarios.find((x) => x.id === 'idle-timeout')?.metrics.idleTimeoutMaxMs;
    if (typeof idle === 'number') measured.get(s.name).push(idle);
  }
}
for (const s of servers) s.stop();
if (goDir !== null) rmSync(goDir, { recursive: true, force: true });

console.log(`full default suite, wall time of the whole process against T = ${idleMs} ms (${rounds} rounds, alternating servers)`);
for (const [name, xs] of walls) {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const show = (x) => `${(x / 1000).toFixed(2)} s`;
  const real = [...measured.get(name)].sort((a, b) => a - b);
  const realT = real[Math.floor(real.length / 2)];
  const beyondReal =
    realT === undefined ? '' : `; measured T ${show(realT)} (median of the slowest idle sample): T + ${((median - realT) / 1000).toFixed(2)} s`;
  console.log(
    `  ${name.padEnd(6)} min ${show(sorted[0])} / median ${show(median)} / max ${show(sorted.at(-1))}: median ${(median / idleMs).toFixed(2)} T, T + ${((median - idleMs) / 1000).toFixed(2)} s${beyondReal}`,
  );
}
