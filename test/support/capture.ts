import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

/**
 * tshark on the loopback interface, filtered to one port, to check the probe against the
 * wire. Capture needs privileges; where it is not permitted, start() says why so the test
 * can skip (never pass) with that reason.
 */

/** One TCP segment as tshark decoded it. */
export interface Segment {
  /** Seconds (epoch, ns precision as a float). */
  readonly time: number;
  readonly stream: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly fin: boolean;
  readonly rst: boolean;
  readonly payload: number;
  /** Payload that went out before (a retransmission, such as Linux's tail loss probe when an ACK is late): bytes below the sender's highest sequence number so far. */
  readonly resent: boolean;
}

export interface Capture {
  /** Stops capturing and returns the segments seen. */
  stop(): Promise<Segment[]>;
}

/** Starts capturing `tcp port <port>` on lo; resolves a Capture, or a reason why it cannot. */
export function startCapture(port: number): Promise<Capture | { readonly unavailable: string }> {
  return capturing(port, readSegments);
}

/** Captures `tcp port <port>` on lo into a temporary file; `stop` reads it with `read` and removes it. */
async function capturing<T>(port: number, read: (file: string) => T): Promise<{ stop(): Promise<T> } | { readonly unavailable: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-pcap-'));
  const file = path.join(dir, 'capture.pcapng');
  const recording = await recordCapture(`tcp port ${port}`, file);
  if ('unavailable' in recording) {
    rmSync(dir, { recursive: true, force: true });
    return recording;
  }
  return {
    stop: async () => {
      await recording.stop();
      const result = read(file);
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

/** The TCP segments of a capture file, as an independent tshark read (not the code under test). */
export function readSegments(file: string): Segment[] {
  const out = spawnSync(
    'tshark',
    [
      '-r',
      file,
      '-T',
      'fields',
      '-E',
      'separator=,',
      '-e',
      'frame.time_epoch',
      '-e',
      'tcp.stream',
      '-e',
      'tcp.srcport',
      '-e',
      'tcp.dstport',
      '-e',
      'tcp.flags.fin',
      '-e',
      'tcp.flags.reset',
      '-e',
      'tcp.len',
      '-e',
      'tcp.seq',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const sent = new Map<string, number>();
  return out.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [time = '', stream = '', src = '', dst = '', fin = '', rst = '', len = '', seq = ''] = line.split(',');
      const payload = Number(len);
      const key = `${stream}:${src}`;
      const end = Number(seq) + payload;
      const before = sent.get(key) ?? 0;
      sent.set(key, Math.max(before, end));
      return {
        time: Number(time),
        stream: Number(stream),
        srcPort: Number(src),
        dstPort: Number(dst),
        fin: fin === '1' || fin === 'True',
        rst: rst === '1' || rst === 'True',
        payload,
        resent: payload > 0 && end <= before,
      };
    });
}

/** The segments of the connection whose client side used `clientPort`. */
export function connectionSegments(segments: readonly Segment[], clientPort: number, near?: number): Segment[] {
  const conn = segments.filter((s) => s.srcPort === clientPort || s.dstPort === clientPort);
  const streams = [...new Set(conn.map((s) => s.stream))];
  if (streams.length <= 1) return conn;
  // A client port used twice in one capture (the server held TIME_WAIT, so the port was free
  // again): the connection that opened nearest `near` (epoch seconds), never a mix of two.
  expect(near, `client port ${clientPort} carries ${streams.length} connections: say when the one wanted opened`).toBeDefined();
  const opened = (stream: number): number => conn.find((s) => s.stream === stream)?.time ?? Number.POSITIVE_INFINITY;
  const nearest = streams.reduce((a, b) => (Math.abs(opened(b) - (near as number)) < Math.abs(opened(a) - (near as number)) ? b : a));
  return conn.filter((s) => s.stream === nearest);
}

/** What the wire says about how a connection ended. */
export interface WireClose {
  /** 'server' or 'client': who sent the first FIN or RST. */
  readonly firstCloser: 'server' | 'client' | null;
  readonly how: 'fin' | 'rst' | null;
  /** ms from the server's last data segment to its FIN or RST, when the server closed first. */
  readonly serverIdleMs: number | null;
}

/** Reads the close of one connection off the wire. */
export function wireClose(segments: readonly Segment[], serverPort: number, clientPort: number, near?: number): WireClose {
  const conn = connectionSegments(segments, clientPort, near);
  const close = conn.find((s) => s.fin || s.rst);
  if (close === undefined) return { firstCloser: null, how: null, serverIdleMs: null };
  const firstCloser = close.srcPort === serverPort ? 'server' : 'client';
  const lastServerData = [...conn.filter((s) => s.time <= close.time && s.srcPort === serverPort && s.payload > 0 && !s.resent)].pop();
  const serverIdleMs = firstCloser === 'server' && lastServerData !== undefined ? (close.time - lastServerData.time) * 1000 : null;
  return { firstCloser, how: close.fin ? 'fin' : 'rst', serverIdleMs };
}

/** A capture being written to a file. */
export interface Recording {
  /** Stops capturing; the file is complete when it resolves. */
  stop(): Promise<void>;
}

/**
 * Starts tshark on lo with capture filter `filter`, writing `file` (pcapng); resolves a
 * Recording, or a reason why capturing is not possible here (not installed, no privileges).
 */
export async function recordCapture(filter: string, file: string): Promise<Recording | { readonly unavailable: string }> {
  if (spawnSync('sh', ['-c', 'command -v tshark']).status !== 0) {
    return { unavailable: 'tshark is not installed (apt-get install tshark)' };
  }
  const child = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('Capturing on')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    child.kill('SIGKILL');
    await exited;
    return { unavailable: `tshark could not capture on lo: ${stderr.trim().split('\n').slice(-2).join(' ')}` };
  }
  // "Capturing on" is printed as the capture starts; give libpcap a moment to attach.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    stop: async () => {
      await new Promise((resolve) => setTimeout(resolve, 300)); // let the last segments be written
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One HTTP/2 frame as tshark's http2 dissector decoded it (cleartext h2c only: no TLS keys). */
export interface H2WireFrame {
  /** Seconds (epoch) of the TCP segment that carried the frame's end. */
  readonly time: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** RFC 9113 §6 frame type: 0 DATA, 1 HEADERS, 3 RST_STREAM, 4 SETTINGS, 6 PING, 7 GOAWAY, 8 WINDOW_UPDATE. */
  readonly type: number;
  readonly streamId: number;
  readonly flags: number;
  /** GOAWAY only: the error code (0 NO_ERROR). */
  readonly goawayError: number | null;
  /** GOAWAY only. */
  readonly goawayLastStreamId: number | null;
}

/**
 * The HTTP/2 frames of a capture file, decoded by tshark's http2 dissector (`-d tcp.port==P,http2`:
 * h2c on a port tshark does not know), independently of the probe's own codec. A segment that
 * carries several frames lists each field once per frame, in order (`|`-joined); the GOAWAY
 * fields are given once per GOAWAY frame, so they are matched to the GOAWAYs in order.
 */
export function readH2Frames(file: string, serverPort: number): H2WireFrame[] {
  const fields = [
    'frame.time_epoch',
    'tcp.srcport',
    'tcp.dstport',
    'http2.type',
    'http2.streamid',
    'http2.flags',
    'http2.goaway.error',
    'http2.goaway.last_stream_id',
  ];
  const out = spawnSync(
    'tshark',
    [
      '-r',
      file,
      '-d',
      `tcp.port==${serverPort},http2`,
      '-Y',
      'http2.type',
      '-T',
      'fields',
      '-E',
      'separator=/t',
      '-E',
      'aggregator=|',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const frames: H2WireFrame[] = [];
  for (const line of out.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [time = '', src = '', dst = '', types = '', streams = '', flags = '', errors = '', lastIds = ''] = line.split('\t');
    const list = (s: string): number[] => (s === '' ? [] : s.split('|').map(Number));
    const [streamIds, flagList, errorList, lastIdList] = [list(streams), list(flags), list(errors), list(lastIds)];
    let goaways = 0;
    list(types).forEach((type, i) => {
      const goaway = type === 7 ? goaways++ : -1;
      frames.push({
        time: Number(time),
        srcPort: Number(src),
        dstPort: Number(dst),
        type,
        streamId: streamIds[i] ?? -1,
        flags: flagList[i] ?? 0,
        goawayError: goaway < 0 ? null : (errorList[goaway] ?? null),
        goawayLastStreamId: goaway < 0 ? null : (lastIdList[goaway] ?? null),
      });
    });
  }
  return frames;
}

/** A capture of one port's TCP segments and, decoded as HTTP/2, its frames. */
export interface H2Capture {
  stop(): Promise<{ segments: Segment[]; frames: H2WireFrame[] }>;
}

/** Starts capturing `tcp port <port>` on lo for an h2c server; resolves an H2Capture, or a reason why it cannot. */
export function startH2Capture(port: number): Promise<H2Capture | { readonly unavailable: string }> {
  return capturing(port, (file) => ({ segments: readSegments(file), frames: readH2Frames(file, port) }));
}
