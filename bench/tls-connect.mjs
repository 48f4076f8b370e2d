#!/usr/bin/env node
// How long tls.connect holds the event loop before the handshake starts, with Node's default
// CAs, with a `ca` list (Node's roots plus one: what --cacert passes), and with one secure
// context built once from that list (what the probe does since --cacert). Connects to a
// plain TCP server on 127.0.0.1 that drops each connection; only the synchronous part counts.
//
//   node bench/tls-connect.mjs
import net from 'node:net';
import tls from 'node:tls';

const ROUNDS = 20;
const server = net.createServer((socket) => socket.destroy());
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const ca = [...tls.rootCertificates, tls.rootCertificates[0]];
const secureContext = tls.createSecureContext({ ca });

function perConnect(options) {
  const start = performance.now();
  for (let i = 0; i < ROUNDS; i++)
    tls
      .connect({ host: '127.0.0.1', port, ...options })
      .on('error', () => undefined)
      .destroy();
  return ((performance.now() - start) / ROUNDS).toFixed(2);
}

perConnect({}); // warm up
console.log(`synchronous time per tls.connect, mean of ${ROUNDS} (${ca.length} CA certificates):`);
console.log(`  Node's default CAs:           ${perConnect({})} ms`);
console.log(`  ca list on every connect:     ${perConnect({ ca })} ms`);
console.log(`  one shared secureContext:     ${perConnect({ secureContext })} ms`);
server.close();
