import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
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
let busyPort = 0;
let patientPort = 0;
let h2cFile = '';
let h2cPort = 0;
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

/** One h2c connection (prior knowledge) that sends `requests` requests one after another, each after `before`. */
async function h2cRequests(port: number, requests: number, before: (i: number) => Promise<void>): Promise<void> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  for (let i = 0; i < requests; i++) {
    await before(i);
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), 5000);
      req.on('data', () => undefined);
      req.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
      req.once('error', reject);
      req.end();
    });
  }
  await new Promise<void>((resolve) => session.close(resolve));
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
  h2cFile = path.join(dir, 'h2c.pcapng');
  tlsFile = path.join(dir, 'tls.pcapng');
  keylog = path.join(dir, 'keys.log');
  const busy = await startServer(IDLE_MS, CAP);
  const patient = await startServer(30_000, 0);
  busyPort = busy;
  patientPort = patient;
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
  // h2c with prior knowledge on a port tshark does not take for HTTP: read on analyze's second pass.
  const h2cServer = http2.createServer((_req, res) => res.end('h2c\n'));
  await new Promise<void>((resolve) => h2cServer.listen(0, '127.0.0.1', resolve));
  h2cPort = (h2cServer.address() as net.AddressInfo).port;
  const h2cRecording = await recordCapture(`tcp port ${h2cPort}`, h2cFile);
  if ('unavailable' in h2cRecording) {
    await recording.stop();
    unavailable = h2cRecording.unavailable;
    return;
  }
  try {
    // Three connections, the first quiet while the second sends 150 requests, then one more: they cross chunk boundaries.
    let release = () => {};
    const others = new Promise<void>((resolve) => {
      release = resolve;
    });
    await Promise.all([
      h2cRequests(h2cPort, 3, (i) => (i === 2 ? others : Promise.resolve())),
      (async () => {
        await sleep(50);
        await h2cRequests(h2cPort, 150, async () => {
          await sleep(1);
        });
        release();
      })(),
    ]);
    await h2cRequests(h2cPort, 40, () => Promise.resolve());
  } finally {
    await h2cRecording.stop();
    h2cServer.close();
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

/** Every packet of a read, and apart their times (compared exactly: ChunkStreams.timeOf gives the one pass's doubles). */
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
    const whole = await packets({ file, tlsKeylog: null, chunks: null });
    const chunked = await packets({ file, tlsKeylog: null, chunks: SMALL });
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
    // The same instants, to the last bit (ChunkStreams.timeOf).
    expect(chunked.times).toEqual(whole.times);
  });

  it('every verdict, metric and connection id as in one pass', async (ctx) => {
    needCapture(ctx);
    const whole = await measureCapture({ file, tlsKeylog: null, chunks: null });
    const chunked = await measureCapture({ file, tlsKeylog: null, chunks: SMALL });
    expect(whole.evidence.capture?.connections).toBeGreaterThanOrEqual(5);
    expect(chunked).toEqual(whole);
  });

  it('--port, --host, --stream in chunks: every packet and every verdict as the one-pass filtered read', async (ctx) => {
    needCapture(ctx);
    const all = (await packets({ file, tlsKeylog: null, chunks: null })).packets as CapturedPacket[];
    const ids = [...new Set(all.map((p) => p.stream))];
    // Streams first seen in the first, a middle and the last chunk.
    const picked = [ids[1] ?? 0, ids[Math.floor(ids.length / 2)] ?? 0, ids.at(-1) ?? 0];
    const selections = [
      { ports: [busyPort], hosts: [], streams: [] },
      { ports: [patientPort], hosts: ['127.0.0.1'], streams: [] },
      { ports: [], hosts: ['127.0.0.1'], streams: picked },
      { ports: [busyPort, patientPort], hosts: [], streams: [picked[1] ?? 0] },
      { ports: [], hosts: ['::1'], streams: [] },
    ];
    const counts: number[] = [];
    for (const select of selections) {
      const whole = await packets({ file, select, tlsKeylog: null, chunks: null });
      counts.push(whole.packets.length);
      const chunked = await packets({ file, select, tlsKeylog: null, chunks: SMALL });
      console.info(`${JSON.stringify(select)}: ${whole.packets.length} packets, ${chunked.processes} chunks`);
      expect(chunked.processes).toBeGreaterThanOrEqual(5);
      expect(chunked.packets).toEqual(whole.packets);
      expect(chunked.times).toEqual(whole.times);
      expect(await measureCapture({ file, select, tlsKeylog: null, chunks: SMALL })).toEqual(
        await measureCapture({ file, select, tlsKeylog: null, chunks: null }),
      );
    }
    // Not vacuous: each selection but the IPv6 one keeps some packets, and fewer than all.
    expect(counts.slice(0, 4).every((n) => n > 0 && n < all.length)).toBe(true);
    expect(counts[2]).toBe(all.filter((p) => picked.includes(p.stream)).length);
    expect(counts[4]).toBe(0);
    // tshark runs by the dozen (five selections, each read four times in five chunks): two cores shared with other test files.
  }, 180_000);

  it('h2c on a port tshark does not decode: its second pass in chunks, the connections that cross a boundary read whole from a side file', async (ctx) => {
    needCapture(ctx);
    const read: TsharkRead = { file: h2cFile, tlsKeylog: null };
    const whole = await measureCapture({ ...read, chunks: null });
    console.info(`h2c capture: ${whole.evidence.capture?.packets} packets`);
    expect(whole.evidence.capture?.h2Connections).toBe(3);
    expect(whole.evidence.capture?.packets).toBeGreaterThan(2 * SMALL.partPackets * SMALL.partsPerChunk);
    expect(await measureCapture({ ...read, chunks: SMALL })).toEqual(whole);
    // The second pass's read itself (not a fallback to one pass): every packet as one pass gives it.
    const again: TsharkRead = { ...read, decodeAs: [`tcp.port==${h2cPort},http`], select: { ports: [], hosts: [], streams: [0, 1, 2] } };
    const one = await packets({ ...again, chunks: null });
    // The connections that cross a chunk boundary (each needs its preface): measureCapture sets them aside.
    const lost = await readCapture({ ...again, chunks: SMALL, wholeHistory: true }, () => undefined).then(
      () => null,
      (err: unknown) => err,
    );
    expect(lost).toBeInstanceOf(CaptureChunksLost);
    expect((lost as CaptureChunksLost).streams?.size).toBeGreaterThan(0);
    const side = await packets({ ...again, chunks: SMALL, sideStreams: new Set([0, 1, 2]) });
    expect(side.processes).toBeGreaterThanOrEqual(3);
    expect(side.packets).toEqual(one.packets);
    expect((one.packets as CapturedPacket[]).filter((p) => p.h2.length > 0).length).toBeGreaterThan(100);
  }, 120_000);

  it('a TLS connection (with its keys) across a boundary: read again, those connections whole from a side file', async (ctx) => {
    needCapture(ctx);
    const read: TsharkRead = { file: tlsFile, tlsKeylog: keylog };
    const one = await packets({ ...read, chunks: null });
    console.info(`TLS capture: ${one.packets.length} packets`);
    const lost = await readCapture({ ...read, chunks: SMALL }, () => undefined).then(
      () => null,
      (err: unknown) => err,
    );
    expect(lost).toBeInstanceOf(CaptureChunksLost);
    const streams = (lost as CaptureChunksLost).streams;
    expect(streams === null ? [] : [...streams].sort()).toEqual([0, 1]);
    // The chunks again, the lost connections from the side file: the same packets as one pass.
    const side = await packets({ ...read, chunks: SMALL, sideStreams: streams ?? new Set() });
    expect(side.processes).toBeGreaterThanOrEqual(3);
    expect(side.packets).toEqual(one.packets);
    const whole = await measureCapture({ ...read, chunks: null });
    expect(whole.evidence.capture?.connections).toBe(2);
    expect(whole.evidence.capture?.httpConnections).toBe(2);
    expect(whole.evidence.capture?.packets).toBeGreaterThan(2 * SMALL.partPackets * SMALL.partsPerChunk);
    expect(await measureCapture({ ...read, chunks: SMALL })).toEqual(whole);
  }, 120_000);
});
