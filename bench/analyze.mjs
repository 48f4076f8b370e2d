// `keepalive-probe analyze` (and `analyze --port`) on a large capture against `tshark -r file -q -z conv,tcp`
// (and one `tshark -Y` pass with the same port filter) on the same file: wall time, packets per second and peak RSS of each (for analyze, its node
// process and its children, read off /proc/<pid>/status VmHWM while they run: from 64 MB on,
// editcap splitting the file and one tshark per chunk, wire/tshark.ts CAPTURE_CHUNKS).
// The capture is made here: a Node http server (keepAliveTimeout 300 ms) on 127.0.0.1 and a
// bounded client loop (http.Agent with keep-alive, 4 sockets, pauses past the server's idle
// timeout every 50 requests), recorded by dumpcap on lo; then replicated with editcap -t
// (each copy shifted past the previous one) and mergecap -a into one file, so tshark sees the
// same connections again, later. Alternating A B A B, min/median/max, the ratio of medians.
// Needs dumpcap, editcap, mergecap and tshark, and the privileges to capture on lo (root here).
// Usage: npm run build && node bench/analyze.mjs [copies] [rounds]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const copies = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 3);
const bin = fileURLToPath(new URL('../bin/keepalive-probe.js', import.meta.url));
const REQUESTS = 2000;
const dir = mkdtempSync(path.join(tmpdir(), 'kap-bench-analyze-'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The server runs in a child process so that its work does not share this event loop.
const serverSource = `
  const http = require('node:http');
  const server = http.createServer((req, res) => { req.resume(); res.setHeader('Content-Length', 3); res.end('ok\\n'); });
  server.keepAliveTimeout = 300; server.maxRequestsPerSocket = 100;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;
const server = spawn(process.execPath, ['-e', serverSource], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(Number(String(d).trim()))));

const small = path.join(dir, 'small.pcapng');
const dumpcap = spawn('dumpcap', ['-i', 'lo', '-f', `tcp port ${port}`, '-w', small, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
let dumpcapErr = '';
dumpcap.stderr.on('data', (d) => (dumpcapErr += d));
for (let waited = 0; !dumpcapErr.includes('File: '); waited += 50) {
  if (waited > 10_000 || dumpcap.exitCode !== null) throw new Error(`dumpcap did not start: ${dumpcapErr}`);
  await sleep(50);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const get = () =>
  new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 5000 }, (res) => {
      res.resume();
      res.once('end', resolve);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
  });
for (let i = 0; i < REQUESTS; i += 50) {
  await Promise.all(Array.from({ length: 50 }, get));
  if (i % 500 === 0) await sleep(400); // past keepAliveTimeout: the server closes the idle sockets
}
agent.destroy();
await sleep(500);
dumpcap.kill('SIGINT');
await new Promise((resolve) => dumpcap.once('close', resolve));
server.kill();

// Copies shifted past each other, concatenated: one capture of `copies` times the traffic.
const span = Number(spawnSync('capinfos', ['-u', '-M', small], { encoding: 'utf8' }).stdout.match(/Capture duration:\s+([\d.]+)/)?.[1]);
const parts = [];
for (let c = 0; c < copies; c++) {
  const part = path.join(dir, `part-${c}.pcapng`);
  spawnSync('editcap', ['-t', String(c * (Math.ceil(span) + 1)), small, part]);
  parts.push(part);
}
const file = path.join(dir, 'large.pcapng');
const merged = spawnSync('mergecap', ['-a', '-w', file, ...parts]);
if (merged.status !== 0) throw new Error(`mergecap failed: ${merged.stderr}`);
for (const part of parts) rmSync(part);
const packets = Number(spawnSync('capinfos', ['-c', '-M', file], { encoding: 'utf8' }).stdout.match(/Number of packets:\s+(\d+)/)?.[1]);

// The room the split takes (wire/tshark.ts SPLIT_SPACE): editcap's parts against the capture's size.
const splitDir = mkdtempSync(path.join(dir, 'split-'));
spawnSync('editcap', ['-F', 'pcapng', '-c', '20000', file, path.join(splitDir, 'part.pcapng')]);
const partsBytes = readdirSync(splitDir).reduce((sum, f) => sum + statSync(path.join(splitDir, f)).size, 0);
rmSync(splitDir, { recursive: true, force: true });

/** The pids under `root` (itself included), from /proc/<pid>/stat's parent field. */
function tree(root) {
  const parents = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const pids = [root];
  for (let i = 0; i < pids.length; i++) for (const [pid, parent] of parents) if (parent === pids[i]) pids.push(pid);
  return pids;
}

/** Runs a command; its wall time, and the peak RSS (VmHWM, MiB) of each program in its process tree, polled every 20 ms. */
async function measure(command, args) {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  child.stdout.resume();
  const peaks = new Map();
  const poll = () => {
    for (const pid of tree(child.pid)) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const name = status.match(/^Name:\s+(\S+)/m)?.[1] ?? '?';
        const hwm = Number(status.match(/^VmHWM:\s+(\d+) kB/m)?.[1] ?? 0) / 1024;
        peaks.set(name, Math.max(peaks.get(name) ?? 0, hwm));
      } catch {}
    }
  };
  const timer = setInterval(poll, 20);
  const code = await new Promise((resolve) => child.once('close', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}`);
  return { ms: performance.now() - started, peaks };
}

// A filtered read too: `--port` (the server's: every connection) is read chunk by chunk like the
// unfiltered one; beside it, one tshark pass with the same display filter, as analyze read it before.
const runs = {
  analyze: () => measure(process.execPath, [bin, 'analyze', file, '--json', '-q']),
  'analyze --port': () => measure(process.execPath, [bin, 'analyze', file, '--port', String(port), '--json', '-q']),
  'tshark conv,tcp': () => measure('tshark', ['-r', file, '-q', '-z', 'conv,tcp']),
  'tshark -Y port': () => measure('tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'frame.number', '-Y', `tcp && (tcp.port == ${port})`]),
};
const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) for (const [name, run] of Object.entries(runs)) results[name].push(await run());
const size = statSync(file).size;
rmSync(dir, { recursive: true, force: true });

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s.at(-1) };
};
console.log(
  `${(size / 1e6).toFixed(1)} MB capture, ${packets} packets (${copies} copies of ${REQUESTS} requests by Node's agent); ${rounds} rounds alternating; split into parts of 20,000 packets: ${(partsBytes / size).toFixed(3)} × its size`,
);
const analyzeMedian = stats(results.analyze.map((r) => r.ms)).median;
for (const [name, xs] of Object.entries(results)) {
  const s = stats(xs.map((r) => r.ms));
  const rate = Math.round(packets / (s.median / 1000));
  const rss = [...new Set(xs.flatMap((r) => [...r.peaks.keys()]))]
    .map((prog) => `${prog} ${Math.max(...xs.map((r) => r.peaks.get(prog) ?? 0)).toFixed(0)} MiB`)
    .join(', ');
  const ratio = name === 'analyze' ? '' : `  analyze/${name} ${(analyzeMedian / s.median).toFixed(2)}×`;
  console.log(
    `  ${name.padEnd(16)} min ${(s.min / 1000).toFixed(2)} s / median ${(s.median / 1000).toFixed(2)} s / max ${(s.max / 1000).toFixed(2)} s, ${rate} packets/s; peak RSS ${rss}${ratio}`,
  );
}
