import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import { measureCapture } from '../src/measures/measureCapture.js';
import { CaptureChunksLost, readCapture } from '../src/wire/tshark.js';
import type { CaptureChunks, CapturedPacket, TsharkRead } from '../src/wire/tshark.js';
import { recordCapture } from './support/capture.js';
import { issueTestPki, startHttpsServer } from './support/tls.js';

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
let tlsFile = '';
let keylog = '';
let unavailable: string | null = null;
const servers: http.Server[] = [];
let stopTls: (() => void) | null = null;

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

/** One TLS connection (its keys appended to `keylog`) that sends `requests` requests, one after another, each after `before`. */
async function tlsRequests(port: number, ca: Buffer, requests: number, before: (i: number) => Promise<void>): Promise<void> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca });
  socket.on('keylog', (line) => appendFileSync(keylog, line));
  socket.on('error', () => undefined);
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  let seen = '';
  socket.on('data', (d: Buffer) => {
    seen += d.toString('latin1');
  });
  for (let i = 0; i < requests; i++) {
    await before(i);
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    for (let waited = 0; seen.split('tls\n').length <= i + 1; waited += 5) {
      if (waited > 5000) throw new Error('no TLS response');
      await sleep(5);
    }
  }
  socket.end();
  await new Promise((resolve) => socket.once('close', resolve));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kap-chunks-'));
  file = path.join(dir, 'traffic.pcapng');
  tlsFile = path.join(dir, 'tls.pcapng');
  keylog = path.join(dir, 'keys.log');
  const busy = await startServer(IDLE_MS, CAP);
  const patient = await startServer(30_000, 0);
  const pki = issueTestPki(dir);
  const tls = await startHttpsServer(pki, 30_000);
  stopTls = tls.stop;
  const tlsPort = Number(new URL(tls.url).port);
  const recording = await recordCapture(`tcp port ${busy} or tcp port ${patient}`, file);
  if ('unavailable' in recording) {
    unavailable = recording.unavailable;
    return;
  }
  const tlsRecording = await recordCapture(`tcp port ${tlsPort}`, tlsFile);
  if ('unavailable' in tlsRecording) {
    await recording.stop();
    unavailable = tlsRecording.unavailable;
    return;
  }
  try {
    // A TLS connection with a request before and after another's 250 (some 600 packets): it crosses chunk boundaries.
    const ca = readFileSync(pki.ca);
    let release = () => {};
    const others = new Promise<void>((resolve) => {
      release = resolve;
    });
    await Promise.all([
      tlsRequests(tlsPort, ca, 2, (i) => (i === 0 ? Promise.resolve() : others)),
      (async () => {
        await sleep(100);
        await tlsRequests(tlsPort, ca, 250, () => Promise.resolve());
        release();
      })(),
    ]);
  } finally {
    await tlsRecording.stop();
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
  stopTls?.();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function needCapture(ctx: TestContext): void {
  if (unavailable !== null) {
    console.warn(`*** SKIPPING analyze in chunks: ${unavailable} ***`);
    ctx.skip(unavailable);
  }
}

/** Every packet of a read, and apart their times (the chunked read subtracts nanoseconds, the one pass has tshark's doubles). */
async function packets(read: TsharkRead): Promise<{ processes: number; packets: unknown[]; times: number[] }> {
  const seen: CapturedPacket[] = [];
  const processes = await readCapture(read, (p) => seen.push(p));
  return { processes, packets: seen.map((p) => ({ ...p, time: undefined, epoch: undefined })), times: seen.map((p) => p.time) };
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
    // The same instants: within a microsecond (the report rounds to 0.1 ms).
    expect(Math.max(...chunked.times.map((t, i) => Math.abs(t - (whole.times[i] ?? 0))))).toBeLessThan(1e-6);
  });

  it('every verdict, metric and connection id as in one pass', async (ctx) => {
    needCapture(ctx);
    const whole = await measureCapture({ file, filter: null, tlsKeylog: null, chunks: null });
    const chunked = await measureCapture({ file, filter: null, tlsKeylog: null, chunks: SMALL });
    expect(whole.evidence.capture?.connections).toBeGreaterThanOrEqual(5);
    expect(chunked).toEqual(whole);
  });

  it('a TLS connection (with its keys) across a boundary: the chunks give up, and analyze reads the capture in one pass', async (ctx) => {
    needCapture(ctx);
    const read: TsharkRead = { file: tlsFile, filter: null, tlsKeylog: keylog };
    console.info(`TLS capture: ${(await packets({ ...read, chunks: null })).packets.length} packets`);
    await expect(readCapture({ ...read, chunks: SMALL }, () => undefined)).rejects.toBeInstanceOf(CaptureChunksLost);
    const whole = await measureCapture({ ...read, chunks: null });
    expect(whole.evidence.capture?.connections).toBe(2);
    expect(whole.evidence.capture?.httpConnections).toBe(2);
    expect(whole.evidence.capture?.packets).toBeGreaterThan(2 * SMALL.partPackets * SMALL.partsPerChunk);
    expect(await measureCapture({ ...read, chunks: SMALL })).toEqual(whole);
  });
});
