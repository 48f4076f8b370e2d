import type { ProbeSocket, Timekeeper } from './timekeeper.js';
import { DEFAULT_COMPACTION } from './eventLog.js';
import type { Compaction } from './eventLog.js';
import type { DeadlineName, LocalCloseReason } from '../model/events.js';
import { ParseError, ResponseParser } from '../http/responseParser.js';
import type { ParseEvent, ResponseHead } from '../http/responseParser.js';
import { serializeRequest, sentConnectionHeader } from '../http/request.js';
import type { RequestSpec } from '../http/request.js';
import { isPersistent, tokenize } from '../http/persistence.js';
import { joinedValue } from '../http/keepAliveHeader.js';
import { SERVER_MESSAGE_MAX, SERVER_TEXT_MAX, sanitize } from '../util/sanitize.js';
import type { Clock } from './clock.js';
import { dial } from './dial.js';
import { SocketConnection } from './socketConnection.js';
import { rowsForConnection } from './procNetTcp.js';
import type { SocketTable } from './socketTable.js';
import type { TcpRow } from './procNetTcp.js';

/** Where and how to connect. */
export interface ConnectOptions {
  /** Where to connect (a name to resolve, or an address). */
  readonly host: string;
  /** The URL's host, which names the server: TLS SNI (names only) and the certificate check. */
  readonly serverName: string;
  readonly port: number;
  readonly tls: boolean;
  /** Skip certificate verification (`--insecure`). */
  readonly insecure: boolean;
  /** CA certificates (PEM) to trust besides Node's bundled roots (`--cacert`); null: Node's default list. */
  readonly ca: readonly string[] | null;
  readonly connectTimeoutMs: number;
  /** Where the socket's own state is read (an RST Node does not report; wire/socketTable.ts). */
  readonly table: SocketTable;
  /** Receives the TLS session keys (SSLKEYLOGFILE lines) so a capture of the connection can be decrypted (`run --capture`); null: not logged. */
  readonly keylog?: ((line: Buffer) => void) | null;
  /** How many exchanges the event log keeps in full at each end (wire/eventLog.ts); null keeps every event; default DEFAULT_COMPACTION. Internal: tests set it low. */
  readonly compaction?: Compaction | null;
  /** The thread that holds the socket and stamps what arrives (wire/timekeeper.ts); absent or null: this event loop. */
  readonly timekeeper?: Timekeeper | null;
}

/** Per-exchange deadlines. socket.setTimeout alone is not enough: a trickling server never trips it. */
export interface ExchangeDeadlines {
  /** From the request written to the first response byte (--response-timeout). */
  readonly firstByteTimeoutMs: number;
  /** From the request written to the end of the response head. */
  readonly headersTimeoutMs: number;
  /** From the end of the head to the end of the body. */
  readonly bodyTimeoutMs: number;
}

/** What one request on a connection came to. */
export type ExchangeOutcome =
  | {
      readonly kind: 'response';
      readonly index: number;
      readonly status: number;
      /** Header fields in wire order (HTTP/2: decoded, pseudo-headers removed). */
      readonly headers: readonly (readonly [string, string])[];
      readonly keepAlive: boolean;
      readonly bodyBytes: number;
    }
  /** The peer closed (FIN) after the request was sent and before any response byte. */
  | { readonly kind: 'premature-close'; readonly index: number; readonly peerClosedBeforeWrite: boolean }
  /** A socket error: ECONNRESET on read, EPIPE on write, and the like. */
  | { readonly kind: 'socket-error'; readonly index: number; readonly code: string; readonly syscall: string | null }
  | { readonly kind: 'truncated'; readonly index: number; readonly code: string; readonly message: string }
  /** The response could not be parsed; `tlsRecord` when it was a TLS record (a TLS port). */
  | { readonly kind: 'protocol-error'; readonly index: number; readonly code: string; readonly message: string; readonly tlsRecord: boolean }
  | { readonly kind: 'timeout'; readonly index: number; readonly deadline: DeadlineName; readonly limitMs: number }
  /** The socket was already destroyed: nothing could be written. */
  | { readonly kind: 'not-sent'; readonly index: number }
  /** HTTP/2: the server reset the stream (RST_STREAM), e.g. REFUSED_STREAM above its concurrency limit. */
  | { readonly kind: 'stream-reset'; readonly index: number; readonly errorCode: string }
  /** HTTP/2: a GOAWAY whose last stream id is below this stream's: not processed, safe to retry (RFC 9113 §6.8). */
  | { readonly kind: 'goaway-refused'; readonly index: number; readonly lastStreamId: number; readonly errorCode: string }
  /** HTTP/2: the connection ended (FIN, RST) with the stream unanswered and no GOAWAY saying it was not processed: unsafe to retry blindly. */
  | { readonly kind: 'connection-lost'; readonly index: number; readonly code: string | null };

/**
 * An exchange's outcome as a scenario's trace keeps it: a response without its header fields,
 * which no measure reads once the response is parsed (a loop of 20 000 requests would keep
 * 20 000 header lists alive).
 */
export type RecordedOutcome = Exclude<ExchangeOutcome, { kind: 'response' }> | Omit<Extract<ExchangeOutcome, { kind: 'response' }>, 'headers'>;

/** The outcome to keep: the same, a response without its header fields. */
export function recorded(outcome: ExchangeOutcome): RecordedOutcome {
  if (outcome.kind !== 'response') return outcome;
  // A literal, not `{ headers, ...rest }`: the trace keeps one per request, and a rest copy is a larger object.
  return { kind: outcome.kind, index: outcome.index, status: outcome.status, keepAlive: outcome.keepAlive, bodyBytes: outcome.bodyBytes };
}

/** How long a request written after the peer's FIN waits for anything (RST, a response) before it counts as a premature close. */
const STALE_WRITE_SETTLE_MS = 250;
/** How often our socket row is read during that wait. */
const STALE_WRITE_POLL_MS = 10;
/** How long a FIN close after a response that ended persistence waits for the server's own close. */
const SERVER_CLOSE_GRACE_MS = 1000;
/** Bytes of unsolicited data kept as a preview. */
const PREVIEW_BYTES = 64;

/** A request as written: its bytes and the Connection header they carry. */
interface SerializedRequest {
  readonly spec: RequestSpec;
  readonly bytes: Buffer;
  readonly connection: string | null;
}

interface PendingExchange {
  readonly index: number;
  readonly spec: RequestSpec;
  /** The Connection header it sent (sentConnectionHeader), or null. */
  readonly connection: string | null;
  readonly deadlines: ExchangeDeadlines;
  readonly parser: ResponseParser;
  /** When the request was written (the clock's ms): the first-byte and headers deadlines count from there. */
  readonly sentAt: number;
  /** The timer of its later deadlines (the second head deadline, the body from the head), armed for the next one due; null when none is. The first is the connection's headTimer. */
  timer: NodeJS.Timeout | null;
  readonly resolve: (outcome: ExchangeOutcome) => void;
  firstByteSeen: boolean;
  head: ResponseHead | null;
  keepAlive: boolean;
}

/**
 * One probe connection over a raw socket (allowHalfOpen, so the probe, not Node, decides
 * when to answer the server's FIN). It records every event with the run's monotonic clock.
 */
export class ProbeConnection extends SocketConnection {
  private pending: PendingExchange | null = null;
  /** The last request's bytes and what they serialise (requestBytes). */
  private lastRequest: SerializedRequest | null = null;
  private requestCount = 0;
  private closeOnPeerFin = true;
  /** The kernel took an RST after the peer's FIN (seen in /proc); the socket is kept to write on again. */
  private kernelReset = false;
  /** Bytes arrived in the current I/O phase of the event loop (cleared in the check phase). */
  private dataThisPhase = false;
  private frozenNow: number | null = null;
  /** The last complete response said the connection would not persist. */
  private persistenceEnded = false;
  /**
   * The timer of each request's first head deadline, one per connection, re-armed with
   * refresh(): a timer made and cleared per request empties Node's list for its duration
   * every time, and the next request builds it again (armHead). Left armed once met, it
   * fires for nothing: headTimerFor says which exchange it still counts for.
   */
  private headTimer: NodeJS.Timeout | null = null;
  /** The duration headTimer was made with (refresh() keeps it). */
  private headTimerMs = 0;
  /** The exchange headTimer is armed for, and for which deadline; null once that deadline is met or the exchange ended. */
  private headTimerFor: PendingExchange | null = null;
  private headTimerDeadline: 'first-byte' | 'headers' = 'first-byte';
  /** Clears dataThisPhase in the check phase (one function, not a closure per read). */
  private readonly endDataPhase = (): void => {
    this.dataThisPhase = false;
  };
  /** Connection values tokenised, the request's and the response's (the same ones on every request of a loop). */
  private readonly requestTokens = new LastValue(tokenize);
  private readonly responseTokens = new LastValue(tokenize);

  private constructor(
    id: string,
    socket: ProbeSocket,
    clock: Clock,
    private readonly table: SocketTable,
    compaction: Compaction | null,
  ) {
    super(id, socket, clock, compaction);
  }

  /** Connects (and completes TLS, offering HTTP/1.1 by ALPN), bounded by the connect deadline. Throws ProbeError. */
  static async open(id: string, options: ConnectOptions, clock: Clock): Promise<ProbeConnection> {
    let conn: ProbeConnection | null = null;
    const { socket, ready } = dial(options, ['http/1.1'], {
      connected: () => conn?.onConnect(),
      timedOut: () => conn?.push({ kind: 'timeout', t: clock.now(), deadline: 'connect', limitMs: options.connectTimeoutMs, index: null }),
    });
    conn = new ProbeConnection(id, socket, clock, options.table, options.compaction === undefined ? DEFAULT_COMPACTION : options.compaction);
    const facts = await ready;
    if (facts !== null) conn.push({ kind: 'tls', t: clock.now(), ...facts });
    return conn;
  }

  /** Keep the socket half-open after the peer's FIN (to reuse it as a stale-pool client would). */
  keepHalfOpen(): void {
    this.closeOnPeerFin = false;
  }

  /** Writes one request and reads its response, within the deadlines. Never throws. */
  send(spec: RequestSpec, deadlines: ExchangeDeadlines): Promise<ExchangeOutcome> {
    const index = ++this.requestCount;
    if (this.socket.destroyed || this.localClosed) return Promise.resolve({ kind: 'not-sent', index });
    const { bytes, connection } = this.requestBytes(spec);
    const peerClosedBeforeWrite = this.peerFin;
    return new Promise((resolve) => {
      const pending: PendingExchange = {
        index,
        spec,
        connection,
        deadlines,
        parser: new ResponseParser({ method: spec.method }),
        sentAt: this.clock.now(),
        timer: null,
        resolve: (outcome) => {
          if (pending.timer !== null) clearTimeout(pending.timer);
          pending.timer = null;
          if (this.headTimerFor === pending) this.headTimerFor = null;
          if (this.pending === pending) this.pending = null;
          resolve(outcome);
        },
        firstByteSeen: false,
        head: null,
        keepAlive: false,
      };
      this.pending = pending;
      this.push({
        kind: 'request',
        t: this.now(),
        index,
        method: spec.method,
        path: spec.path,
        version: spec.version,
        connection,
        bytes: bytes.length,
      });
      this.socket.write(bytes);
      if (peerClosedBeforeWrite) {
        // The stream is already at EOF: a client reading now sees the end before any response
        // byte. Wait briefly for what the server does with the bytes (RST, or an answer from
        // a server that only half-closed) before calling it a premature close.
        void this.watchStaleWrite(pending);
        return;
      }
      this.armHead(pending, null);
    });
  }

  /**
   * The request's bytes. Serialising is a pure function of the spec, so a loop sending the
   * same request serialises it once (the header sets, lines and string joins were a sixth of
   * an HTTP/1 request loop's garbage).
   */
  private requestBytes(spec: RequestSpec): SerializedRequest {
    const last = this.lastRequest;
    if (
      last !== null &&
      last.spec.method === spec.method &&
      last.spec.path === spec.path &&
      last.spec.version === spec.version &&
      last.spec.host === spec.host &&
      last.spec.connection === spec.connection &&
      last.spec.userAgent === spec.userAgent &&
      last.spec.headers === spec.headers
    ) {
      return last;
    }
    this.lastRequest = { spec, bytes: serializeRequest(spec), connection: sentConnectionHeader(spec) };
    return this.lastRequest;
  }

  /**
   * Closes the probe's side: FIN (then waits briefly for the peer's), or RST. After a
   * response that said the connection ends, the server closes next: a FIN close first gives
   * the server's FIN the chance to arrive, or the probe would be named as the closer of a
   * connection the server was already closing (seen with Go, Python HTTP/1.0, HAProxy).
   */
  async close(how: 'fin' | 'rst', reason: LocalCloseReason): Promise<void> {
    if (this.closedFlag) return;
    if (how === 'fin' && this.persistenceEnded && !this.localClosed && !this.peerClosed) {
      await this.waitForPeerClose(SERVER_CLOSE_GRACE_MS);
    }
    if (this.closedFlag) return;
    if (this.socket.destroyed) {
      // Torn down already (an RST, an error): its 'close' is on its way, nothing goes on the wire.
      this.localClosed = true;
    } else if (this.kernelReset) {
      // The kernel socket is gone: no FIN or RST of ours reaches the wire, so none is recorded.
      this.localClosed = true;
      this.socket.destroy();
    } else if (!this.localClosed) {
      this.localClosed = true;
      this.push({ kind: 'local-close', t: this.now(), how, reason });
      if (how === 'rst') this.socket.resetAndDestroy();
      else this.socket.end();
    }
    await this.awaitClosed();
  }

  protected onData(chunk: Buffer): void {
    // Marks "data in this I/O phase" until the check phase; see resetSeenAsEnd.
    if (!this.dataThisPhase) {
      this.dataThisPhase = true;
      setImmediate(this.endDataPhase);
    }
    const pending = this.pending;
    if (pending === null) {
      this.push({
        kind: 'unsolicited',
        t: this.now(),
        bytes: chunk.length,
        preview: sanitize(chunk.subarray(0, PREVIEW_BYTES).toString('latin1'), SERVER_TEXT_MAX),
      });
      this.refuseUnsolicited();
      return;
    }
    pending.firstByteSeen = true;
    const excessBefore = pending.parser.excessBytes;
    try {
      this.handleParse(pending, pending.parser.push(chunk));
    } catch (err) {
      this.failParse(pending, err);
      return;
    }
    const excess = pending.parser.excessBytes - excessBefore;
    if (excess > 0) {
      this.push({
        kind: 'unsolicited',
        t: this.now(),
        bytes: excess,
        preview: sanitize(chunk.subarray(chunk.length - excess, chunk.length - excess + PREVIEW_BYTES).toString('latin1'), SERVER_TEXT_MAX),
      });
      this.refuseUnsolicited();
    }
  }

  /**
   * Bytes that belong to no response (after a 204 or 304, beyond Content-Length, on an idle
   * connection) are not a valid response, and the client SHOULD close the connection (RFC
   * 9112 §9.2): reusing it would read them as the next response. Go and undici close it too.
   */
  private refuseUnsolicited(): void {
    void this.close('fin', 'unsolicited-data');
  }

  private handleParse(pending: PendingExchange, events: readonly ParseEvent[]): void {
    for (const event of events) {
      if (event.type === 'head') {
        const head = event.head;
        const connectionHeader = joinedValue(head.headers, 'connection');
        const keepAlive = isPersistent({
          requestVersion: pending.spec.version,
          requestTokens: this.requestTokens.of(pending.connection),
          responseVersionMinor: head.versionMinor,
          responseTokens: this.responseTokens.of(connectionHeader),
          framing: event.framing,
        });
        pending.head = head;
        pending.keepAlive = keepAlive;
        this.push({
          kind: 'response-head',
          t: this.now(),
          index: pending.index,
          status: head.status,
          version: head.versionMinor === 1 ? '1.1' : '1.0',
          keepAlive,
          connectionHeader: serverText(connectionHeader),
          keepAliveHeader: serverText(joinedValue(head.headers, 'keep-alive')),
          informational: head.informational,
          framing: event.framing.kind,
        });
        // The head came: first-byte and headers are met. The body deadline counts from here,
        // unless the body already ended in the bytes just parsed (the common case: head and
        // body in one read), where it could never fire.
        if (this.headTimerFor === pending) this.headTimerFor = null;
        if (pending.timer !== null) clearTimeout(pending.timer);
        pending.timer = null;
        if (event.framing.kind !== 'none' && pending.parser.phase === 'body') {
          const limit = pending.deadlines.bodyTimeoutMs;
          pending.timer = setTimeout(() => {
            pending.timer = null;
            if (this.pending === pending && pending.parser.phase === 'body') this.expire(pending, 'body', limit);
          }, limit);
        }
      } else if (event.type === 'complete') {
        this.push({ kind: 'response-complete', t: this.now(), index: pending.index, bodyBytes: event.bodyBytes });
        this.persistenceEnded = !pending.keepAlive;
        if (pending.head === null) continue;
        pending.resolve({
          kind: 'response',
          index: pending.index,
          status: pending.head.status,
          headers: pending.head.headers,
          keepAlive: pending.keepAlive,
          bodyBytes: event.bodyBytes,
        });
      }
    }
  }

  private failParse(pending: PendingExchange, err: unknown): void {
    const code = err instanceof ParseError ? err.code : 'parse-failure';
    const message = sanitize(err instanceof Error ? err.message : String(err), SERVER_MESSAGE_MAX);
    this.push({ kind: 'protocol-error', t: this.now(), index: pending.index, code, message });
    const truncated = code === 'truncated-headers' || code === 'truncated-body';
    const tlsRecord = err instanceof ParseError && err.tlsRecord;
    pending.resolve(
      truncated ? { kind: 'truncated', index: pending.index, code, message } : { kind: 'protocol-error', index: pending.index, code, message, tlsRecord },
    );
    // A response we cannot frame leaves the connection unusable.
    if (!truncated) void this.close('rst', 'protocol-error');
  }

  protected onEnd(): void {
    // Everything recorded for this FIN carries the moment it arrived, not the moment after
    // the /proc/net/tcp read below.
    this.frozenNow = this.clock.now();
    try {
      this.handleEnd();
    } finally {
      this.frozenNow = null;
    }
  }

  private handleEnd(): void {
    if (this.resetSeenAsEnd()) {
      const err: NodeJS.ErrnoException = new Error(
        'read ECONNRESET (the RST arrived with response bytes still unread: Node reported it as end of stream; /proc/net/tcp shows the socket already torn down)',
      );
      err.code = 'ECONNRESET';
      err.syscall = 'read';
      this.onError(err);
      this.socket.destroy();
      return;
    }
    this.peerFin = true;
    const pending = this.pending;
    // A close-delimited body ends with the FIN: record the response complete first, so the
    // FIN reads as the end of that response and not as a close in the middle of it.
    let parseError: unknown = null;
    if (pending?.firstByteSeen === true) {
      try {
        this.handleParse(pending, pending.parser.end());
      } catch (err) {
        parseError = err;
      }
    }
    this.push({ kind: 'peer-fin', t: this.now() });
    if (pending !== null && parseError !== null) this.failParse(pending, parseError);
    if (pending !== null && this.pending === pending) {
      pending.resolve({ kind: 'premature-close', index: pending.index, peerClosedBeforeWrite: false });
    }
    this.notifyCloseWaiters();
    if (this.closeOnPeerFin) void this.close('fin', 'after-peer-fin');
  }

  /**
   * libuv reports a hang-up that arrives after a partial read as end of stream (uv__stream_io:
   * POLLHUP with UV_HANDLE_READ_PARTIAL), so an RST sent right behind a response looks like a
   * FIN to Node. After a real FIN our socket sits in CLOSE_WAIT; after an RST the kernel has
   * already unhashed it. On Linux, read our own row to tell the two apart.
   */
  private resetSeenAsEnd(): boolean {
    // libuv synthesizes that end of stream only in the same uv__stream_io call that read the
    // partial data, so an end with no data in this I/O phase was a real read of 0 bytes (a
    // FIN; an RST would have failed the read with ECONNRESET). Skipping the /proc read then
    // keeps idle closes, the common case, from blocking the loop for a few ms each.
    if (!this.dataThisPhase) return false;
    // Once we have sent our FIN, crossing FINs move the socket on (TIME_WAIT) by themselves.
    return !this.localClosed && this.ownSocketGone() === true;
  }

  /**
   * A server that fully closed answers bytes written after its FIN with an RST, but Node
   * reports nothing once the read side has ended. Our own socket shows it: in CLOSE_WAIT it
   * is listed in /proc/net/tcp, after the RST the kernel has unhashed it.
   */
  private async watchStaleWrite(pending: PendingExchange): Promise<void> {
    // Poll our own socket row (without blocking the loop) so the RST is recorded within a
    // poll of its arrival, not at the end of the settle time.
    const until = this.clock.now() + STALE_WRITE_SETTLE_MS;
    let gone = false;
    while (!gone && this.clock.now() < until) {
      // On the run's shared grid: connections polling at once share one read of the table (procNetTcp.ts).
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(STALE_WRITE_POLL_MS - (this.clock.now() % STALE_WRITE_POLL_MS)))));
      if (this.pending !== pending) return; // answered, failed, or closed meanwhile
      gone = (await this.ownSocketGoneAsync()) === true;
    }
    if (this.pending !== pending) return;
    if (gone) this.recordSilentReset();
    pending.resolve({ kind: 'premature-close', index: pending.index, peerClosedBeforeWrite: true });
  }

  private recordSilentReset(): void {
    if (this.socket.destroyed || this.kernelReset) return;
    this.push({
      kind: 'error',
      t: this.now(),
      code: 'ECONNRESET',
      syscall: 'read',
      message:
        'the server answered the request written after its FIN with an RST (Node reports nothing after end of stream; /proc/net/tcp shows the socket torn down)',
    });
    if (!this.closeOnPeerFin) {
      // The scenario keeps writing on it, as a client that missed the RST would: the kernel
      // (tcp_reset in CLOSE_WAIT) answers the next write with EPIPE.
      this.kernelReset = true;
      return;
    }
    // The kernel socket is gone: no FIN of ours will reach the wire, so do not record one.
    this.localClosed = true;
    this.socket.destroy();
  }

  /**
   * Whether the kernel has torn down our socket (unhashed after an RST, or left in CLOSE),
   * read from /proc/net/tcp{,6}; null where there is no such table (not Linux).
   */
  private ownSocketGone(): boolean | null {
    return this.gone(this.local === null ? null : this.table.readSync({ ports: [this.local.port] }));
  }

  private async ownSocketGoneAsync(): Promise<boolean | null> {
    return this.gone(this.local === null ? null : await this.table.read({ ports: [this.local.port] }));
  }

  private gone(rows: readonly TcpRow[] | null): boolean | null {
    if (this.local === null || this.remote === null || rows === null) return null;
    const own = rowsForConnection(rows, this.local, this.remote).aSide;
    return own.every((row) => row.state === 'CLOSE');
  }

  protected onError(err: NodeJS.ErrnoException): void {
    const code = typeof err.code === 'string' ? err.code : 'UNKNOWN';
    const syscall = typeof err.syscall === 'string' ? err.syscall : null;
    this.push({ kind: 'error', t: this.now(), code, syscall, message: err.message });
    const pending = this.pending;
    if (pending !== null) pending.resolve({ kind: 'socket-error', index: pending.index, code, syscall });
    this.notifyCloseWaiters();
  }

  protected onClose(): void {
    this.closedFlag = true;
    this.push({ kind: 'closed', t: this.now() });
    const pending = this.pending;
    if (pending !== null) pending.resolve({ kind: 'premature-close', index: pending.index, peerClosedBeforeWrite: false });
    this.notifyCloseWaiters();
    // Nothing is sent any more: the head deadline's timer must not keep the process alive.
    if (this.headTimer !== null) clearTimeout(this.headTimer);
    this.headTimer = null;
  }

  /**
   * Arms the exchange's one timer for its head deadline after `passed` (null: the first):
   * first-byte and headers, the earlier first (first-byte on a tie, the order two timers armed
   * in that order fired in). One timer re-armed instead of one per deadline.
   */
  private armHead(pending: PendingExchange, passed: 'first-byte' | 'headers' | null): void {
    const { firstByteTimeoutMs: firstByte, headersTimeoutMs: headers } = pending.deadlines;
    const next =
      passed === null
        ? headers < firstByte
          ? 'headers'
          : 'first-byte'
        : passed === 'first-byte'
          ? headers >= firstByte
            ? 'headers'
            : null
          : firstByte > headers
            ? 'first-byte'
            : null;
    if (next === null) return;
    const ms = next === 'first-byte' ? firstByte : headers;
    if (passed === null) {
      // The first arm waits the whole deadline, a whole number of ms like every request's: Node
      // keeps one timer list per duration, and a fractional remainder would make one per request.
      this.headTimerFor = pending;
      this.headTimerDeadline = next;
      if (this.headTimer !== null && this.headTimerMs === ms) {
        this.headTimer.refresh();
      } else {
        if (this.headTimer !== null) clearTimeout(this.headTimer);
        this.headTimer = setTimeout(this.headTimerFired, ms);
        this.headTimerMs = ms;
      }
      return;
    }
    const delay = Math.max(0, Math.ceil(pending.sentAt + ms - this.clock.now()));
    pending.timer = setTimeout(() => {
      pending.timer = null;
      this.headDeadline(pending, next, ms);
    }, delay);
  }

  private readonly headTimerFired = (): void => {
    const pending = this.headTimerFor;
    this.headTimerFor = null;
    if (pending !== null) this.headDeadline(pending, this.headTimerDeadline, this.headTimerMs);
  };

  private headDeadline(pending: PendingExchange, deadline: 'first-byte' | 'headers', ms: number): void {
    if (this.pending !== pending) return;
    const due = deadline === 'first-byte' ? !pending.firstByteSeen : pending.parser.phase === 'idle' || pending.parser.phase === 'head';
    if (due) this.expire(pending, deadline, ms);
    else this.armHead(pending, deadline);
  }

  private expire(pending: PendingExchange, deadline: DeadlineName, limitMs: number): void {
    this.push({ kind: 'timeout', t: this.now(), deadline, limitMs, index: pending.index });
    pending.resolve({ kind: 'timeout', index: pending.index, deadline, limitMs });
    void this.close('rst', 'deadline');
  }

  protected override now(): number {
    return this.frozenNow ?? this.clock.now();
  }
}

/** A header value from the server as the model keeps it: sanitised and capped (util/sanitize.ts). */
function serverText(value: string | null): string | null {
  if (value === null) return null;
  // The last two values and their text: a loop's responses repeat their Connection and Keep-Alive values.
  if (value === lastServerText[0]) return lastServerText[1];
  if (value === lastServerText[2]) return lastServerText[3];
  const text = sanitize(value, SERVER_TEXT_MAX);
  lastServerText = [value, text, lastServerText[0], lastServerText[1]];
  return text;
}

let lastServerText: [string, string, string, string] = ['', '', '', ''];

/** A pure function of a header value with its last answer kept: on one connection the same values come again and again. */
class LastValue<T> {
  private input: string | null | undefined = undefined;
  private output: T | undefined = undefined;

  constructor(private readonly fn: (value: string | null) => T) {}

  of(value: string | null): T {
    if (value !== this.input) {
      this.output = this.fn(value);
      this.input = value;
    }
    return this.output as T;
  }
}
