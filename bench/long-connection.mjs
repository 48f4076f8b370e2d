// Memory of a long connection: peak RSS (VmHWM) of `keepalive-probe run -s request-cap --max-requests N --json`
// against the lab with no request cap, over HTTP/1 and over HTTP/2 (h2-request-cap, --protocol h2, where every
// frame is an event), read from /proc/<pid>/status just before the probe exits (Linux). The lab runs in its own
// process. Rounds alternate HTTP/1 and HTTP/2; min/median/max per protocol, and the same run with 10 requests (the
// fixed part: Node, the modules, the lab handshake) for comparison.
// Usage: npm run build && node bench/long-connection.mjs [requests] [rounds]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const requests = Number(process.argv[2] ?? 20000);
const rounds = Number(process.argv[3] ?? 3);
const bin = fileURLToPath(new URL('../bin/keepalive-probe.js', import.meta.url));

/** Starts `serve --port 0` with the given flags; resolves with the child and its URL once it prints its port. */
function startLab(flags) {
  const lab = spawn(process.execPath, [bin, 'serve', '--port', '0', '--max-requests', '0', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the lab did not print its address within 10 s')), 10_000);
    let out = '';
    const read = (d) => {
      out += String(d);
      const m = /http:\/\/[\d.]+:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ lab, url: `http://127.0.0.1:${m[1]}/` });
      }
    };
    lab.stdout.on('data', read);
    lab.stderr.on('data', read);
  });
}

/** One probe run; its peak RSS from VmHWM, polled until it exits (the last reading before exit is its peak). */
function probeOnce(url, args, count = requests) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'run', url, ...args, '--max-requests', String(count), '--json', '-q'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let hwm = 0;
    let stdout = '';
    let stderr = '';
    const poll = setInterval(async () => {
      try {
        const { readFile } = await import('node:fs/promises');
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        if (kb > hwm) hwm = kb;
      } catch {
        // the process is gone
      }
    }, 20);
    const killer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(killer);
      if (code !== 0 && code !== 1) return reject(new Error(`probe exited ${code}: ${stderr}`));
      const metrics = JSON.parse(stdout).scenarios[0].metrics;
      resolve({ mib: hwm / 1024, metrics });
    });
  });
}

function spread(values) {
  const s = [...values].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(1)} MiB (min ${s[0].toFixed(1)}, max ${s.at(-1).toFixed(1)})`;
}

const h1 = await startLab(['--idle-timeout', '30s']);
const h2 = await startLab(['--idle-timeout', '30s', '--http2']);
try {
  const results = { 'HTTP/1 request-cap': [], 'HTTP/2 h2-request-cap': [] };
  for (let round = 0; round < rounds; round++) {
    const a = await probeOnce(h1.url, ['-s', 'request-cap']);
    results['HTTP/1 request-cap'].push(a.mib);
    const b = await probeOnce(h2.url, ['-s', 'h2-request-cap', '--protocol', 'h2']);
    results['HTTP/2 h2-request-cap'].push(b.mib);
    if (round === 0) console.log(`metrics: HTTP/1 ${JSON.stringify(a.metrics)}; HTTP/2 ${JSON.stringify(b.metrics)}`);
  }
  const base1 = await probeOnce(h1.url, ['-s', 'request-cap'], 10);
  const base2 = await probeOnce(h2.url, ['-s', 'h2-request-cap', '--protocol', 'h2'], 10);
  console.log(`10 requests: HTTP/1 ${base1.mib.toFixed(1)} MiB, HTTP/2 ${base2.mib.toFixed(1)} MiB`);
  console.log(`${requests} requests on one connection, ${rounds} rounds, peak RSS:`);
  for (const [name, values] of Object.entries(results)) console.log(`  ${name}: ${spread(values)}`);
} finally {
  h1.lab.kill();
  h2.lab.kill();
}
