#!/usr/bin/env node
// How long reading /proc/net/tcp{,6} holds the probe's event loop on a host with many
// sockets. Opens CONNECTIONS loopback connections (127.0.0.1 only; each is two rows), then
// times, on the event loop, parsing every row (what the probe did before) against the
// search for one connection's ports (what it does now), and the whole synchronous read.
//
//   node bench/proc-net-tcp.mjs [connections=5000]
//
// Every millisecond spent here delays the timestamps of every other connection in flight
// (stale-race runs 30 at once and reads the table as each one closes).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { importSrc } from './srcModule.mjs';

const { parseProcNetTcp } = await importSrc('wire/procNetTcp.ts');
const { readTcpRowsSync } = await importSrc('wire/procNetTcpRead.ts');

const CONNECTIONS = Math.min(Number(process.argv[2] ?? 5000), 20000);
const ROUNDS = 20;

const server = net.createServer((socket) => socket.resume());
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const clients = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  clients.push(socket);
}
const probe = clients[clients.length >> 1];
const filter = { ports: [probe.localPort], listening: port };

const texts = ['/proc/net/tcp', '/proc/net/tcp6'].map((file) => readFileSync(file, 'utf8'));
const rows = texts.reduce((n, text) => n + text.split('\n').length - 2, 0);

function median(fn) {
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[ROUNDS >> 1].toFixed(2);
}

console.log(`${rows} rows in /proc/net/tcp{,6} (${CONNECTIONS} loopback connections open), median of ${ROUNDS}:`);
console.log(
  `  parse every row:              ${median(() => {
    for (const t of texts) parseProcNetTcp(t);
  })} ms`,
);
console.log(
  `  search one connection's rows: ${median(() => {
    for (const t of texts) parseProcNetTcp(t, undefined, filter);
  })} ms`,
);
console.log(`  readTcpRowsSync (read + search): ${median(() => readTcpRowsSync(filter))} ms`);
console.log(`  rows found for the connection: ${readTcpRowsSync(filter).length}`);

for (const socket of clients) socket.destroy();
server.close();
