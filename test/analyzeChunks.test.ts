import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { measureCapture } from '../src/measures/measureCapture.js';
import { readCapture } from '../src/wire/tshark.js';
import type { CaptureChunks, CapturedPacket, TsharkRead } from '../src/wire/tshark.js';
import { recordCapture } from './support/capture.js';

/**
 * A capture read in chunks (one tshark per 200 packets, each chunk preceded by the 100 before
 * it) against the same capture read in one pass: every packet, every message, every stream
 * number and every verdict must come out the same. The traffic makes messages that span many
 * segments (chunked responses written piece by piece, request bodies written in pieces), so
 * dozens of them straddle a chunk boundary; connections that close idle, that reach a request
 * cap, and one that stays quiet for longer than a chunk before its next request.
 */

/** Tiny chunks, so that every kind of connection crosses a boundary. */
const SMALL: CaptureChunks = { partPackets: 100, partsPerChunk: 2, minBytes: 0 };
/** Node's http server closes an idle kept-alive socket after this (server.keepAliveTimeout). */
const IDLE_MS = 150;
/** Requests per socket (server.maxRequestsPerSocket): the cap closes. */
const CAP = 6;
/** Pieces of each chunked response, and of each request body. */
const PIECES = 6;

let dir = '';
let file = '';
let unavailable: string | null = null;
const servers: http.Server[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A server that answers each request with a chunked body written in PIECES pieces, a few ms apart (one segment each). */
async function startServer(keepAliveMs: number, cap: number): Promise<number> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.once('end', async () => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      for (let i = 0; i < PIECES; i++) {
        res.write(`${'x'.repeat(100 + i)}\n`);
        await sleep(2);
      }
      res.end();
    });
  });
  server.keepAliveTimeout = keepAliveMs;
  server.maxRequestsPerSocket = cap;
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A POST whose body goes out in PIECES writes, through `agent`. */
function post(port: number, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent, timeout: 5000 }, (res) => {
      res.resume();
      res.once('end', resolve);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    void (async () => {
      for (let i = 0; i < PIECES; i++) {
        req.write(`piece ${i}\n`);
        await sleep(2);
      }
      req.end();
    })();
  });
}

/** One raw connection: a request, a quiet spell while `others` run, another request; then the client closes. */
async function quietConnection(port: number, others: Promise<void>): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.resume();
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const answered = (n: number) =>
    new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error('no response')), 5000);
      const onData = (d: Buffer) => {
        seen += d.toString('latin1');
        if (seen.split('0\r\n\r\n').length > n) {
          clearTimeout(timer);
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
    });
  socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
  await answered(1);
  await others;
  socket.write('GET /second HTTP/1.1\r\nHost: x\r\n\r\n');
  await answered(1);
  socket.end();
  await new Promise((resolve) => socket.once('close', resolve));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kap-chunks-'));
  file = path.join(dir, 'traffic.pcapng');
  const busy = await startServer(IDLE_MS, CAP);
  const patient = await startServer(30_000, 0);
  const recording = await recordCapture(`tcp port ${busy} or tcp port ${patient}`, file);
  if ('unavailable' in recording) {
    unavailable = recording.unavailable;
    return;
  }
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
    const others = (async () => {
      for (let round = 0; round < 4; round++) {
        await Promise.all(Array.from({ length: 12 }, () => post(busy, agent)));
        await sleep(IDLE_MS + 150); // past the idle timeout: the server closes the idle sockets
      }
    })();
    await Promise.all([others, quietConnection(patient, others)]);
    agent.destroy();
  } finally {
    await recording.stop();
  }
}, 60_000);

afterAll(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function needCapture(ctx: TestContext): void {
  if (unavailable !== null) {
    console.warn(`*** SKIPPING analyze in chunks: ${unavailable} ***`);
    ctx.skip(unavailable);
  }
}

/** Every packet of a read, with its time to the microsecond (the chunked read adds nanoseconds, the one pass prints doubles). */
async function packets(read: TsharkRead): Promise<{ processes: number; packets: unknown[] }> {
  const seen: CapturedPacket[] = [];
  const processes = await readCapture(read, (p) => seen.push(p));
  return { processes, packets: seen.map((p) => ({ ...p, time: Math.round(p.time * 1e6), epoch: undefined })) };
}

/**
 * Messages whose first segment is in one chunk and whose last (where tshark names the message)
 * in the next: the segments of a stream's direction since its last message, across a chunk start.
 */
function straddling(all: readonly CapturedPacket[]): number {
  const chunk = SMALL.partPackets * SMALL.partsPerChunk;
  const started = new Map<string, number>();
  let count = 0;
  for (const p of all) {
    const way = `${p.stream} ${p.srcPort}`;
    if (p.payload > 0 && !started.has(way)) started.set(way, p.frame);
    if (p.messages.length === 0) continue;
    const first = started.get(way) ?? p.frame;
    if (Math.floor((first - 1) / chunk) < Math.floor((p.frame - 1) / chunk)) count += 1;
    started.delete(way);
  }
  return count;
}

describe('analyze in chunks (bounded tshark memory)', () => {
  it('every packet, message and stream number as in one pass, with messages straddling the chunk boundaries', async (ctx) => {
    needCapture(ctx);
    const whole = await packets({ file, filter: null, tlsKeylog: null, chunks: null });
    const chunked = await packets({ file, filter: null, tlsKeylog: null, chunks: SMALL });
    const count = whole.packets.length;
    console.info(
      `${count} packets: one pass vs ${chunked.processes} tshark processes; ${straddling(whole.packets as CapturedPacket[])} messages straddle a chunk boundary`,
    );
    expect(whole.processes).toBe(1);
    expect(chunked.processes).toBe(Math.ceil(count / (SMALL.partPackets * SMALL.partsPerChunk)));
    expect(chunked.processes).toBeGreaterThanOrEqual(5);
    const all = whole.packets as CapturedPacket[];
    expect(all.filter((p) => p.messages.length > 0).length).toBeGreaterThanOrEqual(2 * 4 * 12);
    expect(straddling(all)).toBeGreaterThanOrEqual(3);
    expect(chunked.packets).toEqual(whole.packets);
  });

  it('every verdict, metric and connection id as in one pass', async (ctx) => {
    needCapture(ctx);
    const whole = await measureCapture({ file, filter: null, tlsKeylog: null, chunks: null });
    const chunked = await measureCapture({ file, filter: null, tlsKeylog: null, chunks: SMALL });
    expect(whole.evidence.capture?.connections).toBeGreaterThanOrEqual(5);
    expect(chunked).toEqual(whole);
  });
});
