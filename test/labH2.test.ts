import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { DRAIN_PING_WAIT_MS, MAX_STREAM_ID } from '../src/lab/labHttp2.js';
import type { LabHttp2Profile } from '../src/model/result.js';
import { SERVE_HTTP2_DEFAULTS } from '../src/options/labProfiles.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import { FRAME, getRequest, goawayOf, useRawH2 } from './support/h2Raw.js';
import type { RawH2, ReadFrame } from './support/h2Raw.js';
import { useLab } from './support/lab.js';
import { PROBE_LAG_MS } from './support/timing.js';

const startLab = useLab();
const rawH2 = useRawH2();

/** A lab speaking HTTP/2 as well, SERVE_DEFAULTS and SERVE_HTTP2_DEFAULTS plus overrides. */
async function h2Lab(overrides: Partial<LabProfile>, h2: Partial<LabHttp2Profile> = {}): Promise<{ port: number; url: string }> {
  const lab = await startLab({ ...overrides, http2: { ...SERVE_HTTP2_DEFAULTS, ...h2 } });
  return { port: lab.port, url: lab.url };
}

/** An interval the lab's timer set to `configuredMs` produced, read on the client: never short by more than the stamping lag, at most a quarter late. */
function expectNear(measuredMs: number, configuredMs: number): void {
  expect(measuredMs).toBeGreaterThanOrEqual(configuredMs - PROBE_LAG_MS);
  expect(measuredMs).toBeLessThan(configuredMs * 1.25 + PROBE_LAG_MS);
}

/** The end of the response on `streamId` (DATA with END_STREAM). */
function responseEnd(client: RawH2, streamId: number, timeoutMs = 2000): Promise<ReadFrame> {
  return client.frame((f) => f.streamId === streamId && f.type === FRAME.DATA && (f.flags & 0x1) === 1, timeoutMs);
}

const goaways = (client: RawH2): ReturnType<typeof goawayOf>[] => client.frames.filter((f) => f.type === FRAME.GOAWAY).map(goawayOf);
/** The frame types on stream 0 after the response, in order (SETTINGS and its ACK come first and are left out). */
const controlAfter = (client: RawH2, after: ReadFrame): number[] => client.frames.slice(client.frames.indexOf(after) + 1).map((f) => f.type);

describe('HTTP/2 lab: how an idle connection ends, on the wire', () => {
  const idleMs = 600;

  it('immediate: one GOAWAY(NO_ERROR, last stream) after the idle timeout, then FIN closeAfterGoawayMs later (nginx, Go)', async () => {
    const closeAfterMs = 300;
    const { port } = await h2Lab({ idleTimeoutMs: idleMs }, { goaway: 'immediate', closeAfterGoawayMs: closeAfterMs });
    const client = await rawH2(port);
    client.write(getRequest(1));
    const end = await responseEnd(client, 1);
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, idleMs * 3);
    const fin = await client.closed(closeAfterMs * 3 + 1000);
    expect(goaways(client)).toEqual([{ lastStreamId: 1, errorCode: 0, debug: '' }]);
    expect(controlAfter(client, end)).toEqual([FRAME.GOAWAY]);
    expect(client.closedBy()).toBe('fin');
    expectNear(goaway.at - end.at, idleMs);
    expectNear(fin - goaway.at, closeAfterMs);
  });

  it('graceful: GOAWAY(2^31−1, "max_idle") and PING, then after the PING ACK GOAWAY(last stream, "max_idle"), then FIN (gRPC-Go drain)', async () => {
    const { port } = await h2Lab({ idleTimeoutMs: idleMs }, { goaway: 'graceful', closeAfterGoawayMs: 0 });
    const client = await rawH2(port);
    client.write(getRequest(1));
    const end = await responseEnd(client, 1);
    const first = await client.frame((f) => f.type === FRAME.GOAWAY, idleMs * 3);
    await client.closed(2000);
    expect(goaways(client)).toEqual([
      { lastStreamId: MAX_STREAM_ID, errorCode: 0, debug: 'max_idle' },
      { lastStreamId: 1, errorCode: 0, debug: 'max_idle' },
    ]);
    expect(controlAfter(client, end)).toEqual([FRAME.GOAWAY, FRAME.PING, FRAME.GOAWAY]);
    expect(client.closedBy()).toBe('fin');
    const ping = client.frames.find((f) => f.type === FRAME.PING) as ReadFrame;
    expect([...ping.payload]).toEqual([1, 6, 1, 8, 0, 3, 3, 9]);
    expectNear(first.at - end.at, idleMs);
  });

  it('graceful with a client that never answers the PING: the second GOAWAY follows after the bound', async () => {
    const { port } = await h2Lab({ idleTimeoutMs: idleMs }, { goaway: 'graceful', closeAfterGoawayMs: 0 });
    const client = await rawH2(port, { ackPings: false });
    client.write(getRequest(1));
    await responseEnd(client, 1);
    const first = await client.frame((f) => f.type === FRAME.GOAWAY, idleMs * 3);
    const second = await client.frame((f) => f.type === FRAME.GOAWAY && goawayOf(f).lastStreamId === 1, DRAIN_PING_WAIT_MS * 2);
    await client.closed(2000);
    expectNear(second.at - first.at, DRAIN_PING_WAIT_MS);
  }, 20_000);

  it('none: a FIN after the idle timeout and no GOAWAY at all (a proxy that forgets)', async () => {
    const { port } = await h2Lab({ idleTimeoutMs: idleMs }, { goaway: 'none', closeAfterGoawayMs: 500 });
    const client = await rawH2(port);
    client.write(getRequest(1));
    const end = await responseEnd(client, 1);
    const fin = await client.closed(idleMs * 3);
    expect(goaways(client)).toEqual([]);
    expect(controlAfter(client, end)).toEqual([]);
    expect(client.closedBy()).toBe('fin');
    expectNear(fin - end.at, idleMs);
  });

  it('a connection that never opened a stream idles out too, counted from the preface', async () => {
    const { port } = await h2Lab({ idleTimeoutMs: idleMs }, { goaway: 'immediate' });
    const started = performance.now();
    const client = await rawH2(port);
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, idleMs * 3);
    expect(goawayOf(goaway)).toEqual({ lastStreamId: 0, errorCode: 0, debug: '' });
    expectNear(goaway.at - started, idleMs);
    await client.closed(2000);
  });
});

describe('HTTP/2 lab: request cap', () => {
  it('immediate: the stream that reaches the cap gets GOAWAY with itself as last stream, is served, then the connection closes', async () => {
    const { port } = await h2Lab({ maxRequests: 3, idleTimeoutMs: 10_000 }, { goaway: 'immediate', closeAfterGoawayMs: 0 });
    const client = await rawH2(port);
    for (const id of [1, 3, 5]) {
      client.write(getRequest(id));
      await responseEnd(client, id);
    }
    await client.closed(2000);
    expect(goaways(client)).toEqual([{ lastStreamId: 5, errorCode: 0, debug: '' }]);
    // nginx sends the GOAWAY on the HEADERS of the request that reaches the cap, before its response.
    const onFive = client.frames.filter((f) => f.type === FRAME.GOAWAY || f.streamId === 5).map((f) => f.type);
    expect(onFive).toEqual([FRAME.GOAWAY, FRAME.HEADERS, FRAME.DATA]);
  });

  it("Node's http2 client sees the cap's GOAWAY (errorCode 0, lastStreamID of the last request) and every response", async () => {
    const { url } = await h2Lab({ maxRequests: 2, idleTimeoutMs: 10_000 }, { goaway: 'immediate', maxConcurrentStreams: 7 });
    const session = http2.connect(url);
    try {
      const settings = new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
      const goaway = new Promise<{ errorCode: number; lastStreamID: number }>((resolve) =>
        session.once('goaway', (errorCode: number, lastStreamID: number) => resolve({ errorCode, lastStreamID })),
      );
      const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
      session.on('error', () => undefined);
      const bodies = [await h2Get(session), await h2Get(session)];
      expect(bodies).toEqual(['keepalive-probe lab: response 1 on connection 1\n', 'keepalive-probe lab: response 2 on connection 1\n']);
      expect((await withTimeout(settings, 2000)).maxConcurrentStreams).toBe(7);
      expect(await withTimeout(goaway, 2000)).toEqual({ errorCode: 0, lastStreamID: 3 });
      await withTimeout(closed, 2000);
    } finally {
      session.destroy();
    }
  });

  it('graceful: the cap drains in two steps, debug "max_requests"', async () => {
    const { port } = await h2Lab({ maxRequests: 1, idleTimeoutMs: 10_000 }, { goaway: 'graceful', closeAfterGoawayMs: 0 });
    const client = await rawH2(port);
    client.write(getRequest(1));
    await responseEnd(client, 1);
    await client.closed(2000);
    expect(goaways(client)).toEqual([
      { lastStreamId: MAX_STREAM_ID, errorCode: 0, debug: 'max_requests' },
      { lastStreamId: 1, errorCode: 0, debug: 'max_requests' },
    ]);
  });
});

describe('HTTP/2 lab: max concurrent streams (nghttp2 enforces SETTINGS_MAX_CONCURRENT_STREAMS)', () => {
  it('sends SETTINGS_MAX_CONCURRENT_STREAMS as configured', async () => {
    const { port } = await h2Lab({}, { maxConcurrentStreams: 1 });
    const client = await rawH2(port);
    const settings = await client.frame((f) => f.type === FRAME.SETTINGS && f.flags === 0, 2000);
    const entries = Array.from({ length: settings.payload.length / 6 }, (_, i) => [
      settings.payload.readUInt16BE(i * 6),
      settings.payload.readUInt32BE(i * 6 + 2),
    ]);
    expect(entries).toContainEqual([0x3, 1]);
  });

  it('a stream above the limit before the client ACKed the SETTINGS gets RST_STREAM(REFUSED_STREAM); the others are served', async () => {
    const { port } = await h2Lab({}, { maxConcurrentStreams: 1 });
    const client = await rawH2(port, { ackSettings: false });
    client.write(Buffer.concat([getRequest(1), getRequest(3)]));
    const rst = await client.frame((f) => f.type === FRAME.RST_STREAM, 2000);
    expect({ streamId: rst.streamId, code: rst.payload.readUInt32BE(0) }).toEqual({ streamId: 3, code: 0x7 });
    await responseEnd(client, 1);
    expect(goaways(client)).toEqual([]);
  });

  // nghttp2 takes a stream above the acknowledged limit for a connection error ("request HEADERS:
  // max concurrent streams exceeded"); Node then destroys the session with INTERNAL_ERROR. Go
  // answers RST_STREAM(PROTOCOL_ERROR) on that stream only. docs/lab.md says so.
  it('above the acknowledged limit the whole connection ends: GOAWAY(INTERNAL_ERROR) from Node, not a stream error as Go', async () => {
    const { port } = await h2Lab({}, { maxConcurrentStreams: 1 });
    const client = await rawH2(port);
    // useRawH2 ACKs the server's SETTINGS as it reads them, so the ACK goes out before these requests.
    await client.frame((f) => f.type === FRAME.SETTINGS && f.flags === 0, 2000);
    client.write(Buffer.concat([getRequest(1), getRequest(3)]));
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, 2000);
    expect(goawayOf(goaway)).toEqual({ lastStreamId: 1, errorCode: 0x2, debug: '' });
    await client.closed(2000);
  });
});

describe('HTTP/2 lab: real clients and HTTP/1 on the same port', () => {
  it('curl --http2-prior-knowledge gets an HTTP/2 response', async () => {
    const { url } = await h2Lab({});
    const { stdout } = await execFileBounded('curl', ['-sS', '--http2-prior-knowledge', '--max-time', '5', '-w', '\\n%{http_version} %{response_code}', url]);
    expect(stdout).toBe('keepalive-probe lab: response 1 on connection 1\n\n2 200');
  });

  it("HTTP/1.1 requests, including one starting with the preface's first letter, are served as before", async () => {
    const { port } = await h2Lab({});
    const get = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
    expect(get).toEqual({ status: 200, body: 'keepalive-probe lab: response 1 on connection 1\n' });
    const post = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\n\r\n');
    expect(post).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('without http2 in the profile the preface is an HTTP/1 request like any other: 400 and close', async () => {
    const lab = await startLab({ http2: null });
    const answer = await rawExchange(lab.port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
  });
});

/** One GET on a Node http2 session; resolves with the body (bounded). */
function h2Get(session: http2.ClientHttp2Session): Promise<string> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    }),
    2000,
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms);
    }),
  ]);
}

/** Writes `request` on a new connection and returns what came back before the close (bounded). */
function rawExchange(port: number, request: string): Promise<string> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(request));
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1');
        if (answer.includes('\r\n\r\n')) socket.destroy();
      });
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    }),
    3000,
  );
}

function execFileBounded(file: string, args: readonly string[], stdin?: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 10_000 }, (err, stdout, stderr) => (err === null ? resolve({ stdout, stderr }) : reject(err)));
    child.stdin?.end(stdin ?? '');
  });
}

describe('HTTP/2 lab over TLS (ALPN h2) with its self-signed certificate', () => {
  it('immediate: the same GOAWAY then close on the idle timeout, and HTTP/1.1 by ALPN on the same port', async () => {
    const idleMs = 500;
    const lab = await startLab({ idleTimeoutMs: idleMs, http2: { ...SERVE_HTTP2_DEFAULTS, goaway: 'immediate' } }, { tls: true });
    expect(lab.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const ca = lab.certificate as string;
    const client = await rawH2(lab.port, { ca });
    expect((client.socket as TLSSocket).alpnProtocol).toBe('h2');
    client.write(getRequest(1));
    const end = await responseEnd(client, 1);
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, idleMs * 3);
    await client.closed(2000);
    expect(goaways(client)).toEqual([{ lastStreamId: 1, errorCode: 0, debug: '' }]);
    expectNear(goaway.at - end.at, idleMs);

    const session = http2.connect(lab.url, { ca });
    session.on('error', () => undefined);
    try {
      expect(await h2Get(session)).toBe('keepalive-probe lab: response 1 on connection 2\n');
    } finally {
      session.destroy();
    }
    const { stdout } = await execFileBounded('curl', ['-sS', '-k', '--http1.1', '--max-time', '5', '-w', ' %{http_version}', lab.url]);
    expect(stdout).toBe('keepalive-probe lab: response 1 on connection 3\n 1.1');
  });
});

describe('HTTP/2 lab: a client that breaks the protocol', () => {
  it("nghttp2's GOAWAY(FRAME_SIZE_ERROR) is followed by a FIN, even with no idle timeout", async () => {
    const { port } = await h2Lab({ idleTimeoutMs: 0 }, {});
    const client = await rawH2(port);
    await client.frame((f) => f.type === FRAME.SETTINGS && f.flags === 0, 2000);
    client.write(Buffer.from('garbage that is no HTTP/2 frame at all', 'latin1'));
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, 2000);
    expect(goawayOf(goaway).errorCode).toBe(0x6);
    await client.closed(2000);
    expect(client.closedBy()).toBe('fin');
    expect(goaways(client)).toHaveLength(1);
  });
});

describe('HTTP/2 lab: a client that sends and never reads', () => {
  // The 5000th request reaches the cap, so the lab writes its GOAWAY while nghttp2 has answers queued.
  it('5000 requests written without reading a byte: the lab stays up and serves the next client', async () => {
    const { port, url } = await h2Lab({ maxRequests: 5000, idleTimeoutMs: 10_000 }, { maxConcurrentStreams: 0 });
    const flood = net.connect({ port, host: '127.0.0.1' });
    flood.on('error', () => undefined);
    await new Promise<void>((resolve) => flood.once('connect', () => resolve()));
    flood.pause(); // never read: the lab's answers pile up in the kernel buffers
    const requests = Array.from({ length: 5000 }, (_, i) => getRequest(2 * i + 1));
    flood.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.alloc(9, 0).fill(4, 3, 4), ...requests]));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const session = http2.connect(url);
    session.on('error', () => undefined);
    try {
      expect(await h2Get(session)).toBe('keepalive-probe lab: response 1 on connection 2\n');
    } finally {
      session.destroy();
      flood.destroy();
    }
  });
});
