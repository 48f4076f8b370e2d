/**
 * What happened on one probe connection, as a list of timestamped events.
 * Everything the report says about a connection (reused or not, who closed, FIN or RST,
 * idle time before the close) is derived from these events by small pure functions.
 * Times are milliseconds on the run's monotonic clock (performance.now() minus the run origin);
 * for a packet capture (`analyze`), the client's side of one TCP connection as the wire shows
 * it, in ms after the capture's first packet (tshark's frame.time_relative).
 */

/** A TCP endpoint. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * Why the probe itself closed a connection. `observed`: a client's close read off a packet
 * capture (`analyze`), whose reason is not on the wire; after the server's FIN it is `after-peer-fin`.
 */
export type LocalCloseReason = 'step' | 'after-peer-fin' | 'cleanup' | 'deadline' | 'protocol-error' | 'unsolicited-data' | 'observed';

/** Which per-exchange deadline expired. */
export type DeadlineName = 'connect' | 'tls' | 'first-byte' | 'headers' | 'body';

/**
 * One thing that happened on a connection. `late`, on what the probe received (a connect, TLS,
 * response bytes, the peer's FIN, a socket error, an incoming HTTP/2 frame, the socket's close): how much earlier than `t` it may really have happened, ms, because
 * the event loop was busy or the process not scheduled (wire/clock.ts). Absent on what the probe
 * did itself (a request or frame written, its own close: stamped as it acts) and on a capture's
 * events (the kernel's time).
 */
export type ConnEvent = Late &
  (
    | { readonly kind: 'connect'; readonly t: number; readonly local: Endpoint; readonly remote: Endpoint }
    | { readonly kind: 'tls'; readonly t: number; readonly protocol: string | null; readonly alpn: string | null }
    | {
        readonly kind: 'request';
        readonly t: number;
        readonly index: number;
        readonly method: string;
        readonly path: string;
        readonly version: WireVersion;
        readonly connection: string | null;
        readonly bytes: number;
      }
    | {
        readonly kind: 'response-head';
        readonly t: number;
        readonly index: number;
        readonly status: number;
        readonly version: WireVersion;
        /** Persistence decided per RFC 9112 §9.3 for this exchange. */
        readonly keepAlive: boolean;
        readonly connectionHeader: string | null;
        readonly keepAliveHeader: string | null;
        readonly informational: readonly number[];
        /**
         * How the body is delimited (RFC 9112 §6.3): `close` is a body with neither Content-Length nor chunked,
         * read until the server closes; `stream` an HTTP/2 body, ended by END_STREAM (RFC 9113 §8.1).
         */
        readonly framing: 'none' | 'length' | 'chunked' | 'close' | 'stream';
      }
    | { readonly kind: 'response-complete'; readonly t: number; readonly index: number; readonly bodyBytes: number }
    /** Bytes that arrived while no request was outstanding (RFC 9112 §9.2: not a valid response). */
    | { readonly kind: 'unsolicited'; readonly t: number; readonly bytes: number; readonly preview: string }
    | { readonly kind: 'peer-fin'; readonly t: number }
    | {
        readonly kind: 'error';
        readonly t: number;
        readonly code: string;
        readonly syscall: string | null;
        readonly message: string;
      }
    | { readonly kind: 'protocol-error'; readonly t: number; readonly index: number; readonly code: string; readonly message: string }
    | { readonly kind: 'timeout'; readonly t: number; readonly deadline: DeadlineName; readonly limitMs: number; readonly index: number | null }
    | { readonly kind: 'local-close'; readonly t: number; readonly how: 'fin' | 'rst'; readonly reason: LocalCloseReason }
    | { readonly kind: 'closed'; readonly t: number }
    /** An HTTP/2 frame sent (`out`) or received (`in`), RFC 9113 §6. */
    | { readonly kind: 'h2-frame'; readonly t: number; readonly dir: 'in' | 'out'; readonly frame: H2FrameInfo }
    /**
     * The middle of a long connection, counted instead of kept (wire/eventLog.ts): whole
     * exchanges, each answered in full and kept alive, nothing else (no close, error, GOAWAY,
     * SETTINGS or PING inside). `t` is its first event's time, `to` its last one's (a response's end).
     */
    | { readonly kind: 'elided'; readonly t: number; readonly to: number; readonly counts: ElidedCounts }
  );

interface Late {
  readonly late?: number;
}

/** What an elided stretch held. */
export interface ElidedCounts {
  /** Events left out. */
  readonly events: number;
  /** Requests written (each answered within the stretch), and the first and last request index among them. */
  readonly requests: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Responses completed. */
  readonly responses: number;
  /** HTTP/2 frames (both directions). */
  readonly frames: number;
  /** Bytes of the requests written (as the request events count them), and of the response bodies. */
  readonly requestBytes: number;
  readonly bodyBytes: number;
  /** Responses with a body of 1 B to SMALL_BODY_MAX, each arriving less than SPLIT_KEPT_MS after its head (a later one is kept). */
  readonly smallBodies: number;
}

/** A body this small leaves the server in one send: when it arrives apart from its head, the server wrote them in two. */
export const SMALL_BODY_MAX = 16 * 1024;
/** A small body arriving this long after its head is evidence of a stall (measures' responseStall): its exchange is kept, never elided. */
export const SPLIT_KEPT_MS = 30;

/** HTTP/1.x version as written on the wire. */
export type HttpVersion = '1.0' | '1.1';

/** The protocol version of an exchange: HTTP/1.x, or HTTP/2 (a stream). */
export type WireVersion = HttpVersion | '2';

/**
 * An HTTP/2 frame as the timeline keeps it: its header, and the fields of the frames that
 * end streams and connections. Fields that do not apply to the type are null.
 */
export interface H2FrameInfo {
  /** DATA, HEADERS, SETTINGS, PING, GOAWAY, RST_STREAM, WINDOW_UPDATE, …; UNKNOWN_0x.. for an unknown type. */
  readonly type: string;
  readonly streamId: number;
  /** Flag names set on the frame: END_STREAM, END_HEADERS, ACK, PADDED, PRIORITY. */
  readonly flags: readonly string[];
  /** Payload length on the wire. */
  readonly length: number;
  /** GOAWAY and RST_STREAM: the error code's name (NO_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM, …). */
  readonly errorCode: string | null;
  /** GOAWAY: the highest stream the sender may have processed. */
  readonly lastStreamId: number | null;
  /** GOAWAY: its additional debug data (server text, sanitised). */
  readonly debug: string | null;
  /** SETTINGS: the values by name (HEADER_TABLE_SIZE, MAX_CONCURRENT_STREAMS, …). */
  readonly settings: Readonly<Record<string, number>> | null;
}
