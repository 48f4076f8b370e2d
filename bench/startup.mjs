// Start-up cost of the CLI against Node itself, side by side in one run: `node -e 0` (A)
// and `keepalive-probe --version` / `--help` (B), alternating A B A B, wall time and peak
// RSS (GNU time's %M, when /usr/bin/time is there) of each whole process.
// Usage: npm run build && node bench/startup.mjs [rounds]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.argv[2] ?? 20);
const bin = fileURLToPath(new URL('../bin/keepalive-probe.js', import.meta.url));
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** One whole process: wall ms (this process's monotonic clock) and peak RSS in MiB (or null). */
function once(args) {
  const command = gnuTime === null ? [process.execPath, args] : [gnuTime, ['-f', '%M', process.execPath, ...args]];
  const started = performance.now();
  const result = spawnSync(command[0], command[1], { encoding: 'utf8' });
  const wall = performance.now() - started;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  const kib = gnuTime === null ? null : Number(result.stderr.trim().split('\n').at(-1));
  return { wall, rss: kib === null ? null : kib / 1024 };
}

const stats = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) };
};
const show = (s, unit) => `min ${s.min.toFixed(1)} / median ${s.median.toFixed(1)} / max ${s.max.toFixed(1)} ${unit}`;

for (const [label, args] of [
  ['--version', [bin, '--version']],
  ['--help', [bin, '--help']],
  ['run --help', [bin, 'run', '--help']],
]) {
  const a = { wall: [], rss: [] };
  const b = { wall: [], rss: [] };
  once(['-e', '0']); // warm the file cache for both
  once(args);
  for (let i = 0; i < rounds; i++) {
    const x = once(['-e', '0']);
    const y = once(args);
    a.wall.push(x.wall);
    b.wall.push(y.wall);
    if (x.rss !== null && y.rss !== null) {
      a.rss.push(x.rss);
      b.rss.push(y.rss);
    }
  }
  const [aw, bw] = [stats(a.wall), stats(b.wall)];
  console.log(`keepalive-probe ${label} vs node -e 0 (${rounds} rounds, alternating)`);
  console.log(`  node -e 0:        wall ${show(aw, 'ms')}`);
  console.log(`  keepalive-probe:  wall ${show(bw, 'ms')}`);
  console.log(`  ratio of medians: wall ${(bw.median / aw.median).toFixed(2)}×`);
  if (a.rss.length > 0) {
    const [ar, br] = [stats(a.rss), stats(b.rss)];
    console.log(`  peak RSS:         node ${ar.median.toFixed(1)} MiB, keepalive-probe ${br.median.toFixed(1)} MiB: ${(br.median / ar.median).toFixed(2)}×`);
  }
}
