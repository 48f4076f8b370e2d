import type { CapturedPacket } from './tshark.js';

/**
 * tcp.stream and frame.number as one pass over the whole file would give them, from one tshark
 * per chunk (each numbers from 0 and 1 again), and the time after the file's first packet.
 * A stream the chunk's tshark saw in the overlap is the stream those frames had on the chunk
 * before (kept per frame of the last part: bounded by partPackets); a new one is a connection
 * seen before (by its 4-tuple, among the latest TUPLES_MAX) unless it begins with a SYN with
 * another initial sequence number, as tshark itself starts a new stream on such a SYN (and keeps
 * the stream for a SYN with the same one); otherwise the next number.
 */
export class ChunkStreams {
  private chunk = -1;
  private frameBase = 0;
  private overlapEnd = 0;
  private lastPartStart = 0;
  /** The whole-file stream of each frame of the current chunk's last part, then of the overlap. */
  private lastPart: Int32Array;
  private overlap: Int32Array;
  private local = new Map<number, TupleStream>();
  /** This chunk's streams whose SYN its tshark saw. */
  private opened = new Set<number>();
  private readonly tuples = new Map<string, TupleStream>();
  private next = 0;
  /** The first packet's epoch, split into whole seconds and nanoseconds (a double holds neither exactly together). */
  private zero: readonly [number, number] | null = null;

  constructor(private readonly partPackets: number) {
    this.lastPart = new Int32Array(partPackets).fill(-1);
    this.overlap = new Int32Array(partPackets).fill(-1);
  }

  /** A chunk whose first frame is `frameBase` (0-based, whole file), whose own frames start at `ownStart`, whose last part is `lastPart`. */
  startChunk(frameBase: number, ownStart: number, lastPart: number): void {
    this.chunk += 1;
    this.frameBase = frameBase;
    this.overlapEnd = ownStart;
    [this.overlap, this.lastPart] = [this.lastPart, this.overlap];
    this.lastPart.fill(-1);
    this.lastPartStart = lastPart * this.partPackets;
    this.local = new Map();
    this.opened = new Set();
  }

  /** Whether this chunk's tshark read p's connection (its own stream number) from the middle: it saw no SYN of it, and it is not the first chunk. */
  unopened(p: CapturedPacket): boolean {
    return this.chunk > 0 && !this.opened.has(p.stream);
  }

  /**
   * Seconds after the whole file's first packet, for a packet with this epoch text: counted in
   * whole nanoseconds, then written as tshark writes frame.time_relative (seconds and nine
   * decimals) and parsed, so that it is the very double one pass reads (a report rounds
   * to 0.001 ms: two doubles a hair apart round a time ending in exactly 500 ns apart).
   */
  timeOf(epochText: string): number {
    const [seconds, nanos] = epochParts(epochText);
    const [s0, n0] = this.zero ?? [seconds, nanos];
    const ns = (seconds - s0) * 1e9 + (nanos - n0);
    const abs = Math.abs(ns);
    return Number(`${ns < 0 ? '-' : ''}${Math.floor(abs / 1e9)}.${String(abs % 1e9).padStart(9, '0')}`);
  }

  /** The packet with the whole file's numbers; null when it belongs to the overlap (handed on by the chunk before). */
  map(p: CapturedPacket): CapturedPacket | null {
    const frame = this.frameBase + p.frame; // 1-based
    if (p.syn) this.opened.add(p.stream);
    if (this.chunk === 0 && this.zero === null) this.zero = epochParts(p.epochText, p.time);
    if (frame <= this.overlapEnd) {
      const stream = this.overlap[frame - 1 - (this.overlapEnd - this.partPackets)] ?? -1;
      if (stream >= 0 && !this.local.has(p.stream)) this.local.set(p.stream, this.remember(p, stream));
      return null;
    }
    let seen = this.local.get(p.stream);
    if (seen === undefined) {
      const known = this.tuples.get(tupleOf(p));
      // A SYN with the connection's first sequence number is that connection's (tshark: a retransmission), another a new one.
      const same = known !== undefined && (!(p.syn && !p.ack) || known.isn === p.seq);
      seen = this.remember(p, this.chunk === 0 ? p.stream : same ? (known as TupleStream).stream : this.next);
      this.local.set(p.stream, seen);
    }
    if (p.syn && !p.ack) seen.isn = p.seq;
    const stream = seen.stream;
    if (frame > this.lastPartStart) this.lastPart[frame - 1 - this.lastPartStart] = stream;
    this.zero ??= epochParts(p.epochText, p.time);
    return { ...p, frame, stream, time: this.timeOf(p.epochText) };
  }

  /** `stream` as the latest connection of p's 4-tuple (the oldest of TUPLES_MAX forgotten). */
  private remember(p: CapturedPacket, stream: number): TupleStream {
    const tuple = tupleOf(p);
    const known = this.tuples.get(tuple);
    const entry = known !== undefined && known.stream === stream ? known : { stream, isn: null };
    this.next = Math.max(this.next, stream + 1);
    this.tuples.delete(tuple);
    this.tuples.set(tuple, entry);
    if (this.tuples.size > TUPLES_MAX) this.tuples.delete(this.tuples.keys().next().value as string);
    return entry;
  }
}

/** A whole-file stream and the client's initial sequence number (tcp.seq_raw of its SYN), once seen. */
interface TupleStream {
  readonly stream: number;
  isn: number | null;
}

/** 4-tuples of whole-file streams remembered for a connection that goes quiet for longer than a chunk. */
const TUPLES_MAX = 131_072;

/** The same string for both directions of a connection. */
function tupleOf(p: CapturedPacket): string {
  const a = `${p.src} ${p.srcPort}`;
  const b = `${p.dst} ${p.dstPort}`;
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

/** An epoch in tshark's text (`1796150342.847126059`) as whole seconds and nanoseconds, less `minus` seconds. */
function epochParts(text: string, minus = 0): [number, number] {
  const dot = text.indexOf('.');
  const seconds = Number(dot < 0 ? text : text.slice(0, dot));
  const nanos = dot < 0 ? 0 : Number(text.slice(dot + 1, dot + 10).padEnd(9, '0'));
  if (minus === 0) return [seconds, nanos];
  const whole = Math.floor(minus);
  let n = nanos - Math.round((minus - whole) * 1e9);
  let s = seconds - whole;
  if (n < 0) {
    n += 1e9;
    s -= 1;
  }
  return [s, n];
}
