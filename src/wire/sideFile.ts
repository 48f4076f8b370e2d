import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ChunkStreams } from './chunkStreams.js';
import type { CapturedPacket } from './tshark.js';

/** The tshark runs a side file needs, from wire/tshark.ts (with its errors and the read's abort signal). */
export interface SideTshark {
  /** Runs tshark with these arguments (a `-w` copy: no output). */
  run(args: readonly string[]): Promise<void>;
  /** Reads a capture in one pass and hands on its TCP packets, with tshark's own numbers. */
  read(file: string, onPacket: (p: CapturedPacket) => void): Promise<void>;
  readonly signal: AbortSignal | undefined;
}

/**
 * The packets of the connections that need their whole history in one tshark (TLS, HTTP/2:
 * CaptureChunksLost), copied chunk by chunk into one file and read in one pass at the end:
 * tshark's memory is then bounded by the size of those connections, not the capture's. Their
 * whole-file frame numbers are kept (a number each) to hand them on as one pass numbers them;
 * tshark numbers the side file's streams in the order they first appear, as they first appeared
 * in the chunks.
 */
export class SideFile {
  private readonly file: string;
  private readonly part: string;
  private locals = new Set<number>();
  private readonly frames: number[] = [];
  /** The whole-file stream of each of the side file's own stream numbers. */
  private readonly order: number[] = [];
  private readonly seen = new Set<number>();

  constructor(
    dir: string,
    private readonly streams: ReadonlySet<number>,
    private readonly tshark: SideTshark,
  ) {
    this.file = path.join(dir, 'side.pcapng');
    this.part = path.join(dir, 'side-part.pcapng');
  }

  startChunk(): void {
    this.locals = new Set();
  }

  /** Takes a packet (with the whole file's numbers; `localStream` the chunk's) of a side connection (true), or leaves it to the chunk (false). */
  take(localStream: number, p: CapturedPacket): boolean {
    if (!this.streams.has(p.stream)) return false;
    this.locals.add(localStream);
    this.frames.push(p.frame);
    if (!this.seen.has(p.stream)) {
      this.seen.add(p.stream);
      this.order.push(p.stream);
    }
    return true;
  }

  /** Copies the chunk's packets of side connections (after its first `overlap` frames, read by the chunk before) to the side file. */
  async copyChunk(chunkFile: string, overlap: number): Promise<void> {
    if (this.locals.size === 0) return;
    const filter = `frame.number > ${overlap} && tcp.stream in {${[...this.locals].join(', ')}}`;
    await this.tshark.run(['-r', chunkFile, '-n', '-Y', filter, '-F', 'pcapng', '-w', this.part]);
    await pipeline(createReadStream(this.part), createWriteStream(this.file, { flags: 'a' }), { signal: this.tshark.signal });
  }

  /**
   * Reads the side file in one pass, handing on its packets with the whole file's numbers.
   * False when its tshark saw the connections otherwise than the chunks (other streams, another
   * count of packets): what was handed on is then not one pass's reading.
   */
  async read(streams: ChunkStreams, onPacket: (p: CapturedPacket) => void): Promise<boolean> {
    if (this.frames.length === 0) return true;
    let at = 0;
    let same = true;
    await this.tshark.read(this.file, (p) => {
      const frame = this.frames[at];
      const stream = this.order[p.stream];
      if (frame === undefined || stream === undefined) same = false;
      if (!same || frame === undefined || stream === undefined) return;
      at += 1;
      onPacket({ ...p, frame, stream, time: streams.timeOf(p.epochText) });
    });
    return same && at === this.frames.length;
  }
}
