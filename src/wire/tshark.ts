import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, rmSync, statSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import { Aborted, CaptureFileError, MissingToolError, TempSpaceError, abortReason } from '../model/errors.js';
import type { CaptureSelection } from '../plan/analyzePlan.js';
import { chunkFilter, onePassFilter, selects } from './captureSelection.js';
import { ChunkStreams } from './chunkStreams.js';
import { SideFile } from './sideFile.js';

/**
 * tshark as the dissector of a packet capture: one child process, one pass (never `-2`,
 * which holds the whole capture in memory), its `-T fields` output read line by line, so a
 * capture of any size is read in bounded memory. Wireshark's dissectors do the TCP
 * reassembly, HTTP/1.x parsing and TLS decryption (with a key log); this module only turns
 * their fields into typed packets.
 */

/** How to install tshark, for the error line. */
export const TSHARK_HINT =
  "install Wireshark's command-line tools (Debian, Ubuntu: apt-get install tshark; Fedora: dnf install wireshark-cli; macOS: brew install wireshark)";

/** One HTTP/1.x message tshark decoded in a frame. */
export type CapturedMessage =
  | {
      readonly kind: 'request';
      readonly method: string;
      readonly uri: string;
      readonly version: string;
      /** The Connection header's value; null when absent (or, with several messages in one frame, not attributable). */
      readonly connection: string | null;
    }
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly version: string;
      readonly connection: string | null;
      readonly keepAlive: string | null;
      readonly contentLength: number | null;
      readonly chunked: boolean;
      /** The Server header; null when absent. */
      readonly server: string | null;
    };

/** One TCP segment with what tshark read in it. */
export interface CapturedPacket {
  readonly frame: number;
  /** Seconds after the capture's first packet. */
  readonly time: number;
  /** Seconds since 1970 (for the report's start time). */
  readonly epoch: number;
  /** The epoch as tshark wrote it (nanoseconds: a double does not hold them next to the seconds). */
  readonly epochText: string;
  readonly stream: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly syn: boolean;
  readonly ack: boolean;
  readonly fin: boolean;
  readonly rst: boolean;
  /** TCP payload bytes. */
  readonly payload: number;
  /** The raw TCP sequence number (tcp.seq_raw). */
  readonly seq: number;
  /** TLS records seen in this segment. */
  readonly tls: boolean;
  readonly messages: readonly CapturedMessage[];
  /** HTTP/2 frames tshark's http2 dissector decoded in this segment (h2c, or TLS with keys), in order. */
  readonly h2: readonly CapturedH2Frame[];
  /** The segment carried the HTTP/2 client preface (RFC 9113 §3.4), decoded. */
  readonly h2Preface: boolean;
  /**
   * The segment begins with the HTTP/2 client preface that no dissector took: h2c with prior
   * knowledge on a port tshark does not dissect as HTTP. tshark 4.0.17 recognises the preface
   * only where its HTTP dissector runs (port 80, 8080, … or `-d tcp.port==P,http`: it hands
   * the connection to http2, as checked here) and has no heuristic that finds it on any port
   * (`tshark -G heuristic-decodes` lists http2 under `http` and `tls` only): such a connection
   * is read again with its port decoded as HTTP (measures/measureCapture.ts).
   */
  readonly h2cUndecoded: boolean;
}

/** One HTTP/2 frame (RFC 9113 §4.1) as tshark decoded it: its header and the fields the timeline keeps. */
export interface CapturedH2Frame {
  /** The frame type code (0 DATA, 1 HEADERS, … 7 GOAWAY). */
  readonly type: number;
  readonly streamId: number;
  readonly flags: number;
  readonly length: number;
  /** GOAWAY, RST_STREAM: the error code. */
  readonly errorCode: number | null;
  /** GOAWAY. */
  readonly lastStreamId: number | null;
  /** GOAWAY: its debug data, as bytes (latin1); '' when it had none. */
  readonly debug: string | null;
  /** SETTINGS: identifier → value, in order. */
  readonly settings: readonly (readonly [number, number])[] | null;
  /** HEADERS: the header fields of its block, as tshark decoded them (HPACK state included). */
  readonly headers: readonly (readonly [string, string])[] | null;
}

/** What to read from a capture. */
export interface TsharkRead {
  readonly file: string;
  /**
   * Which connections to read (analyze's --port, --host, --stream); absent or null for every one.
   * Ports and hosts are tshark's display filter (in each chunk's too); streams are the whole
   * file's tcp.stream numbers, so a chunked read selects them after ChunkStreams numbered them.
   */
  readonly select?: CaptureSelection | null;
  /** An SSLKEYLOGFILE-format key log (`-o tls.keylog_file:`), or null. */
  readonly tlsKeylog: string | null;
  /** The tshark executable (a test may name one that does not exist). */
  readonly tshark?: string;
  /** How to read a large capture in bounded memory; CAPTURE_CHUNKS when absent, null for one pass whatever the size. */
  readonly chunks?: CaptureChunks | null;
  /**
   * Dissectors to force (`-d`, e.g. `tcp.port==8080,http`): tshark picks a TCP dissector by
   * either port, so a client's ephemeral port that a protocol registered (48898, AMS) would
   * otherwise hide the HTTP on it.
   */
  readonly decodeAs?: readonly string[];
  /**
   * Connections (the whole file's tcp.stream numbers) that need their whole history in one
   * tshark (TLS, HTTP/2: CaptureChunksLost): a chunked read copies their packets into a side
   * file as it goes and reads that file in one pass at the end, after the other connections.
   */
  readonly sideStreams?: ReadonlySet<number>;
  /**
   * Every selected connection needs its whole history (h2c, decoded from its preface on): one
   * that a chunk's tshark did not see open is lost (CaptureChunksLost), whatever it carries.
   */
  readonly wholeHistory?: boolean;
  /** Ports one of which every selected connection has (the h2c pass's server ports): narrows what tshark writes out, selects nothing more. */
  readonly portsHint?: readonly number[];
  /** Where a large capture is split (a directory made in it, removed after the read); os.tmpdir() when absent. */
  readonly tempRoot?: string;
  /** Aborting it stops the read: tshark and editcap are killed, the parts removed, and Aborted thrown with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** SETTINGS values by identifier (RFC 9113 §6.5.2, RFC 8441 §3): tshark names a field per identifier, `unknown` for the rest. */
const SETTING_FIELDS: readonly (readonly [number | null, string])[] = [
  [1, 'http2.settings.header_table_size'],
  [2, 'http2.settings.enable_push'],
  [3, 'http2.settings.max_concurrent_streams'],
  [4, 'http2.settings.initial_window_size'],
  [5, 'http2.settings.max_frame_size'],
  [6, 'http2.settings.max_header_list_size'],
  [8, 'http2.settings.extended_connect'],
  [null, 'http2.settings.unknown'],
];

/** Occurrences of one field in one frame are joined with this (a control character no header value can hold: RFC 9110 §5.5). */
const AGGREGATOR = '\x1f';

const FIELDS = [
  'frame.number',
  'frame.time_relative',
  'frame.time_epoch',
  'tcp.stream',
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags.syn',
  'tcp.flags.ack',
  'tcp.flags.fin',
  'tcp.flags.reset',
  'tcp.len',
  'tls.record.content_type',
  'http.request.method',
  'http.request.uri',
  'http.request.version',
  'http.response.code',
  'http.response.version',
  'http.connection',
  'http.response.line',
  'http.content_length',
  'http.transfer_encoding',
  // A payload no dissector took: an h2c connection on a port tshark does not dissect as HTTP (h2cUndecoded).
  'data.data',
  // The raw sequence number: a SYN's tells a new connection on a 4-tuple from a retransmission (ChunkStreams).
  'tcp.seq_raw',
  // HTTP/2 (tshark's http2 dissector): one occurrence per frame for the frame header; the
  // GOAWAY, RST_STREAM, SETTINGS and header fields once per frame (or setting, or header field)
  // of their kind, in order, so h2FramesOf can give each frame its own.
  'http2.magic',
  'http2.type',
  'http2.streamid',
  'http2.flags',
  'http2.length',
  'http2.goaway.last_stream_id',
  'http2.goaway.error',
  'http2.goaway.addata',
  'http2.rst_stream.error',
  'http2.settings.id',
  ...SETTING_FIELDS.map(([, field]) => field),
  'http2.header.count',
  'http2.header.name',
  // Last: a header value is the one field that may hold a tab (RFC 9110 §5.5), and parseLine joins what follows it back.
  'http2.header.value',
] as const;

/** `tshark -v`'s first line, or MissingToolError. */
export function tsharkVersion(tshark = 'tshark'): string {
  const out = spawnSync(tshark, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  if (out.error !== undefined) {
    if ((out.error as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingToolError('tshark', TSHARK_HINT);
    throw out.error;
  }
  return (out.stdout.split('\n')[0] ?? 'tshark').trim().replace(/\.$/, '');
}

/**
 * Streams the packets of a capture to `onPacket`, in capture order (in a chunked read, the
 * sideStreams' after the others). Rejects with MissingToolError when tshark is not installed,
 * CaptureFileError when tshark cannot read the file (its own one-line reason), TempSpaceError
 * when the temporary directory has no room for the split, CaptureChunksLost when a chunk
 * cannot read a connection as one pass would, Aborted when `read.signal` stops it. Resolves
 * to the number of chunks read (1: in one pass, see CaptureChunks).
 */
export async function readCapture(read: TsharkRead, onPacket: (p: CapturedPacket) => void): Promise<number> {
  const chunks = read.chunks === undefined ? CAPTURE_CHUNKS : read.chunks;
  const size = statSync(read.file).size;
  if (chunks !== null && readsInChunks(read)) {
    const root = read.tempRoot ?? tmpdir();
    const needed = Math.ceil(size * SPLIT_SPACE);
    const free = freeBytes(root);
    if (free !== null && free < needed) throw new TempSpaceError(needed, free, root);
    let dir: string | null = null;
    try {
      dir = mkdtempSync(path.join(root, 'kap-capture-'));
      const parts = await splitCapture(read, chunks, dir);
      if (parts !== null && parts.length > chunks.partsPerChunk) return await readChunks(read, chunks, parts, dir, onPacket);
    } catch (err) {
      // ENOSPC while splitting or copying: the same line as the check above, never a raw error.
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new TempSpaceError(needed, free ?? 0, root);
      // A copy stopped by the signal rejects with its own AbortError.
      if (read.signal?.aborted === true && !(err instanceof Aborted)) throw new Aborted(abortReason(read.signal));
      throw err;
    } finally {
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    }
  }
  const streams = new Set(read.select?.streams ?? []);
  await tsharkLines(read, tsharkArgs(read, read.file, onePassFilter(read)), (line) => {
    const packet = parseLine(line);
    if (packet !== null && (streams.size === 0 || streams.has(packet.stream))) onPacket(packet);
  });
  return 1;
}

/** Whether readCapture would read this capture in chunks (when editcap can split it). */
export function readsInChunks(read: TsharkRead): boolean {
  const chunks = read.chunks === undefined ? CAPTURE_CHUNKS : read.chunks;
  return chunks !== null && statSync(read.file).size >= chunks.minBytes;
}

/**
 * Free space the split needs, as a multiple of the capture's size: its pcapng parts (the size
 * of a pcapng capture; a pcap of small packets grows by pcapng's framing, 16 to 20 bytes a
 * packet more) and the chunk being read, which is made of parts removed as they go into it.
 * The side file (sideStreams) is at most the size of those connections.
 */
const SPLIT_SPACE = 1.3;

/** Bytes an unprivileged user may still write under `dir`; null when the system does not say. */
function freeBytes(dir: string): number | null {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

/**
 * How a large capture is read in bounded memory. tshark keeps state for every frame it has
 * dissected for as long as the file is open (about 520 bytes a packet here, two thirds of it
 * gone with `-o tcp.analyze_sequence_numbers:FALSE`, which reassembly needs for
 * retransmissions), so one process over a capture of millions of packets grows to gigabytes.
 * Its own bound, `-M <count>` (session auto reset), does not help in 4.0.17: every reset costs
 * 6 to 10 MB that is not given back, and restarts tcp.stream and frame.number (measured:
 * docs/analyze.md). So the file is
 * split (`editcap -c partPackets`, one linear pass, into a temporary directory) and read by one
 * tshark per chunk of `partsPerChunk` parts, each chunk preceded by the last part of the one
 * before: tshark sees that part again only to rebuild its reassembly state, so a message that
 * began there and ends in the chunk is read once, whole. What is read of the overlap is not
 * handed on (the chunk before did), but it maps the chunk's own tcp.stream numbers onto the
 * whole file's (ChunkStreams).
 */
export interface CaptureChunks {
  /** Packets per part, and so the overlap: a message whose segments span more packets than this across a chunk boundary is lost. */
  readonly partPackets: number;
  /** Parts per chunk: one tshark holds at most (partsPerChunk + 1) × partPackets packets. */
  readonly partsPerChunk: number;
  /** Smaller files are read in one pass (no temporary copy). */
  readonly minBytes: number;
}

/** The chunks analyze reads in: tshark holds at most 220,000 packets (peak RSS about 280 MiB, bench/README.md), and re-reads 10 % of them. */
export const CAPTURE_CHUNKS: CaptureChunks = { partPackets: 20_000, partsPerChunk: 10, minBytes: 64 * 1024 * 1024 };

/** tshark's arguments for reading `input` with the display filter `filter` (only TCP: HTTP/1.x and HTTP/2 ride on it, and a UDP stream has no tcp.stream to group by). */
function tsharkArgs(read: TsharkRead, input: string, filter: string): string[] {
  const args = ['-r', input, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', `aggregator=${AGGREGATOR}`, '-E', 'quote=n'];
  for (const field of FIELDS) args.push('-e', field);
  // tcp.time_relative (chunkFilter) whatever the user's preferences say.
  args.push('-Y', filter, '-o', 'tcp.calculate_timestamps:TRUE');
  if (read.tlsKeylog !== null) args.push('-o', `tls.keylog_file:${read.tlsKeylog}`);
  for (const rule of read.decodeAs ?? []) args.push('-d', rule);
  return args;
}

/**
 * The capture split into pcapng parts of `partPackets` packets (editcap names them
 * part_00000_<time>.pcapng, …: in order when sorted), or null when editcap cannot split it (not
 * installed, or a file it cannot read: the one pass then says why). Rejects with an ENOSPC
 * error when the disk fills.
 */
async function splitCapture(read: TsharkRead, chunks: CaptureChunks, dir: string): Promise<string[] | null> {
  const editcap = read.tshark === undefined ? 'editcap' : path.join(path.dirname(read.tshark), 'editcap');
  const child = spawn(editcap, ['-F', 'pcapng', '-c', String(chunks.partPackets), read.file, path.join(dir, 'part.pcapng')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = collectStderr(child);
  const { code, error } = await exited(child, read.signal);
  if (error !== null || code !== 0) {
    if (NO_SPACE.test(stderr())) throw noSpace();
    return null;
  }
  return readdirSync(dir)
    .filter((f) => f.startsWith('part_'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** What editcap and tshark say when the disk is full: "… because there is no space left on the file system", or strerror(ENOSPC). */
const NO_SPACE = /no space left on/i;

function noSpace(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
}

/**
 * Reads the parts chunk by chunk, one tshark each, handing on the selected packets with the
 * whole file's numbers; the sideStreams' packets are copied into a side file instead (one more
 * tshark, `-w`, over each chunk that has any) and read in one pass at the end. A chunk is its
 * parts concatenated into one file (pcapng sections follow one another, and tshark reads them
 * as one capture); not on tshark's standard input, which refuses the socket a Node child gets
 * ("The standard input is a \"special file\" or socket"). Resolves to the number of chunks.
 */
async function readChunks(
  read: TsharkRead,
  chunks: CaptureChunks,
  parts: readonly string[],
  dir: string,
  onPacket: (p: CapturedPacket) => void,
): Promise<number> {
  const streams = new ChunkStreams(chunks.partPackets);
  const wanted = selects(read.select ?? null);
  const filter = chunkFilter(read);
  const side = new SideFile(dir, read.sideStreams ?? new Set(), {
    run: (args) => tsharkLines(read, args, () => undefined),
    read: (file, onSide) =>
      tsharkLines(read, tsharkArgs(read, file, 'tcp'), (line) => {
        const packet = parseLine(line);
        if (packet !== null) onSide(packet);
      }),
    signal: read.signal,
  });
  const lost = new Set<number>();
  const chunkFile = path.join(dir, 'chunk.pcapng');
  let count = 0;
  for (let first = 0; first < parts.length; first += chunks.partsPerChunk) {
    const from = first === 0 ? 0 : first - 1;
    let flags = 'w';
    const own = parts.slice(from, first + chunks.partsPerChunk);
    for (const [i, part] of own.entries()) {
      await pipeline(createReadStream(part), createWriteStream(chunkFile, { flags }), { signal: read.signal });
      flags = 'a';
      // Read now (the chunk holds it): gone, so the split takes the capture's size, not that and a chunk more. The last is the next chunk's overlap.
      if (i < own.length - 1) rmSync(part);
    }
    streams.startChunk(from * chunks.partPackets, first * chunks.partPackets, Math.min(parts.length, first + chunks.partsPerChunk) - 1);
    side.startChunk();
    await tsharkLines(read, tsharkArgs(read, chunkFile, filter), (line) => {
      const packet = parseLine(line);
      if (packet === null) return;
      const whole = streams.map(packet);
      if (whole === null || !wanted(whole)) return;
      if (side.take(packet.stream, whole)) return;
      // tshark decrypts TLS with the secrets of a handshake it saw, and decodes HTTP/2 header blocks with
      // HPACK's dynamic table (RFC 7541 §2.3.2): a connection this tshark did not see open reads differently.
      if (streams.unopened(packet) && (read.wholeHistory === true || packet.tls || packet.h2.length > 0 || packet.h2Preface || packet.h2cUndecoded))
        lost.add(whole.stream);
      // Once one is lost the read is done again (measureCapture): only the rest of the lost connections are looked for.
      if (lost.size === 0) onPacket(whole);
    });
    count += 1;
    await side.copyChunk(chunkFile, first * chunks.partPackets - from * chunks.partPackets);
  }
  if (lost.size > 0) throw new CaptureChunksLost(lost);
  // The side file's tshark saw the connections otherwise than the chunks: read the capture in one pass.
  if (!(await side.read(streams, onPacket))) throw new CaptureChunksLost(null);
  return count;
}

/**
 * TLS or HTTP/2 connections crossed into a chunk whose tshark did not see them open: what it
 * reads there (nothing decrypted, frames not taken for HTTP/2, header blocks not decoded)
 * differs from one pass. The caller reads the capture again with them as `sideStreams`
 * (measureCapture); `streams` is null when even that did not give one pass's reading (read in one pass).
 */
export class CaptureChunksLost extends Error {
  constructor(readonly streams: ReadonlySet<number> | null) {
    super(
      streams === null
        ? 'the side file of whole connections did not read as the chunks did: read the capture in one pass'
        : `${streams.size} TLS or HTTP/2 connection${streams.size === 1 ? '' : 's'} span a chunk boundary: read them whole from a side file`,
    );
  }
}

/** Runs tshark with `args` and hands each line of its output to `onLine`, in order; the errors of readCapture. */
async function tsharkLines(read: TsharkRead, args: readonly string[], onLine: (line: string) => void): Promise<void> {
  const child = spawn(read.tshark ?? 'tshark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = collectStderr(child);
  const done = exited(child, read.signal);
  let failure: unknown = null;
  const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (failure !== null) return;
    try {
      onLine(line);
    } catch (err) {
      failure = err;
      child.kill('SIGTERM');
    }
  });
  const { code, error } = await done;
  if (error !== null) {
    if (error.code === 'ENOENT') throw new MissingToolError('tshark', TSHARK_HINT);
    throw error;
  }
  if (failure !== null) throw failure;
  if (code !== 0) {
    if (NO_SPACE.test(stderr())) throw noSpace();
    throw new CaptureFileError(`cannot read capture ${read.file}: ${tsharkReason(stderr())}`);
  }
}

/** The first 16 kB a child writes on stderr, as it has come so far. */
function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (text.length < 16_384) text += chunk;
  });
  return () => text;
}

/**
 * How a child ended; when `signal` aborts first, the child is killed and, once it has gone,
 * Aborted is thrown with the signal's reason (so the caller's cleanup runs after it).
 */
async function exited(child: ChildProcess, signal: AbortSignal | undefined): Promise<{ code: number | null; error: NodeJS.ErrnoException | null }> {
  const kill = (): void => {
    child.kill('SIGTERM');
  };
  signal?.addEventListener('abort', kill, { once: true });
  if (signal?.aborted === true) kill();
  try {
    const end = await new Promise<{ code: number | null; by: NodeJS.Signals | null; error: NodeJS.ErrnoException | null }>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, by: null, error }));
      child.once('close', (code, by) => resolve({ code, by, error: null }));
    });
    // Ctrl-C reaches the whole process group: the child may end of it before our handler aborts.
    if (end.by !== null && signal !== undefined && !signal.aborted) await abortWithin(signal, 250);
    if (signal?.aborted === true) throw new Aborted(abortReason(signal));
    return { code: end.code, error: end.error };
  } finally {
    signal?.removeEventListener('abort', kill);
  }
}

/** Resolves when `signal` aborts, or after `ms`. */
function abortWithin(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** tshark's own reason, without its banner ("Running as user root") and its "tshark: " prefix. */
function tsharkReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('Running as user'));
  const reason = lines.map((l) => l.replace(/^tshark: /, '')).join(' ');
  return reason === '' ? 'tshark failed without saying why' : reason.slice(0, 500);
}

/** One output line → a packet; null for a frame without TCP (filtered out above, kept safe here). */
export function parseLine(line: string): CapturedPacket | null {
  const f = line.split('\t');
  const at = (i: number): string => f[i] ?? '';
  const stream = Number.parseInt(at(3), 10);
  if (!Number.isInteger(stream)) return null;
  return {
    frame: Number(at(0)),
    time: Number(at(1)),
    epoch: Number(at(2)),
    epochText: at(2),
    stream,
    src: first(at(4)) || first(at(5)),
    dst: first(at(6)) || first(at(7)),
    srcPort: Number(at(8)),
    dstPort: Number(at(9)),
    syn: flag(at(10)),
    ack: flag(at(11)),
    fin: flag(at(12)),
    rst: flag(at(13)),
    payload: Number(at(14)) || 0,
    seq: Number(at(SEQ_AT)),
    tls: at(15) !== '',
    messages: messagesOf(f),
    h2: h2FramesOf(f),
    h2Preface: at(H2_AT) !== '',
    h2cUndecoded: at(DATA_AT).startsWith(H2_PREFACE_HEX),
  };
}

/** Where the undissected payload is in a line. */
const DATA_AT = FIELDS.indexOf('data.data');
const SEQ_AT = FIELDS.indexOf('tcp.seq_raw');
/** The HTTP/2 client preface (RFC 9113 §3.4) in tshark's hex. */
const H2_PREFACE_HEX = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1').toString('hex');

/** Where the HTTP/2 fields start in a line (the index of http2.magic). */
const H2_AT = FIELDS.indexOf('http2.magic');

/**
 * The HTTP/2 frames of a segment. tshark lists each field once per occurrence, so the frame
 * header fields line up one per frame, and the fields only some frames have are handed out in
 * order to the frames of their type: the GOAWAY fields to the GOAWAYs (debug data only to
 * those longer than the 8 bytes of last stream id and error code), an RST_STREAM's code,
 * (length / 6) settings to each SETTINGS frame, header.count header fields to each HEADERS
 * frame.
 */
function h2FramesOf(f: readonly string[]): CapturedH2Frame[] {
  const at = (name: (typeof FIELDS)[number]): string[] => {
    const i = FIELDS.indexOf(name);
    // The header value is last: a tab inside one split it into further columns.
    return list(name === 'http2.header.value' ? f.slice(i).join('\t') : (f[i] ?? ''));
  };
  const types = at('http2.type');
  if (types.length === 0) return [];
  const ids = at('http2.streamid');
  const flags = at('http2.flags');
  const lengths = at('http2.length');
  const lastIds = at('http2.goaway.last_stream_id');
  const goawayErrors = at('http2.goaway.error');
  const debugs = at('http2.goaway.addata');
  const rstErrors = at('http2.rst_stream.error');
  const settingIds = at('http2.settings.id');
  const settingValues = new Map(SETTING_FIELDS.map(([id, field]) => [id, at(field as (typeof FIELDS)[number])]));
  const counts = at('http2.header.count');
  const names = at('http2.header.name');
  const values = at('http2.header.value');
  let goaway = 0;
  let debug = 0;
  let rst = 0;
  let setting = 0;
  const valuesTaken = new Map<number | null, number>();
  let headers = 0;
  let field = 0;
  const frames: CapturedH2Frame[] = [];
  types.forEach((typeText, i) => {
    const type = Number(typeText);
    const length = Number(lengths[i] ?? 0);
    const frame = {
      type,
      streamId: Number(ids[i] ?? 0),
      flags: Number(flags[i] ?? 0),
      length,
      errorCode: null as number | null,
      lastStreamId: null as number | null,
      debug: null as string | null,
      settings: null as [number, number][] | null,
      headers: null as [string, string][] | null,
    };
    if (type === 7) {
      frame.lastStreamId = Number(lastIds[goaway] ?? 0);
      frame.errorCode = Number(goawayErrors[goaway] ?? 0);
      goaway += 1;
      frame.debug = length > 8 ? Buffer.from(debugs[debug++] ?? '', 'hex').toString('latin1') : '';
    } else if (type === 3) {
      frame.errorCode = Number(rstErrors[rst++] ?? 0);
    } else if (type === 4 && (frame.flags & 0x1) === 0) {
      frame.settings = [];
      for (let n = 0; n < Math.floor(length / 6) && setting < settingIds.length; n += 1) {
        const id = Number(settingIds[setting++]);
        const key = SETTING_FIELDS.some(([known]) => known === id) ? id : null;
        const k = valuesTaken.get(key) ?? 0;
        valuesTaken.set(key, k + 1);
        frame.settings.push([id, Number(settingValues.get(key)?.[k] ?? 0)]);
      }
    } else if (type === 1) {
      const count = Number(counts[headers++] ?? 0);
      frame.headers = [];
      for (let n = 0; n < count && field < names.length; n += 1, field += 1) frame.headers.push([names[field] ?? '', values[field] ?? '']);
    }
    frames.push(frame);
  });
  return frames;
}

function flag(value: string): boolean {
  return value === '1' || value === 'True';
}

function first(value: string): string {
  return value.split(AGGREGATOR)[0] ?? '';
}

function list(value: string): string[] {
  return value === '' ? [] : value.split(AGGREGATOR);
}

/**
 * The HTTP messages of a frame. With one message, its header lines give Connection and
 * Keep-Alive exactly; with several (pipelining) the flattened header lines cannot be told
 * apart, so Connection is attributed only when every message has one.
 */
function messagesOf(f: readonly string[]): CapturedMessage[] {
  const at = (i: number): string => f[i] ?? '';
  const methods = list(at(16));
  const uris = list(at(17));
  const requestVersions = list(at(18));
  const codes = list(at(19));
  const responseVersions = list(at(20));
  const connections = list(at(21));
  const lines = list(at(22));
  const lengths = list(at(23));
  const encodings = list(at(24));
  const messages: CapturedMessage[] = [];
  const count = methods.length + codes.length;
  const connectionOf = (i: number): string | null => (count === 1 ? (connections[0] ?? null) : connections.length === count ? (connections[i] ?? null) : null);
  methods.forEach((method, i) => {
    messages.push({ kind: 'request', method, uri: uris[i] ?? '', version: requestVersions[i] ?? '', connection: connectionOf(i) });
  });
  codes.forEach((code, i) => {
    const single = codes.length === 1;
    messages.push({
      kind: 'response',
      status: Number(code),
      version: responseVersions[i] ?? '',
      connection: connectionOf(i),
      keepAlive: single ? headerLine(lines, 'keep-alive') : null,
      contentLength: single && lengths[0] !== undefined ? Number(lengths[0]) : null,
      chunked: single && encodings.some((e) => e.toLowerCase().includes('chunked')),
      server: single ? headerLine(lines, 'server') : null,
    });
  });
  return messages;
}

/** A header's value from tshark's header lines (`Name: value\r\n`, with CR LF escaped as text), or null. */
function headerLine(lines: readonly string[], name: string): string | null {
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name)
      return line
        .slice(colon + 1)
        .replace(/\\r\\n$/, '')
        .trim();
  }
  return null;
}
