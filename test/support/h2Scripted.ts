import net from 'node:net';
import tls from 'node:tls';
import { CLIENT_PREFACE, FRAME_HEADER_BYTES, FRAME_TYPE, encodeGoaway, encodeHeaders, encodeSettings } from '../../src/http/h2/frames.js';
import { encodeHeaderBlock } from '../../src/http/h2/hpack.js';

/**
 * What the scripted server does to the second request of its first connection: `goaway`
 * sends GOAWAY(NO_ERROR, last stream id = the first request's stream: the second is above it,
 * not processed) and its FIN 100 ms later (a graceful close that the request raced);
 * `goaway-error` the same with INTERNAL_ERROR; `fin` closes without GOAWAY; `rst` resets the
 * TCP connection.
 */
export type H2Ending = 'goaway' | 'goaway-error' | 'fin' | 'rst';

export interface H2ScriptedServer {
  readonly url: string;
  /** Streams that carried a request, per connection in accept order: [[1, 3], [1]] = two requests on connection 0, one on connection 1 (OkHttp starts at stream 3). */
  readonly requests: readonly (readonly number[])[];
  close(): Promise<void>;
}

const SETTINGS = encodeSettings([]);
const SETTINGS_ACK = encodeSettings([], true);
const PREFACE_LENGTH = CLIENT_PREFACE.length;
const FRAME_HEADER = FRAME_HEADER_BYTES;
const TYPE_HEADERS = FRAME_TYPE.HEADERS;
const GOAWAY_CLOSE_DELAY_MS = 100;

/** A bodiless 200: HEADERS with END_STREAM and END_HEADERS. */
function ok(stream: number): Buffer {
  return encodeHeaders(stream, encodeHeaderBlock([[':status', '200']]), { endStream: true });
}

/**
 * A minimal HTTP/2 server that writes exact frames: SETTINGS and a SETTINGS ACK after the
 * client's preface, a bodiless 200 to every request, except the second request of the first
 * connection, which meets `ending`. Over TLS (ALPN h2) with `tlsOptions`, else h2c (prior
 * knowledge). It reads nothing but frame headers: enough for clients that send one HEADERS
 * frame per request.
 */
export async function startH2Scripted(ending: H2Ending, tlsOptions: { key: Buffer; cert: Buffer } | null): Promise<H2ScriptedServer> {
  const requests: number[][] = [];
  const sockets = new Set<net.Socket>();
  const secureContext = tlsOptions === null ? null : tls.createSecureContext(tlsOptions);
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    const conn = secureContext === null ? raw : new tls.TLSSocket(raw, { isServer: true, secureContext, ALPNProtocols: ['h2'] });
    conn.on('error', () => {});
    const streams: number[] = [];
    requests.push(streams);
    const first = requests.length === 1;
    let buffered = Buffer.alloc(0);
    let prefaceSeen = false;
    conn.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!prefaceSeen) {
        if (buffered.length < PREFACE_LENGTH) return;
        buffered = buffered.subarray(PREFACE_LENGTH);
        prefaceSeen = true;
        conn.write(Buffer.concat([SETTINGS, SETTINGS_ACK]));
      }
      while (buffered.length >= FRAME_HEADER) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < FRAME_HEADER + length) return;
        const type = buffered[3];
        const stream = buffered.readUInt32BE(5) & 0x7fffffff;
        buffered = buffered.subarray(FRAME_HEADER + length);
        if (type !== TYPE_HEADERS) continue;
        streams.push(stream);
        if (!first || streams.length !== 2) conn.write(ok(stream));
        else if (ending === 'fin') conn.end();
        else if (ending === 'rst') raw.resetAndDestroy();
        else {
          conn.write(encodeGoaway(streams[0] ?? 0, ending === 'goaway' ? 0 : 2));
          setTimeout(() => conn.end(), GOAWAY_CLOSE_DELAY_MS).unref();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${secureContext === null ? 'http' : 'https'}://127.0.0.1:${port}/`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
