// Memory of the full default suite: peak RSS (VmHWM, polled from /proc/<pid>/status, Linux) of
// `keepalive-probe run <url>` (all built-in scenarios, HTTP/1.1 and h2c) against the lab in a
// process of its own with the demo profile, and of the demo (`run` with no target: the lab in
// the probe's process). The terminal report goes to a pipe that is read and dropped.
// With a second checkout's bin/keepalive-probe.js (built) as `--against`, each round runs that
// build and this one alternately (A B A B), both against the same lab, for a before/after.
// Usage: npm run build && node bench/suite-memory.mjs [rounds] [--against ../old/bin/keepalive-probe.js]
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const againstAt = args.indexOf('--against');
const against = againstAt === -1 ? null : path.resolve(args.splice(againstAt, 2)[1]);
const rounds = Number(args[0] ?? 5);
const bin = fileURLToPath(new URL('../bin/keepalive-probe.js', import.meta.url));

/** The demo profile (src/options/labProfiles.ts DEMO_PROFILE) as `serve` flags. */
const DEMO_FLAGS = [
  ...['--idle-timeout', '2s', '--max-requests', '5', '--http10', 'close', '--advertise'],
  ...['--http2', '--goaway', 'graceful', '--close-after-goaway', '100ms'],
];

/** Starts `serve --port 0` with the demo profile; resolves with the child and its URL once it prints its port. */
function startLab() {
  const lab = spawn(process.execPath, [bin, 'serve', '--port', '0', ...DEMO_FLAGS], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    lab.on('exit', (code) => reject(new Error(`the lab exited ${code}: ${out}`)));
  });
}

/** One run of `probe` (a bin path) with `argv`; its peak RSS in MiB, the last VmHWM read before it exits. */
function peakOf(probe, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [probe, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let hwm = 0;
    let stderr = '';
    let lines = 0;
    const poll = setInterval(async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        if (kb > hwm) hwm = kb;
      } catch {
        // the process is gone
      }
    }, 10);
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => {
      lines += String(d).split('\n').length - 1;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(killer);
      // 0: all passed; 1: a warning or failure the demo shows on purpose.
      if (code !== 0 && code !== 1) return reject(new Error(`probe exited ${code}: ${stderr}`));
      if (lines === 0) return reject(new Error('probe printed no report'));
      resolve(hwm / 1024);
    });
  });
}

function spread(values) {
  const s = [...values].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(1)} MiB (min ${s[0].toFixed(1)}, max ${s.at(-1).toFixed(1)})`;
}

const builds =
  against === null
    ? [['this', bin]]
    : [
        ['against', against],
        ['this', bin],
      ];
const { lab, url } = await startLab();
try {
  const results = new Map();
  const add = (name, mib) => results.set(name, [...(results.get(name) ?? []), mib]);
  for (let round = 0; round < rounds; round++) {
    for (const [name, probe] of builds) add(`${name}: run <external lab>`, await peakOf(probe, ['run', url]));
    for (const [name, probe] of builds) add(`${name}: run (demo, lab in process)`, await peakOf(probe, ['run']));
  }
  console.log(`full default suite, ${rounds} rounds${against === null ? '' : ` alternating with ${against}`}, peak RSS (VmHWM):`);
  for (const [name, values] of [...results].sort(([a], [b]) => a.localeCompare(b)))
    console.log(`  ${name}: ${spread(values)}  [${values.map((v) => v.toFixed(1)).join(', ')}]`);
} finally {
  lab.kill();
}
