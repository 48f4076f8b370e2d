import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_PREFACE,
  FRAME_TYPE,
  FrameReader,
  encodeData,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodeRstStream,
  encodeSettings,
  errorCodeName,
} from '../src/http/h2/frames.js';
import type { H2Frame } from '../src/http/h2/frames.js';
import { encodeHeaderBlock } from '../src/http/h2/hpack.js';
import type { RunResult } from '../src/model/result.js';
import { runCli } from './support/cli.js';
import { useRawServer } from './support/rawServer.js';

/**
 * Hostile and broken HTTP/2 peers: raw TCP servers that read the probe's preface and then
 * misbehave. Each run ends within its bounds with a documented error code (exit 3 when the
 * target cannot be probed) and one error line, or with a report whose server text is escaped.
 */

const rawServer = useRawServer();

/**
 * An HTTP/2 "server" that reads the probe's preface and frames: it sends its SETTINGS (unless
 * `settings` is false), then `onRequest` once the probe's first HEADERS arrives; `seen` lists
 * the frame types the probe sent (a GOAWAY with its error code).
 */
function h2Peer(onRequest: (socket: net.Socket) => void, seen: string[] = [], settings = true): (socket: net.Socket) => void {
  return (socket) => {
    let buffered = Buffer.alloc(0);
    let reader: FrameReader | null = null;
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (reader === null) {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < CLIENT_PREFACE.length) return;
        reader = new FrameReader();
        if (settings) socket.write(encodeSettings([]));
        chunk = buffered.subarray(CLIENT_PREFACE.length);
      }
      let frames: readonly H2Frame[] = [];
      try {
        frames = reader.push(chunk);
      } catch {
        return;
      }
      for (const frame of frames) {
        seen.push(frame.type === 'GOAWAY' ? `GOAWAY ${errorCodeName(frame.errorCode)}` : frame.type);
        if (frame.type === 'HEADERS' && !answered) {
          answered = true;
          onRequest(socket);
        }
      }
    });
  };
}

/** A response on stream 1 (the probe's first request). */
function response(fields: [string, string][], body = 'ok'): Buffer {
  return Buffer.concat([encodeHeaders(1, encodeHeaderBlock(fields), { endStream: false }), encodeData(1, Buffer.from(body), true)]);
}

async function probeH2(url: string, extra: readonly string[] = []): Promise<{ code: number | null; result: RunResult; stderr: string; stdout: string }> {
  const args = [
    'run',
    url,
    '--protocol',
    'h2',
    '-s',
    'h2-idle-timeout',
    '--json',
    '--max-idle',
    '1500ms',
    '--response-timeout',
    '1s',
    '--headers-timeout',
    '1500ms',
    ...extra,
  ];
  const { code, stdout, stderr } = await runCli(args, { timeoutMs: 20_000 });
  return { code, result: JSON.parse(stdout) as RunResult, stderr, stdout };
}

function expectOneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('hostile HTTP/2 peers', () => {
  it('silence after the preface: h2-unsupported after the 3 s check, exit 3', async () => {
    const url = await rawServer(() => undefined);
    const { code, result, stderr } = await probeH2(url);
    expect(code).toBe(3);
    expect(result.error?.code).toBe('h2-unsupported');
    expect(result.error?.message).toContain('did not answer the HTTP/2 connection preface within');
    expectOneLine(stderr);
  });

  it('an HTTP/1 answer to the preface: h2-unsupported, quoting it', async () => {
    const url = await rawServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-length: 0\r\n\r\n')));
    const { code, result } = await probeH2(url);
    expect(code).toBe(3);
    expect(result.error?.message).toContain('"HTTP/1.1 505 HTTP Version Not Supported"');
  });

  it.each([
    ['a frame over the 16384-byte maximum', () => encodeFrame(FRAME_TYPE.DATA, 0, 1, Buffer.alloc(20_000)), 'FRAME_SIZE_ERROR'],
    ['a header block HPACK cannot decode', () => encodeHeaders(1, Buffer.from([0xff, 0xff, 0xff, 0x7f]), { endStream: true }), 'COMPRESSION_ERROR'],
    [
      'PUSH_PROMISE although push is off',
      () => encodeFrame(FRAME_TYPE.PUSH_PROMISE, 0x4, 1, Buffer.concat([Buffer.from([0, 0, 0, 2]), encodeHeaderBlock([[':status', '200']])])),
      'PROTOCOL_ERROR',
    ],
    ['a response without :status', () => response([['server', 'x']]), 'PROTOCOL_ERROR'],
    [
      'a CONTINUATION flood',
      () =>
        Buffer.concat([
          encodeFrame(FRAME_TYPE.HEADERS, 0, 1, Buffer.alloc(0)),
          ...Array.from({ length: 40 }, () => encodeFrame(FRAME_TYPE.CONTINUATION, 0, 1, Buffer.alloc(8000, 0x40))),
        ]),
      'PROTOCOL_ERROR',
    ],
  ])('%s: a protocol error on the first request, the probe answers with GOAWAY, exit 3', async (_name, frames, h2Code) => {
    const seen: string[] = [];
    const url = await rawServer(h2Peer((socket) => socket.write(frames()), seen));
    const { code, result, stderr } = await probeH2(url);
    expect(code).toBe(3);
    expect(result.error?.code).toBe('protocol-error');
    expect(result.error?.message).toContain(`broke the HTTP/2 protocol (${h2Code})`);
    expectOneLine(stderr);
    // The probe ends the connection with a GOAWAY that names the violation (RFC 9113 §5.4.1).
    expect(seen).toContain(`GOAWAY ${h2Code}`);
  });

  it('RST_STREAM on the first request: closed-before-response, naming the code', async () => {
    const url = await rawServer(h2Peer((socket) => socket.write(encodeRstStream(1, 0x7))));
    const { code, result } = await probeH2(url);
    expect(code).toBe(3);
    expect(result.error).toMatchObject({ code: 'closed-before-response' });
    expect(result.error?.message).toContain('RST_STREAM REFUSED_STREAM');
  });

  it('SETTINGS, then no response: the response deadline ends it (exit 3, no-response)', async () => {
    const url = await rawServer(h2Peer(() => undefined));
    const { code, result } = await probeH2(url);
    expect(code).toBe(3);
    expect(result.error?.code).toBe('no-response');
  });

  it('escape sequences in headers and GOAWAY debug data never reach the terminal raw', async () => {
    const url = await rawServer(
      h2Peer((socket) => {
        socket.write(
          response([
            [':status', '200'],
            ['server', 'evil\x1b[31mred\x1b[0m'],
          ]),
        );
        setTimeout(() => socket.end(encodeGoaway(1, 0, Buffer.from('bye\x1b]0;pwned\x07'))), 300).unref();
      }),
    );
    const { stdout } = await runCli(['run', url, '--protocol', 'h2', '-s', 'h2-idle-timeout', '-v', '--max-idle', '2s'], { timeoutMs: 20_000 });
    expect(stdout).toContain('GOAWAY');
    expect(stdout).not.toContain('\x1b');
    expect(stdout).not.toContain('\x07');
  });
});
