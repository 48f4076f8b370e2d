// The request loop on one kept-alive connection: the probe's time per request (its own
// timePerRequest metric: connect → last response, over the responses, to the microsecond)
// against autocannon -c 1 -p 1 and a minimal raw-socket loop doing the same (write a request,
// read the response to its Content-Length, repeat). autocannon runs for a fixed duration and
// its time per request is that duration over the responses it counted: in amount mode (-a) it
// stops only at its next 1 s sampling tick, so 5000 and 20000 requests both take 1 s there.
// autocannon is installed on demand into a temporary directory (npm registry), pinned.
// Same Node http server in its own process on 127.0.0.1, every one of the three a process of its
// own, alternating A B C A B C, min/median/max per request, the ratios of medians and the median
// of each round's ratio.
// Usage: npm run build && node bench/request-loop.mjs [requests] [rounds]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const requests = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 5);
const bin = fileURLToPath(new URL('../bin/keepalive-probe.js', import.meta.url));
const body = 'ok\n';

// The server runs in a child process so that its work does not share this event loop.
const serverSource = `
  const http = require('node:http');
  const server = http.createServer((req, res) => { req.resume(); res.setHeader('Content-Length', 3); res.end(${JSON.stringify(body)}); });
  server.keepAliveTimeout = 60000; server.maxRequestsPerSocket = 0;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;
const server = spawn(process.execPath, ['-e', serverSource], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
const url = `http://127.0.0.1:${port}/`;

const dir = mkdtempSync(path.join(tmpdir(), 'kap-bench-loop-'));
const AUTOCANNON = 'autocannon@8.0.0';
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, AUTOCANNON], { encoding: 'utf8', timeout: 180_000 });
if (install.status !== 0) throw new Error(`npm install ${AUTOCANNON}: ${install.stderr}`);
/** autocannon for about as long as the probe's loop takes (at least 2 s): ms per response, from its own process. */
const autocannonSource = `
  const autocannon = require(${JSON.stringify(path.join(dir, 'node_modules', 'autocannon'))});
  const seconds = Number(process.argv[1]);
  autocannon({ url: ${JSON.stringify(`http://127.0.0.1:${port}/`)}, connections: 1, pipelining: 1, duration: seconds }, (err, r) => {
    if (err) throw err;
    if (r.non2xx !== 0 || r.errors !== 0) throw new Error('autocannon saw errors');
    console.log((seconds * 1000) / r.requests.total);
  });
`;
function autocannonOnce(seconds) {
  const run = spawnSync(process.execPath, ['-e', autocannonSource, String(seconds)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`autocannon exited ${run.status}: ${run.stderr}`);
  return Number(run.stdout.trim());
}
const scenario = path.join(dir, 'loop.yaml');
writeFileSync(
  scenario,
  [
    'id: loop',
    'title: request loop',
    'steps:',
    '  - open: main',
    `  - repeat: { on: main, max: ${requests}, until: closed, steps: [ { request: { on: main } } ] }`,
    'metrics:',
    '  perRequestMs: { measure: timePerRequest, on: main }',
    '',
  ].join('\n'),
);

function probeOnce() {
  const run = spawnSync(process.execPath, [bin, 'run', url, '-s', scenario, '--json', '-q', '--max-requests', String(requests)], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (run.status !== 0) throw new Error(`probe exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout).scenarios[0].metrics.perRequestMs;
}

/** The raw loop: connect, then request → whole response, `requests` times; ms per request from connect to the last byte. */
function rawOnce() {
  return new Promise((resolve, reject) => {
    const request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let done = 0;
    let buffered = '';
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const head = buffered.indexOf('\r\n\r\n');
        if (head < 0 || buffered.length < head + 4 + body.length) return;
        buffered = buffered.slice(head + 4 + body.length);
        done++;
        if (done === requests) {
          const ms = performance.now() - started;
          socket.destroy();
          resolve(ms / requests);
          return;
        }
        socket.write(request);
      }
    });
    socket.on('error', reject);
  });
}

const results = { probe: [], autocannon: [], raw: [] };
for (let r = 0; r < rounds; r++) {
  const perRequest = probeOnce();
  results.probe.push(perRequest);
  results.autocannon.push(autocannonOnce(Math.max(2, Math.ceil((perRequest * requests) / 1000))));
  results.raw.push(await rawOnce());
}
server.kill();
rmSync(dir, { recursive: true, force: true });

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s.at(-1) };
};
console.log(`${requests} requests on one kept-alive connection (autocannon: -c 1 -p 1 for as long), ${rounds} rounds alternating; ms per request`);
const probe = stats(results.probe);
for (const [name, xs] of Object.entries(results)) {
  const s = stats(xs);
  // Also each round's own ratio (its runs back to back): the loopback's round trip drifts on a
  // shared machine, by 2× within one run, and the medians of the columns can come from moments apart.
  const paired = stats(xs.map((x, r) => (results.probe[r] ?? 0) / x));
  const ratio =
    name === 'probe'
      ? ''
      : `  probe/${name} ${(probe.median / s.median).toFixed(2)}×, per round ${paired.median.toFixed(2)}× (${paired.min.toFixed(2)}–${paired.max.toFixed(2)})`;
  console.log(`  ${name.padEnd(10)} min ${s.min.toFixed(3)} / median ${s.median.toFixed(3)} / max ${s.max.toFixed(3)}${ratio}`);
}
