#!/usr/bin/env node
// How long the response parser holds the event loop when a server sends its head one byte
// per segment (a trickling or hostile server), up to the 64 KiB head limit.
//
//   node bench/parser-trickle.mjs
import { importSrc } from './srcModule.mjs';

const { ResponseParser } = await importSrc('http/responseParser.ts');

const head = Buffer.from(`HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(60000)}\r\nContent-Length: 0\r\n\r\n`, 'latin1');
const times = [];
for (let round = 0; round < 5; round++) {
  const parser = new ResponseParser({ method: 'GET' });
  const start = performance.now();
  let complete = false;
  for (let i = 0; i < head.length; i++) complete ||= parser.push(head.subarray(i, i + 1)).some((e) => e.type === 'complete');
  times.push(performance.now() - start);
  if (!complete) throw new Error('the response did not complete');
}
times.sort((a, b) => a - b);
console.log(
  `${head.length} B head, one byte per push: median ${times[2].toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times[4].toFixed(1)}) over 5 rounds`,
);
