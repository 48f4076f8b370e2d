import { Duplex } from 'node:stream';
import type net from 'node:net';
import { LAB_LIMITS } from './requestHead.js';

/**
 * The stream Node's http2 session reads and writes instead of the connection's socket, so the
 * lab keeps the last word on the wire. Node's http2 writes to a socket handle from C++; a
 * frame the lab wrote on that socket from JavaScript as well would have its write completion
 * delivered to the http2 session, which aborts the process (node_http2.cc
 * Http2Session::OnStreamAfterWrite, "Assertion failed: is_write_in_progress()", seen at once
 * over TLS). Through this tap every chunk nghttp2 writes is passed on whole, the lab's own
 * frames go between chunks, and after `cut()` nothing nghttp2 writes reaches the wire (Node
 * adds GOAWAY frames of its own when its session closes).
 */
export class WireTap extends Duplex {
  private cutOff = false;
  /** Called with the error code of each GOAWAY nghttp2 itself writes (a connection error it detected). */
  onGoaway: (errorCode: number) => void = () => undefined;
  // Where nghttp2's output stands in its frame sequence: a partial 9-byte header, the payload
  // bytes left to pass, and the first 8 payload bytes of a GOAWAY being passed.
  private header = Buffer.alloc(0);
  private payloadLeft = 0;
  private goawayHead: Buffer | null = null;

  constructor(
    private readonly socket: net.Socket,
    firstBytes: Buffer,
  ) {
    super();
    // nghttp2 writes HEADERS and DATA apart: with Nagle on, the DATA would wait for the ACK of
    // the HEADERS, which the client delays 40 ms, on every response. HTTP/2 servers set
    // TCP_NODELAY (nginx: tcp_nodelay on by default), and so does the lab.
    socket.setNoDelay(true);
    if (firstBytes.length > 0) this.push(firstBytes);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.resume();
  }

  /** Writes the lab's own bytes (a whole frame) now, unless the connection was cut. */
  inject(bytes: Buffer): void {
    if (!this.cutOff) this.socket.write(bytes);
  }

  /** Ends the connection with a FIN after what was written; nghttp2's later output is dropped. */
  cut(): void {
    if (this.cutOff) return;
    this.cutOff = true;
    this.socket.end();
    // A client that never closes its side is cut off after the lab's usual bound.
    setTimeout(() => this.socket.destroy(), LAB_LIMITS.headTimeoutMs).unref();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.cutOff || this.socket.destroyed) {
      done();
      return;
    }
    const flowing = this.socket.write(chunk);
    this.follow(chunk);
    if (flowing) done();
    else this.socket.once('drain', () => done());
  }

  /** Follows nghttp2's frames (it writes whole frames from the first byte) to spot its own GOAWAYs. */
  private follow(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, chunk.length - at);
        if (this.goawayHead !== null && this.goawayHead.length < 8) {
          this.goawayHead = Buffer.concat([this.goawayHead, chunk.subarray(at, at + Math.min(take, 8 - this.goawayHead.length))]);
        }
        this.payloadLeft -= take;
        at += take;
      } else {
        const take = Math.min(9 - this.header.length, chunk.length - at);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length < 9) return;
        this.payloadLeft = this.header.readUIntBE(0, 3);
        this.goawayHead = this.header[3] === 0x7 ? Buffer.alloc(0) : null;
        this.header = Buffer.alloc(0);
      }
      if (this.payloadLeft === 0 && this.goawayHead !== null) {
        const code = this.goawayHead.length === 8 ? this.goawayHead.readUInt32BE(4) : 0;
        this.goawayHead = null;
        this.onGoaway(code);
      }
    }
  }

  override _final(done: (error?: Error | null) => void): void {
    // nghttp2 is finished with the connection (its session ended): close as the lab closes.
    this.cut();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.cut();
    done(error);
  }
}
