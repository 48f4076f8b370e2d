import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
}

export interface Capture {
  /** Stops capturing and returns the segments seen. */
  stop(): Promise<Segment[]>;
}

/** Starts capturing `tcp port <port>` on lo; resolves a Capture, or a reason why it cannot. */
export async function startCapture(port: number): Promise<Capture | { readonly unavailable: string }> {
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
      const segments = readSegments(file);
      rmSync(dir, { recursive: true, force: true });
      return segments;
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
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return out.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [time = '', stream = '', src = '', dst = '', fin = '', rst = '', len = ''] = line.split(',');
      return {
        time: Number(time),
        stream: Number(stream),
        srcPort: Number(src),
        dstPort: Number(dst),
        fin: fin === '1' || fin === 'True',
        rst: rst === '1' || rst === 'True',
        payload: Number(len),
      };
    });
}

/** The segments of the connection whose client side used `clientPort`. */
export function connectionSegments(segments: readonly Segment[], clientPort: number): Segment[] {
  return segments.filter((s) => s.srcPort === clientPort || s.dstPort === clientPort);
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
export function wireClose(segments: readonly Segment[], serverPort: number, clientPort: number): WireClose {
  const conn = connectionSegments(segments, clientPort);
  const close = conn.find((s) => s.fin || s.rst);
  if (close === undefined) return { firstCloser: null, how: null, serverIdleMs: null };
  const firstCloser = close.srcPort === serverPort ? 'server' : 'client';
  const lastServerData = [...conn.filter((s) => s.time <= close.time && s.srcPort === serverPort && s.payload > 0)].pop();
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
