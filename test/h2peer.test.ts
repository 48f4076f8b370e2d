import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_PREFACE, encodeHeaders, encodeSettings, FrameReader } from '../src/http/h2/frames.js';
import type { H2Frame } from '../src/http/h2/frames.js';
import { encodeHeaderBlock, HeaderDecoder } from '../src/http/h2/hpack.js';

/**
 * The codec against a real peer: Node's own HTTP/2 server (nghttp2) over h2c with prior
 * knowledge on 127.0.0.1, spoken to through a raw socket with FrameReader and HeaderDecoder.
 */
const WAIT_MS = 5000;
/** Settings the server is told to advertise, so the test reads values it configured, not defaults. */
const SERVER_SETTINGS = { maxConcurrentStreams: 7, initialWindowSize: 100_000, maxHeaderListSize: 50_000 };
/** 20 custom response headers with long values: nghttp2 indexes them, so later responses refer to its dynamic table. */
const CUSTOM = Array.from({ length: 20 }, (_, i) => [`x-custom-${i}`, `value ${i} `.repeat(8)] as const);
/** Tab, printable ASCII and two latin1 octets, which a field value may hold: nghttp2 sends this one raw (Huffman would be longer). */
const ODD_VALUE = `\t${Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('')}\u00e9\u00ff`;

/** A raw client: every frame the server sent, each header block decoded once complete. */
class RawClient {
  readonly frames: H2Frame[] = [];
  readonly responses = new Map<number, [string, string][]>();
  readonly blockSizes: number[] = [];
  readonly decoder = new HeaderDecoder();
  private readonly reader = new FrameReader();
  private fragments: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private failure: unknown = null;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of this.reader.push(chunk)) this.take(frame);
      } catch (err) {
        this.failure = err;
      }
      for (const wake of this.waiters) wake();
    });
  }

  private take(frame: H2Frame): void {
    this.frames.push(frame);
    if (frame.type === 'SETTINGS' && !frame.ack) this.socket.write(encodeSettings([], true));
    if (frame.type === 'HEADERS' || frame.type === 'CONTINUATION') {
      this.fragments.push(frame.block);
      if (frame.endHeaders) {
        const block = Buffer.concat(this.fragments);
        this.fragments = [];
        this.blockSizes.push(block.length);
        this.responses.set(frame.streamId, [...(this.responses.get(frame.streamId) ?? []), ...this.decoder.decode(block)]);
      }
    }
  }

  /** Resolves once `done` holds over the frames so far; rejects after WAIT_MS or on a codec error. */
  waitFor(label: string, done: (frames: readonly H2Frame[]) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.failure !== null) reject(this.failure);
        else if (done(this.frames)) resolve();
        else return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`no ${label} within ${WAIT_MS} ms; frames: ${this.frames.map((f) => f.type).join(' ')}`));
      }, WAIT_MS);
      this.waiters.push(check);
      check();
    });
  }

  get(streamId: number, port: number): void {
    const block = encodeHeaderBlock([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', `127.0.0.1:${port}`],
      [':path', '/'],
    ]);
    this.socket.write(encodeHeaders(streamId, block, { endStream: true }));
  }
}

const ended = (streamId: number) => (frames: readonly H2Frame[]) =>
  frames.some((f) => f.streamId === streamId && (f.type === 'DATA' || f.type === 'HEADERS') && f.endStream);

describe('against Node http2.createServer (h2c)', () => {
  let server: http2.Http2Server;
  let port: number;
  const sessions: http2.ServerHttp2Session[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    server = http2.createServer({ settings: SERVER_SETTINGS });
    server.on('session', (session) => sessions.push(session));
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-odd': ODD_VALUE, ...Object.fromEntries(CUSTOM) });
      stream.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function connect(): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    socket.write(Buffer.concat([CLIENT_PREFACE, encodeSettings([])]));
    return client;
  }

  it('reads the server SETTINGS, a 200 response, and the GOAWAY the server sends', async () => {
    const client = await connect();
    client.get(1, port);
    await client.waitFor('end of stream 1', ended(1));
    const settings = client.frames.find((f) => f.type === 'SETTINGS' && !f.ack);
    // RFC 9113 §3.4: the server's preface is a SETTINGS frame, its first frame.
    expect(client.frames[0]).toBe(settings);
    expect(settings?.type === 'SETTINGS' && Object.fromEntries(settings.settings)).toMatchObject({ 3: 7, 4: 100_000, 6: 50_000 });
    expect(client.frames.some((f) => f.type === 'SETTINGS' && f.ack)).toBe(true);
    const fields = client.responses.get(1) ?? [];
    expect(fields[0]).toEqual([':status', '200']);
    expect(fields).toContainEqual(['x-odd', ODD_VALUE]);
    const body = client.frames.filter((f) => f.type === 'DATA' && f.streamId === 1).map((f) => (f.type === 'DATA' ? f.data.toString() : ''));
    expect(body.join('')).toBe('ok');

    const session = sessions.at(-1) as http2.ServerHttp2Session;
    session.goaway(0, 1, Buffer.from('bye'));
    await client.waitFor('GOAWAY', (frames) => frames.some((f) => f.type === 'GOAWAY'));
    expect(client.frames.find((f) => f.type === 'GOAWAY')).toMatchObject({
      type: 'GOAWAY',
      streamId: 0,
      lastStreamId: 1,
      errorCode: 0,
      debug: Buffer.from('bye'),
    });
  });

  it('decodes five responses whose repeated headers come from the dynamic table', async () => {
    const client = await connect();
    for (const streamId of [1, 3, 5, 7, 9]) {
      client.get(streamId, port);
      await client.waitFor(`end of stream ${streamId}`, ended(streamId));
    }
    for (const streamId of [1, 3, 5, 7, 9]) {
      const fields = client.responses.get(streamId) ?? [];
      expect(fields[0]).toEqual([':status', '200']);
      for (const header of CUSTOM) expect(fields).toContainEqual(header);
    }
    // The first block carries the values; the later ones are mostly one-byte indexes into the table.
    expect(client.blockSizes).toHaveLength(5);
    const [first, ...later] = client.blockSizes as [number, ...number[]];
    for (const size of later) expect(size).toBeLessThan(first / 4);
    expect(client.decoder.table.entries.length).toBeGreaterThanOrEqual(20);
  });
});
