import net from 'node:net';
import tls from 'node:tls';
import type { ConnEvent, DeadlineName, Endpoint, LocalCloseReason } from '../model/events.js';
import { ParseError, ResponseParser } from '../http/responseParser.js';
import type { ParseEvent, ResponseHead } from '../http/responseParser.js';
import { serializeRequest, sentConnectionHeader } from '../http/request.js';
import type { RequestSpec } from '../http/request.js';
import { isPersistent, tokenize } from '../http/persistence.js';
import { joinedValue } from '../http/keepAliveHeader.js';
import { SERVER_MESSAGE_MAX, SERVER_TEXT_MAX, sanitize } from '../util/sanitize.js';
import type { Clock } from './clock.js';
import { hostPort } from '../util/hostPort.js';
import { ProbeError } from '../model/errors.js';
import { connectError } from './connectError.js';
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
      readonly head: ResponseHead;
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
  | { readonly kind: 'not-sent'; readonly index: number };

/** How long a request written after the peer's FIN waits for anything (RST, a response) before it counts as a premature close. */
const STALE_WRITE_SETTLE_MS = 250;
/** How often our socket row is read during that wait. */
const STALE_WRITE_POLL_MS = 10;
/** How long a FIN close after a response that ended persistence waits for the server's own close. */
const SERVER_CLOSE_GRACE_MS = 1000;
/** How long a FIN close waits for the peer's FIN before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** Bytes of unsolicited data kept as a preview. */
const PREVIEW_BYTES = 64;

interface PendingExchange {
  readonly index: number;
  readonly spec: RequestSpec;
  readonly deadlines: ExchangeDeadlines;
  readonly parser: ResponseParser;
  readonly timers: Set<NodeJS.Timeout>;
  readonly resolve: (outcome: ExchangeOutcome) => void;
  firstByteSeen: boolean;
  head: ResponseHead | null;
  keepAlive: boolean;
}

/**
 * One probe connection over a raw socket (allowHalfOpen, so the probe, not Node, decides
 * when to answer the server's FIN). It records every event with the run's monotonic clock.
 */
export class ProbeConnection {
  readonly id: string;
  private readonly socket: net.Socket;
  private readonly clock: Clock;
  private readonly eventLog: ConnEvent[] = [];
  private pending: PendingExchange | null = null;
  private requestCount = 0;
  private peerFin = false;
  private closedFlag = false;
  private closeOnPeerFin = true;
  private localClosed = false;
  /** The kernel took an RST after the peer's FIN (seen in /proc); the socket is kept to write on again. */
  private kernelReset = false;
  /** Bytes arrived in the current I/O phase of the event loop (cleared in the check phase). */
  private dataThisPhase = false;
  private readonly closeWaiters = new Set<() => void>();
  private readonly closed: Promise<void>;
  private localEndpoint: Endpoint | null = null;
  private remoteEndpoint: Endpoint | null = null;
  private frozenNow: number | null = null;
  /** The last complete response said the connection would not persist. */
  private persistenceEnded = false;

  private constructor(
    id: string,
    socket: net.Socket,
    clock: Clock,
    private readonly table: SocketTable,
  ) {
    this.id = id;
    this.socket = socket;
    this.clock = clock;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    socket.on('close', () => this.onClose());
  }

  /** Connects (and completes TLS), bounded by the connect deadline. Throws ProbeError. */
  static open(id: string, options: ConnectOptions, clock: Clock): Promise<ProbeConnection> {
    const socket = options.tls ? tls.connect(tlsOptions(options)) : net.connect({ host: options.host, port: options.port, allowHalfOpen: true });
    const conn = new ProbeConnection(id, socket, clock, options.table);
    const where = hostPort(options.host, options.port);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.push({ kind: 'timeout', t: clock.now(), deadline: 'connect', limitMs: options.connectTimeoutMs, index: null });
        socket.destroy();
        reject(new ProbeError('connect-timeout', `connect timed out to ${where} after ${options.connectTimeoutMs} ms`, 'ETIMEDOUT', 'connect'));
      }, options.connectTimeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(connectError(err, where, options.ca !== null));
      };
      socket.once('error', fail);
      socket.once('connect', () => conn.onConnect());
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        if (options.tls) {
          const tlsSocket = socket as tls.TLSSocket;
          const alpn = tlsSocket.alpnProtocol;
          conn.push({
            kind: 'tls',
            t: clock.now(),
            protocol: tlsSocket.getProtocol(),
            alpn: typeof alpn === 'string' ? alpn : null,
          });
        }
        resolve(conn);
      });
    });
  }

  /** The events so far. */
  get events(): readonly ConnEvent[] {
    return this.eventLog;
  }

  get local(): Endpoint | null {
    return this.localEndpoint;
  }

  get remote(): Endpoint | null {
    return this.remoteEndpoint;
  }

  get bytesIn(): number {
    return this.socket.bytesRead;
  }

  get bytesOut(): number {
    return this.socket.bytesWritten;
  }

  /** True once the peer has sent FIN or RST, or the socket is gone. */
  get peerClosed(): boolean {
    return this.peerFin || this.closedFlag;
  }

  /** True once the socket is fully closed. */
  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Keep the socket half-open after the peer's FIN (to reuse it as a stale-pool client would). */
  keepHalfOpen(): void {
    this.closeOnPeerFin = false;
  }

  /** Writes one request and reads its response, within the deadlines. Never throws. */
  send(spec: RequestSpec, deadlines: ExchangeDeadlines): Promise<ExchangeOutcome> {
    const index = ++this.requestCount;
    if (this.socket.destroyed || this.localClosed) return Promise.resolve({ kind: 'not-sent', index });
    const bytes = serializeRequest(spec);
    const peerClosedBeforeWrite = this.peerFin;
    return new Promise((resolve) => {
      const pending: PendingExchange = {
        index,
        spec,
        deadlines,
        parser: new ResponseParser({ method: spec.method }),
        timers: new Set(),
        resolve: (outcome) => {
          for (const timer of pending.timers) clearTimeout(timer);
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
        connection: sentConnectionHeader(spec),
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
      this.arm(pending, deadlines.firstByteTimeoutMs, () => {
        if (!pending.firstByteSeen) this.expire(pending, 'first-byte', deadlines.firstByteTimeoutMs);
      });
      this.arm(pending, deadlines.headersTimeoutMs, () => {
        if (pending.parser.phase === 'idle' || pending.parser.phase === 'head') {
          this.expire(pending, 'headers', deadlines.headersTimeoutMs);
        }
      });
    });
  }

  /** Waits until the peer closes (FIN or RST) or `maxMs` passes. Resolves true if it closed. */
  waitForPeerClose(maxMs: number): Promise<boolean> {
    if (this.peerClosed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.closeWaiters.delete(done);
        resolve(this.peerClosed);
      };
      const timer = setTimeout(done, maxMs);
      this.closeWaiters.add(done);
    });
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
    const grace = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    await this.closed;
    clearTimeout(grace);
  }

  private onConnect(): void {
    const s = this.socket;
    this.localEndpoint = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
    this.remoteEndpoint = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    this.push({ kind: 'connect', t: this.now(), local: this.localEndpoint, remote: this.remoteEndpoint });
  }

  private onData(chunk: Buffer): void {
    // Marks "data in this I/O phase" until the check phase; see resetSeenAsEnd.
    if (!this.dataThisPhase) {
      this.dataThisPhase = true;
      setImmediate(() => (this.dataThisPhase = false));
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
          requestTokens: tokenize(sentConnectionHeader(pending.spec)),
          responseVersionMinor: head.versionMinor,
          responseTokens: tokenize(connectionHeader),
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
        if (event.framing.kind !== 'none') {
          const limit = pending.deadlines.bodyTimeoutMs;
          this.arm(pending, limit, () => {
            if (pending.parser.phase === 'body') this.expire(pending, 'body', limit);
          });
        }
      } else if (event.type === 'complete') {
        this.push({ kind: 'response-complete', t: this.now(), index: pending.index, bodyBytes: event.bodyBytes });
        this.persistenceEnded = !pending.keepAlive;
        if (pending.head === null) continue;
        pending.resolve({
          kind: 'response',
          index: pending.index,
          head: pending.head,
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

  private onEnd(): void {
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
      await new Promise((resolve) => setTimeout(resolve, STALE_WRITE_POLL_MS));
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
    return this.gone(this.localEndpoint === null ? null : this.table.readSync({ ports: [this.localEndpoint.port] }));
  }

  private async ownSocketGoneAsync(): Promise<boolean | null> {
    return this.gone(this.localEndpoint === null ? null : await this.table.read({ ports: [this.localEndpoint.port] }));
  }

  private gone(rows: readonly TcpRow[] | null): boolean | null {
    if (this.localEndpoint === null || this.remoteEndpoint === null || rows === null) return null;
    const own = rowsForConnection(rows, this.localEndpoint, this.remoteEndpoint).aSide;
    return own.every((row) => row.state === 'CLOSE');
  }

  private onError(err: NodeJS.ErrnoException): void {
    const code = typeof err.code === 'string' ? err.code : 'UNKNOWN';
    const syscall = typeof err.syscall === 'string' ? err.syscall : null;
    this.push({ kind: 'error', t: this.now(), code, syscall, message: err.message });
    const pending = this.pending;
    if (pending !== null) pending.resolve({ kind: 'socket-error', index: pending.index, code, syscall });
    this.notifyCloseWaiters();
  }

  private onClose(): void {
    this.closedFlag = true;
    this.push({ kind: 'closed', t: this.now() });
    const pending = this.pending;
    if (pending !== null) pending.resolve({ kind: 'premature-close', index: pending.index, peerClosedBeforeWrite: false });
    this.notifyCloseWaiters();
  }

  private notifyCloseWaiters(): void {
    for (const waiter of [...this.closeWaiters]) waiter();
  }

  private arm(pending: PendingExchange, ms: number, fire: () => void): void {
    const timer = setTimeout(() => {
      pending.timers.delete(timer);
      if (this.pending === pending) fire();
    }, ms);
    pending.timers.add(timer);
  }

  private expire(pending: PendingExchange, deadline: DeadlineName, limitMs: number): void {
    this.push({ kind: 'timeout', t: this.now(), deadline, limitMs, index: pending.index });
    pending.resolve({ kind: 'timeout', index: pending.index, deadline, limitMs });
    void this.close('rst', 'deadline');
  }

  private now(): number {
    return this.frozenNow ?? this.clock.now();
  }

  private push(event: ConnEvent): void {
    this.eventLog.push(event);
  }
}

/** tls.connect honours allowHalfOpen (lib/_tls_wrap.js passes it to the TLSSocket) but its types omit it. */
function tlsOptions(options: ConnectOptions): tls.ConnectionOptions {
  const { serverName } = options;
  const opts: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    host: options.host,
    port: options.port,
    // SNI carries names only (RFC 6066 §3).
    servername: net.isIP(serverName) === 0 ? serverName : undefined,
    // Node checks servername, else host: with --resolve host is the address connected to, and
    // an IP URL has no servername, so name the URL's host explicitly.
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
    rejectUnauthorized: !options.insecure,
    ALPNProtocols: ['http/1.1'],
    allowHalfOpen: true,
    ...(options.ca === null ? {} : { secureContext: secureContextFor(options.ca) }),
  };
  return opts;
}

/**
 * One secure context per CA list (one per run): building it from ~150 PEM roots takes ~25 ms
 * of the event loop, which tls.connect would otherwise spend on every connection. An
 * intermediate CA the user trusts is a trust anchor, as curl does (X509_V_FLAG_PARTIAL_CHAIN;
 * allowPartialTrustChain since Node 20.18.0, ignored before).
 */
const secureContexts = new WeakMap<readonly string[], tls.SecureContext>();

function secureContextFor(ca: readonly string[]): tls.SecureContext {
  let context = secureContexts.get(ca);
  if (context === undefined) {
    // `ca` replaces Node's list: keep the bundled roots beside the user's CAs.
    context = tls.createSecureContext({ ca: [...tls.rootCertificates, ...ca], allowPartialTrustChain: true });
    secureContexts.set(ca, context);
  }
  return context;
}

/** A header value from the server as the model keeps it: sanitised and capped (util/sanitize.ts). */
function serverText(value: string | null): string | null {
  return value === null ? null : sanitize(value, SERVER_TEXT_MAX);
}
