import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { afterEach } from 'vitest';
import { CLIENT_PREFACE, FLAG, FRAME_TYPE, encodeFrame, encodeHeaders } from '../../src/http/h2/frames.js';
import { encodeHeaderBlock } from '../../src/http/h2/hpack.js';

/**
 * A raw HTTP/2 client for tests: a net.Socket that writes frames byte by byte and records
 * every frame the server sends (its 9-byte header: 24-bit length, type, flags, stream id)
 * with its arrival time, and the time of the server's FIN. Nothing is answered unless the
 * test says so (SETTINGS and PING ACKs are explicit), so the test decides what the server sees.
 */

/** Frame types and the ACK flag, as the codec names them (src/http/h2/frames.ts). */
export const FRAME = FRAME_TYPE;
export const ACK = FLAG.ACK;
const PREFACE = CLIENT_PREFACE;

/** A frame the server sent, as read off the wire. */
export interface ReadFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
  /** performance.now() when the chunk holding its last byte arrived. */
  readonly at: number;
}

/** A GOAWAY's fields (RFC 9113 §6.8). */
export function goawayOf(frame: ReadFrame): { lastStreamId: number; errorCode: number; debug: string } {
  return {
    lastStreamId: frame.payload.readUInt32BE(0) & 0x7fffffff,
    errorCode: frame.payload.readUInt32BE(4),
    debug: frame.payload.subarray(8).toString('latin1'),
  };
}

/** A frame's bytes (the codec's encoder, so a test can also write frames a client must not send). */
export function frameBytes(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return encodeFrame(type, flags, streamId, payload);
}

/** A GET request's HEADERS (END_STREAM, END_HEADERS), with the probe's own HPACK encoder. */
export function getRequest(streamId: number, path = '/', authority = 'lab.test'): Buffer {
  const block = encodeHeaderBlock([
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', authority],
  ]);
  return encodeHeaders(streamId, block, { endStream: true });
}

/** A raw client connection. */
export interface RawH2 {
  readonly socket: net.Socket;
  readonly frames: ReadFrame[];
  /** performance.now() of the server's FIN (or RST), or null while none came. */
  fin(): number | null;
  /** How the server closed: a FIN, an RST (ECONNRESET), or not yet. */
  closedBy(): 'fin' | 'rst' | null;
  write(bytes: Buffer): void;
  /** Waits (at most `timeoutMs`) for a frame matching `match` beyond the first `from` frames; rejects on timeout. */
  frame(match: (f: ReadFrame) => boolean, timeoutMs: number, from?: number): Promise<ReadFrame>;
  /** Waits (at most `timeoutMs`) for the server's FIN or RST; resolves with its time, or rejects. */
  closed(timeoutMs: number): Promise<number>;
}

/**
 * Raw clients for the calling test file, destroyed after each test. Each sends the preface
 * and an empty SETTINGS; `ackSettings` (default true) ACKs the server's SETTINGS, and
 * `ackPings` (default true) answers its PINGs. With `ca`: over TLS, ALPN h2, trusting that certificate.
 */
export function useRawH2(): (port: number, options?: { ackSettings?: boolean; ackPings?: boolean; ca?: string }) => Promise<RawH2> {
  const sockets: net.Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });
  return (port, options = {}) =>
    new Promise((resolve, reject) => {
      const socket =
        options.ca === undefined
          ? net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
          : tls.connect({ port, host: '127.0.0.1', ca: options.ca, ALPNProtocols: ['h2'] });
      sockets.push(socket);
      const frames: ReadFrame[] = [];
      const waiters = new Set<() => void>();
      let finAt: number | null = null;
      let closedBy: 'fin' | 'rst' | null = null;
      let buffered = Buffer.alloc(0);
      const notify = (): void => {
        for (const w of [...waiters]) w();
      };
      socket.on('data', (chunk: Buffer) => {
        const at = performance.now();
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 9) {
          const length = buffered.readUIntBE(0, 3);
          if (buffered.length < 9 + length) break;
          const frame: ReadFrame = {
            type: buffered[3] as number,
            flags: buffered[4] as number,
            streamId: buffered.readUInt32BE(5) & 0x7fffffff,
            payload: Buffer.from(buffered.subarray(9, 9 + length)),
            at,
          };
          buffered = buffered.subarray(9 + length);
          frames.push(frame);
          if (frame.type === FRAME.SETTINGS && (frame.flags & ACK) === 0 && options.ackSettings !== false) socket.write(frameBytes(FRAME.SETTINGS, ACK, 0));
          if (frame.type === FRAME.PING && (frame.flags & ACK) === 0 && options.ackPings !== false) socket.write(frameBytes(FRAME.PING, ACK, 0, frame.payload));
        }
        notify();
      });
      const ended = (): void => {
        finAt ??= performance.now();
        notify();
      };
      socket.on('end', () => {
        closedBy ??= 'fin';
        ended();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNRESET') closedBy ??= 'rst';
      });
      socket.on('close', ended);
      socket.once(options.ca === undefined ? 'connect' : 'secureConnect', () => {
        socket.write(Buffer.concat([PREFACE, frameBytes(FRAME.SETTINGS, 0, 0)]));
        resolve({
          socket,
          frames,
          fin: () => finAt,
          closedBy: () => closedBy,
          write: (bytes) => void socket.write(bytes),
          frame: (match, timeoutMs, from = 0) => waitFor(waiters, () => frames.slice(from).find(match) ?? null, timeoutMs, 'frame'),
          closed: (timeoutMs) => waitFor(waiters, () => finAt, timeoutMs, 'FIN'),
        });
      });
      socket.once('error', reject);
    });
}

/** Resolves with `check()`'s first non-null value, re-checked on every event; rejects after `timeoutMs`. */
function waitFor<T>(waiters: Set<() => void>, check: () => T | null, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      const value = check();
      if (value === null) return;
      clearTimeout(timer);
      waiters.delete(done);
      resolve(value);
    };
    const timer = setTimeout(() => {
      waiters.delete(done);
      reject(new Error(`no ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.add(done);
    done();
  });
}
