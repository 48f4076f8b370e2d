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

  constructor(
    private readonly socket: net.Socket,
    firstBytes: Buffer,
  ) {
    super();
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
    if (this.socket.write(chunk)) done();
    else this.socket.once('drain', () => done());
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
