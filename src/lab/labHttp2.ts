import http2 from 'node:http2';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LabHttp2Profile } from '../model/result.js';
import type { LabProfile } from '../options/labProfiles.js';
import { LAB_SERVER_HEADER, labResponseBody } from './labResponse.js';
import { PingStrikes } from './pingStrikes.js';
import { LAB_LIMITS } from './requestHead.js';
import { WireTap } from './wireTap.js';

/**
 * The lab's HTTP/2 side (h2c with prior knowledge, or h2 chosen by ALPN). Node's http2 server
 * (nghttp2) parses the frames, answers SETTINGS and PING and serves the streams; this module
 * decides when and how a connection ends, and writes the GOAWAY frames itself, because
 * nghttp2's own would not show the configured behaviour on the wire:
 * - after a GOAWAY sent through nghttp2 with no stream open, Node stops reading the socket
 *   (nghttp2_session_want_read is 0 once a GOAWAY is sent and no stream is active), so the
 *   PING ACK a two-step drain waits for is never read;
 * - Http2Session.close() puts GOAWAY frames of its own on the wire (two on Node 20.20.2) and
 *   destroy() one (nghttp2 terminate_session) unless the socket is already gone.
 * So nghttp2 talks to the socket through a WireTap: the lab's GOAWAY frames go between its
 * chunks, and the close is a FIN after which nothing nghttp2 writes reaches the wire. The
 * session is never closed or destroyed by the lab. Streams the client opens above an
 * announced last-stream-id are refused with RST_STREAM(REFUSED_STREAM), which tells the
 * client they are safe to retry.
 */

/** The client connection preface of RFC 9113 §3.4 (prior knowledge). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Whether a connection's first bytes are the HTTP/2 preface, cannot be yet, or could still become it. */
export function prefaceMatch(firstBytes: Buffer): 'h2' | 'maybe' | 'no' {
  const n = Math.min(firstBytes.length, H2_PREFACE.length);
  if (!firstBytes.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return 'no';
  return n === H2_PREFACE.length ? 'h2' : 'maybe';
}

/** RFC 9113 §7 error codes the lab sends. */
const NO_ERROR = 0x0;
const ENHANCE_YOUR_CALM = 0xb;
/** The last-stream-id of a first, "heads-up" GOAWAY: every stream still in flight will be processed. */
export const MAX_STREAM_ID = 2 ** 31 - 1;
/** gRPC-Go's drain PING payload (grpc/grpc-go@4793ad0 internal/transport/http2_server.go:1385). */
const DRAIN_PING = Buffer.from([1, 6, 1, 8, 0, 3, 3, 9]);
/** How long a graceful drain waits for its PING ACK before sending the second GOAWAY (gRPC-Go's timer, http2_server.go:1432). */
export const DRAIN_PING_WAIT_MS = 5000;

/** A GOAWAY frame (RFC 9113 §6.8): 9-byte header on stream 0, last-stream-id, error code, debug data. */
export function goawayFrame(lastStreamId: number, errorCode: number, debug: string): Buffer {
  const debugBytes = Buffer.from(debug, 'latin1');
  const frame = Buffer.alloc(9 + 8 + debugBytes.length);
  frame.writeUIntBE(8 + debugBytes.length, 0, 3);
  frame[3] = 0x7;
  frame.writeUInt32BE(lastStreamId & MAX_STREAM_ID, 9);
  frame.writeUInt32BE(errorCode, 13);
  debugBytes.copy(frame, 17);
  return frame;
}

/** The HTTP/2 side of one lab server: hands sockets that sent the preface to nghttp2. */
export interface Http2Lab {
  /** Serves `socket` (TCP, or TLS that chose h2) as HTTP/2; `firstBytes` (already read, starting with the preface) are replayed first. */
  adopt(socket: net.Socket, firstBytes: Buffer, connectionNumber: number): void;
}

/** The HTTP/2 side of a lab server with this profile. */
export function createHttp2Lab(profile: LabProfile, h2: LabHttp2Profile): Http2Lab {
  const server = http2.createServer({ settings: h2.maxConcurrentStreams > 0 ? { maxConcurrentStreams: h2.maxConcurrentStreams } : {} });
  let adopting: { tap: WireTap; connectionNumber: number } | null = null;
  // Node emits 'session' synchronously inside emit('connection'), so `adopting` names its tap.
  server.on('session', (session) => {
    if (adopting !== null) driveSession(session, adopting.tap, adopting.connectionNumber, profile, h2);
  });
  server.on('sessionError', () => undefined);
  return {
    adopt(socket, firstBytes, connectionNumber) {
      adopting = { tap: new WireTap(socket, firstBytes), connectionNumber };
      try {
        server.emit('connection', adopting.tap);
      } finally {
        adopting = null;
      }
    },
  };
}

type Phase = 'open' | 'draining' | 'closing' | 'closed';

/** One HTTP/2 connection: serves streams, keeps the idle timer, the cap, the PING policy, and ends it in the configured style. */
function driveSession(session: http2.ServerHttp2Session, wire: WireTap, connectionNumber: number, profile: LabProfile, h2: LabHttp2Profile): void {
  session.on('error', () => undefined);
  let phase: Phase = 'open';
  let openStreams = 0;
  let served = 0;
  let lastStreamId = 0;
  /** The last-stream-id of the final GOAWAY, once sent: streams above it are refused. */
  let announcedLast: number | null = null;
  let idleTimer: NodeJS.Timeout | undefined;
  let closeTimer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let closeDue = false;
  const strikes = h2.pingPolicy === 'strict' ? new PingStrikes(h2.pingMinIntervalMs) : null;

  const armIdle = (): void => {
    clearTimeout(idleTimer);
    if (phase === 'open' && openStreams === 0 && profile.idleTimeoutMs > 0) idleTimer = setTimeout(() => end('max_idle'), profile.idleTimeoutMs);
  };
  const stopTimers = (): void => {
    clearTimeout(idleTimer);
    clearTimeout(closeTimer);
    clearTimeout(drainTimer);
  };
  const closeNow = (): void => {
    if (phase === 'closed') return;
    phase = 'closed';
    stopTimers();
    afterFlush(session, () => wire.cut());
  };
  // The TCP close follows the final GOAWAY by closeAfterGoawayMs, and waits for open streams.
  const closeWhenDone = (afterMs: number): void => {
    phase = 'closing';
    clearTimeout(closeTimer);
    closeTimer = setTimeout(() => {
      closeDue = true;
      if (openStreams === 0) closeNow();
    }, afterMs);
  };
  const sendFinalGoaway = (debug: string): void => {
    announcedLast = lastStreamId;
    wire.inject(goawayFrame(lastStreamId, NO_ERROR, debug));
    closeWhenDone(h2.closeAfterGoawayMs);
  };
  /** Ends the connection in the configured style; `debug` says why (gRPC-Go's drain reasons: max_idle, max_age). */
  const end = (debug: string): void => {
    if (phase !== 'open') return;
    clearTimeout(idleTimer);
    switch (h2.goaway) {
      case 'none':
        closeWhenDone(0);
        return;
      case 'immediate':
        // nginx and Go send no debug data.
        sendFinalGoaway('');
        return;
      default: {
        phase = 'draining';
        wire.inject(goawayFrame(MAX_STREAM_ID, NO_ERROR, debug));
        let sent = false;
        const second = (): void => {
          if (sent || phase !== 'draining') return;
          sent = true;
          clearTimeout(drainTimer);
          sendFinalGoaway(debug);
        };
        drainTimer = setTimeout(second, DRAIN_PING_WAIT_MS);
        // After the GOAWAY: nghttp2 sends the PING on its next write; the GOAWAY is already on the socket.
        setImmediate(() => {
          try {
            if (!session.ping(DRAIN_PING, second)) second();
          } catch {
            second();
          }
        });
      }
    }
  };

  session.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    // The session may already be gone (a connection error in the same read): nothing to answer.
    if (stream.destroyed) return;
    const id = stream.id ?? 0; // set on every stream the peer opened
    if (announcedLast !== null && id > announcedLast) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    openStreams += 1;
    served += 1;
    lastStreamId = Math.max(lastStreamId, id);
    clearTimeout(idleTimer);
    stream.setTimeout(LAB_LIMITS.headTimeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('close', () => {
      openStreams -= 1;
      if (openStreams > 0) return;
      if (phase === 'open') armIdle();
      else if (phase === 'closing' && closeDue) closeNow();
    });
    stream.resume(); // a request body is read and discarded
    // nginx sends its GOAWAY on the HEADERS of the request that reaches the cap, before answering it.
    if (phase === 'open' && profile.maxRequests > 0 && served >= profile.maxRequests) end('max_requests');
    const body = labResponseBody(served, connectionNumber);
    stream.respond({
      ':status': 200,
      server: LAB_SERVER_HEADER,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    stream.end(headers[':method'] === 'HEAD' ? undefined : body);
    strikes?.dataSent();
  });

  session.on('ping', () => {
    if (strikes?.ping(performance.now()) === true && phase !== 'closed') {
      // gRPC-Go: GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and close the connection at once.
      // After nghttp2's ACK of this PING is written, as gRPC-Go acknowledges it first.
      phase = 'closing';
      stopTimers();
      afterFlush(session, () => {
        wire.inject(goawayFrame(lastStreamId, ENHANCE_YOUR_CALM, 'too_many_pings'));
        closeNow();
      });
      return;
    }
    if (h2.pingResetsIdle && phase === 'open' && openStreams === 0) armIdle();
  });

  wire.on('close', stopTimers);
  // nghttp2 ended the connection for the client's error (a malformed frame: its GOAWAY with an
  // error code); Node would keep the socket open and stop reading it, so the lab closes it.
  wire.onGoaway = (errorCode) => {
    if (errorCode === 0 || phase === 'closed') return;
    phase = 'closing';
    closeNow();
  };
  armIdle();
}

/**
 * Runs `then` once nghttp2 has handed every frame it queued (responses, PING ACKs) to the
 * socket, so raw bytes and the FIN written by `then` follow them on the wire. Bounded: after
 * 100 turns of the event loop it runs anyway.
 */
function afterFlush(session: http2.ServerHttp2Session, then: () => void, turns = 100): void {
  let queued = 0;
  try {
    queued = session.destroyed ? 0 : (session.state.outboundQueueSize ?? 0);
  } catch {
    queued = 0;
  }
  if (queued === 0 || turns === 0) {
    setImmediate(then);
    return;
  }
  setImmediate(() => afterFlush(session, then, turns - 1));
}
