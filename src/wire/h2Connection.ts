import type { ProbeSocket } from './timekeeper.js';
import { DEFAULT_COMPACTION } from './eventLog.js';
import type { Compaction } from './eventLog.js';
import {
  flagNames,
  CLIENT_PREFACE,
  FRAME_HEADER_BYTES,
  FrameReader,
  H2ProtocolError,
  SETTINGS_ID,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  errorCodeName,
  frameTypeLabel,
  settingName,
} from '../http/h2/frames.js';
import type { H2Frame } from '../http/h2/frames.js';
import { HeaderDecoder, encodeHeaderBlock } from '../http/h2/hpack.js';
import type { DeadlineName, H2FrameInfo, LocalCloseReason } from '../model/events.js';
import { ProbeError } from '../model/errors.js';
import { hostPort } from '../util/hostPort.js';
import { SERVER_MESSAGE_MAX, SERVER_TEXT_MAX, sanitize } from '../util/sanitize.js';
import type { Clock } from './clock.js';
import type { ConnectOptions, ExchangeDeadlines, ExchangeOutcome } from './connection.js';
import { dial } from './dial.js';
import { SocketConnection } from './socketConnection.js';

/** What one HTTP/2 request says (RFC 9113 §8.3.1): the pseudo-headers and the regular fields. */
export interface H2RequestSpec {
  readonly method: string;
  readonly path: string;
  /** `:authority`, the URL's host[:port]. */
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly headers: readonly (readonly [string, string])[];
  readonly userAgent: string;
}

/** The settings the probe announces: no server push; flow-control windows as large as allowed, so no body ever waits for a WINDOW_UPDATE of ours. */
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;
const PROBE_SETTINGS: readonly (readonly [number, number])[] = [
  [SETTINGS_ID.ENABLE_PUSH, 0],
  [SETTINGS_ID.INITIAL_WINDOW_SIZE, MAX_WINDOW],
];
/** After a GOAWAY, how long the probe waits for the server's close at most (gRPC-Go sends its second GOAWAY 5 s after the first at the latest). */
const AFTER_GOAWAY_MAX_MS = 6000;
/** Connection-specific header fields are malformed in HTTP/2 (RFC 9113 §8.2.2): never sent. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

interface PendingStream {
  readonly index: number;
  readonly streamId: number;
  readonly deadlines: ExchangeDeadlines;
  /** When its HEADERS went out (the clock's ms): every deadline counts from there. */
  readonly sentAt: number;
  /** The one timer of its deadlines (first-byte, headers, body), armed for the next one due; null once resolved. */
  timer: NodeJS.Timeout | null;
  readonly resolve: (outcome: ExchangeOutcome) => void;
  status: number | null;
  headers: readonly (readonly [string, string])[];
  bodyBytes: number;
}

/** A header block being received: HEADERS without END_HEADERS, then CONTINUATION frames (RFC 9113 §6.10). */
interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly parts: Buffer[];
  bytes: number;
}

/** The largest header block the probe accepts, CONTINUATION frames included: the HPACK decoder's header-list limit (64 KiB) with room for its encoding. */
const MAX_HEADER_BLOCK = 256 * 1024;

/**
 * One HTTP/2 connection over the probe's own socket, at frame level (RFC 9113): every frame
 * sent and received is an `h2-frame` event on the connection's timeline, beside the same
 * request, response, FIN, RST and close events an HTTP/1 connection records, so the timeline
 * code reads both. Node's `http2` module cannot probe: it closes the session itself on
 * GOAWAY, acknowledges PING and SETTINGS on its own and gives no frame timing
 * (lib/internal/http2/core.js onGoawayData). The probe acknowledges SETTINGS and PING as a
 * client must (§6.5.3, §6.7), and otherwise decides itself when to close.
 */
export class H2Connection extends SocketConnection {
  private readonly reader = new FrameReader();
  private readonly decoder = new HeaderDecoder();
  private readonly streams = new Map<number, PendingStream>();
  private readonly goawayWaiters = new Set<() => void>();
  private readonly pingWaiters = new Map<string, (t: number) => void>();
  private readonly serverSettings = new Map<string, number>();
  private settingsSeen: ((ok: boolean) => void) | null = null;
  /** Why the handshake failed, in words, when it did. */
  private refusal: string | null = null;
  /** The first bytes the server sent, kept for the refusal ("HTTP/1.1 400 Bad Request"). */
  private firstBytes: Buffer | null = null;
  private openBlock: OpenBlock | null = null;
  private nextStreamId = 1;
  private requestCount = 0;
  /** The protocol error that ended the connection, for requests asked for afterwards. */
  private failure: { code: string; message: string } | null = null;
  private goawayAt: number | null = null;
  private goawayLastStreamId: number | null = null;
  private lastGoaway: { lastStreamId: number; errorCode: string } | null = null;
  /** The last request's header block and what it encodes (headerBlock). */
  private lastBlock: { readonly spec: H2RequestSpec; readonly block: Buffer } | null = null;

  private constructor(id: string, socket: ProbeSocket, clock: Clock, compaction: Compaction | null) {
    super(id, socket, clock, compaction);
    // Frames go out in separate writes (a HEADERS right after the SETTINGS ACK): with Nagle on,
    // the second would wait for the server's delayed ACK, 40 ms.
    socket.setNoDelay(true);
  }

  /**
   * Connects, offers `h2` by ALPN over TLS (prior knowledge on plain TCP, RFC 9113 §3.3),
   * sends the preface and the probe's SETTINGS, and waits up to `settingsTimeoutMs` for the
   * server's SETTINGS. Throws ProbeError `h2-unsupported` when the server does not speak
   * HTTP/2 (ALPN chose another protocol, or the answer to the preface was not SETTINGS).
   */
  static async open(id: string, options: ConnectOptions, clock: Clock, settingsTimeoutMs: number): Promise<H2Connection> {
    let conn: H2Connection | null = null;
    const { socket, ready } = dial(options, ['h2'], {
      connected: () => conn?.onConnect(),
      timedOut: () => conn?.push({ kind: 'timeout', t: clock.now(), deadline: 'connect', limitMs: options.connectTimeoutMs, index: null }),
    });
    conn = new H2Connection(id, socket, clock, options.compaction === undefined ? DEFAULT_COMPACTION : options.compaction);
    const where = hostPort(options.host, options.port);
    const facts = await ready;
    if (facts !== null) {
      conn.push({ kind: 'tls', t: clock.now(), ...facts });
      if (facts.alpn !== 'h2') {
        await conn.close('fin', 'cleanup');
        throw new ProbeError('h2-unsupported', `${where} does not speak HTTP/2 over TLS: ALPN chose ${facts.alpn ?? 'no protocol'}`);
      }
    }
    const settings = new Promise<boolean>((resolve) => {
      if (conn !== null) conn.settingsSeen = resolve;
    });
    conn.write(
      Buffer.concat([
        CLIENT_PREFACE,
        conn.frameOut(encodeSettings(PROBE_SETTINGS), { settings: Object.fromEntries(PROBE_SETTINGS.map(([id, value]) => [settingName(id), value])) }),
        conn.frameOut(encodeWindowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW)),
      ]),
    );
    const timer = setTimeout(() => conn?.refuse(`did not answer the HTTP/2 connection preface within ${settingsTimeoutMs} ms`), settingsTimeoutMs);
    const ok = await settings;
    clearTimeout(timer);
    if (!ok) {
      await conn.close('rst', 'protocol-error');
      throw new ProbeError('h2-unsupported', `${where} does not speak HTTP/2 with prior knowledge: it ${conn.refusal ?? 'did not answer with SETTINGS'}`);
    }
    return conn;
  }

  /** The server's SETTINGS by name (MAX_CONCURRENT_STREAMS, …). */
  get settings(): ReadonlyMap<string, number> {
    return this.serverSettings;
  }

  /**
   * Runs `send` with the socket corked, so that every frame it writes leaves in one write
   * (a burst's HEADERS must reach the server together: with TCP_NODELAY each would be a
   * segment of its own, and the server could answer the first before it reads the last).
   */
  corked<T>(send: () => T): T {
    this.socket.cork();
    try {
      return send();
    } finally {
      this.socket.uncork();
    }
  }

  /** True once the server has sent a GOAWAY: no new stream may be opened. */
  get goingAway(): boolean {
    return this.goawayAt !== null;
  }

  /** Waits until the server sends a GOAWAY or closes, or `maxMs` passes; resolves true if one came. */
  waitForGoaway(maxMs: number): Promise<boolean> {
    if (this.goingAway || this.peerClosed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.closeWaiters.delete(done);
        this.goawayWaiters.delete(done);
        resolve(this.goingAway || this.peerClosed);
      };
      const timer = setTimeout(done, maxMs);
      this.closeWaiters.add(done);
      this.goawayWaiters.add(done);
    });
  }

  /** HTTP/2 has no half-open reuse: the probe never writes after the server's FIN anyway. */
  keepHalfOpen(): void {}

  /** Sends one request on a new stream (HEADERS with END_STREAM) and reads its response, within the deadlines. Never throws. */
  send(spec: H2RequestSpec, deadlines: ExchangeDeadlines): Promise<ExchangeOutcome> {
    const index = ++this.requestCount;
    // A protocol error already ended the connection (before this request): that is its outcome.
    if (this.failure !== null) return Promise.resolve({ kind: 'protocol-error', index, ...this.failure, tlsRecord: false });
    if (this.socket.destroyed || this.localClosed) return Promise.resolve({ kind: 'not-sent', index });
    const streamId = this.nextStreamId;
    // After a GOAWAY no new stream may be opened (RFC 9113 §6.8): a client takes the request
    // to a new connection, which the outcome says (not processed, safe to retry).
    const goaway = this.lastGoaway;
    if (goaway !== null) return Promise.resolve({ kind: 'goaway-refused', index, lastStreamId: goaway.lastStreamId, errorCode: goaway.errorCode });
    this.nextStreamId += 2;
    const block = this.headerBlock(spec);
    return new Promise((resolve) => {
      const pending: PendingStream = {
        index,
        streamId,
        deadlines,
        sentAt: this.clock.now(),
        timer: null,
        resolve: (outcome) => {
          if (pending.timer !== null) clearTimeout(pending.timer);
          pending.timer = null;
          this.streams.delete(streamId);
          resolve(outcome);
        },
        status: null,
        headers: [],
        bodyBytes: 0,
      };
      this.streams.set(streamId, pending);
      const bytes = encodeHeaders(streamId, block, { endStream: true });
      this.push({ kind: 'request', t: this.now(), index, method: spec.method, path: spec.path, version: '2', connection: null, bytes: bytes.length });
      this.write(this.frameOut(bytes));
      this.arm(pending, null);
    });
  }

  /**
   * The request's header block. The encoding is stateless (literals, no dynamic table), so the
   * same request gives the same bytes: a loop of requests encodes its block once instead of
   * building the field list and a dozen small buffers per request.
   */
  private headerBlock(spec: H2RequestSpec): Buffer {
    const last = this.lastBlock;
    if (
      last !== null &&
      last.spec.method === spec.method &&
      last.spec.path === spec.path &&
      last.spec.authority === spec.authority &&
      last.spec.scheme === spec.scheme &&
      last.spec.userAgent === spec.userAgent &&
      last.spec.headers === spec.headers
    ) {
      return last.block;
    }
    const fields: [string, string][] = [
      [':method', spec.method],
      [':scheme', spec.scheme],
      [':authority', spec.authority],
      [':path', spec.path],
      ['user-agent', spec.userAgent],
      ...spec.headers.map(([name, value]): [string, string] => [name.toLowerCase(), value]).filter(([name]) => !CONNECTION_SPECIFIC.has(name)),
    ];
    const block = encodeHeaderBlock(fields);
    this.lastBlock = { spec, block };
    return block;
  }

  /** Sends a PING and resolves with its round-trip time in ms, or null when no ACK came within `maxMs` (or the connection ended). */
  ping(maxMs: number): Promise<number | null> {
    if (this.socket.destroyed || this.localClosed) return Promise.resolve(null);
    const payload = Buffer.alloc(8);
    payload.writeDoubleBE(this.clock.now());
    const key = payload.toString('hex');
    const sentAt = this.now();
    return new Promise((resolve) => {
      const done = (t: number | null): void => {
        clearTimeout(timer);
        this.pingWaiters.delete(key);
        this.closeWaiters.delete(lost);
        resolve(t === null ? null : t - sentAt);
      };
      const lost = (): void => done(null);
      const timer = setTimeout(lost, maxMs);
      this.pingWaiters.set(key, done);
      this.closeWaiters.add(lost);
      this.write(this.frameOut(encodePing(payload)));
    });
  }

  /**
   * Waits until the peer closes (FIN or RST) or `maxMs` passes. After a GOAWAY the wait is cut
   * to AFTER_GOAWAY_MAX_MS from it: a server that has said goodbye and then waits for the
   * client to close (HAProxy's `timeout client-fin`) is not waited on for the whole idle bound.
   */
  override waitForPeerClose(maxMs: number): Promise<boolean> {
    if (this.peerClosed) return Promise.resolve(true);
    const until = this.clock.now() + maxMs;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout;
      const schedule = (): void => {
        clearTimeout(timer);
        const end = this.goawayAt === null ? until : Math.min(until, this.goawayAt + AFTER_GOAWAY_MAX_MS);
        timer = setTimeout(done, Math.max(0, end - this.clock.now()));
      };
      const done = (): void => {
        clearTimeout(timer);
        this.closeWaiters.delete(done);
        this.goawayWaiters.delete(schedule);
        resolve(this.peerClosed);
      };
      schedule();
      this.closeWaiters.add(done);
      this.goawayWaiters.add(schedule);
    });
  }

  /**
   * Closes the probe's side. `fin`: GOAWAY(NO_ERROR) as a client that is done (RFC 9113
   * §6.8), then FIN, then a short wait for the server's FIN; `rst`: an abortive close.
   */
  async close(how: 'fin' | 'rst', reason: LocalCloseReason): Promise<void> {
    if (this.closedFlag) return;
    if (this.socket.destroyed) {
      this.localClosed = true;
    } else if (!this.localClosed) {
      this.localClosed = true;
      if (how === 'rst') {
        this.push({ kind: 'local-close', t: this.now(), how, reason });
        this.socket.resetAndDestroy();
      } else {
        if (!this.peerFin && this.socket.writable) this.write(this.frameOut(encodeGoaway(0, 0), goawayInfo(0, 0, '')));
        this.push({ kind: 'local-close', t: this.now(), how, reason });
        this.socket.end();
      }
    }
    await this.awaitClosed();
  }

  /** The connection ended under open streams: each is lost (streams above a GOAWAY's last id were resolved when it came). */
  private loseStreams(code: string | null): void {
    for (const pending of [...this.streams.values()]) pending.resolve({ kind: 'connection-lost', index: pending.index, code });
  }

  /** Ends the wait for the server's SETTINGS, saying why. */
  private refuse(why: string): void {
    const seen = this.settingsSeen;
    if (seen === null) return;
    this.settingsSeen = null;
    this.refusal ??= why;
    seen(false);
  }

  /** The server's first bytes, as a reader sees them: "HTTP/1.1 400 Bad Request". */
  private firstWords(): string {
    const bytes = this.firstBytes;
    if (bytes === null) return 'nothing';
    const line = bytes.toString('latin1').split(/\r?\n/)[0] ?? '';
    return `"${sanitize(line, 60)}"`;
  }

  protected onData(chunk: Buffer): void {
    this.firstBytes ??= chunk.subarray(0, 64);
    if (this.failure !== null) return;
    let frames: readonly H2Frame[];
    let broken: unknown = null;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      // The frames before the malformed one still happened (a GOAWAY followed by garbage).
      frames = err instanceof H2ProtocolError ? err.frames : [];
      broken = err;
    }
    for (const frame of frames) {
      try {
        this.onFrame(frame);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    if (broken !== null) this.fail(broken);
  }

  private onFrame(frame: H2Frame): void {
    const t = this.now();
    if (this.settingsSeen !== null && !(frame.type === 'SETTINGS' && !frame.ack)) {
      // RFC 9113 §3.4: the server's preface is a SETTINGS frame.
      throw new H2ProtocolError('PROTOCOL_ERROR', `the server's first frame was ${frame.type}, not SETTINGS`);
    }
    if (this.openBlock !== null && (frame.type !== 'CONTINUATION' || frame.streamId !== this.openBlock.streamId)) {
      throw new H2ProtocolError('PROTOCOL_ERROR', `${frame.type} on stream ${frame.streamId} interrupted a header block (RFC 9113 §6.10)`);
    }
    switch (frame.type) {
      case 'SETTINGS': {
        const settings: Record<string, number> = {};
        for (const [id, value] of frame.settings) settings[settingName(id)] = value;
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame, { settings: frame.ack ? null : settings }) });
        if (frame.ack) return;
        for (const [name, value] of Object.entries(settings)) this.serverSettings.set(name, value);
        this.write(this.frameOut(encodeSettings([], true)));
        const seen = this.settingsSeen;
        this.settingsSeen = null;
        seen?.(true);
        return;
      }
      case 'PING':
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame) });
        if (frame.ack) this.pingWaiters.get(frame.payload.toString('hex'))?.(t);
        else this.write(this.frameOut(encodePing(frame.payload, true)));
        return;
      case 'GOAWAY': {
        const debug = frame.debug.length === 0 ? '' : sanitize(frame.debug.toString('latin1'), SERVER_TEXT_MAX);
        this.push({
          kind: 'h2-frame',
          t,
          dir: 'in',
          frame: frameInfo(frame, { errorCode: errorCodeName(frame.errorCode), lastStreamId: frame.lastStreamId, debug }),
        });
        this.goawayAt ??= t;
        this.goawayLastStreamId = Math.min(this.goawayLastStreamId ?? frame.lastStreamId, frame.lastStreamId);
        this.lastGoaway = { lastStreamId: this.goawayLastStreamId, errorCode: errorCodeName(frame.errorCode) };
        // Streams above the last stream id were not processed: safe to retry (RFC 9113 §6.8).
        for (const pending of [...this.streams.values()]) {
          if (pending.streamId > frame.lastStreamId) {
            pending.resolve({ kind: 'goaway-refused', index: pending.index, lastStreamId: frame.lastStreamId, errorCode: errorCodeName(frame.errorCode) });
          }
        }
        for (const waiter of [...this.goawayWaiters]) waiter();
        return;
      }
      case 'RST_STREAM': {
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame, { errorCode: errorCodeName(frame.errorCode) }) });
        const pending = this.streams.get(frame.streamId);
        pending?.resolve({ kind: 'stream-reset', index: pending.index, errorCode: errorCodeName(frame.errorCode) });
        return;
      }
      case 'HEADERS':
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame) });
        if (frame.endHeaders) this.onHeaderBlock(frame.streamId, frame.block, frame.endStream, t);
        // A copy: the frame is a view of the socket's chunk, and the block waits for its CONTINUATION frames.
        else this.openBlock = { streamId: frame.streamId, endStream: frame.endStream, parts: [Buffer.from(frame.block)], bytes: frame.block.length };
        return;
      case 'CONTINUATION': {
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame) });
        const block = this.openBlock;
        if (block === null) throw new H2ProtocolError('PROTOCOL_ERROR', `CONTINUATION on stream ${frame.streamId} without a header block to continue`);
        block.parts.push(Buffer.from(frame.block));
        block.bytes += frame.block.length;
        // A header block that never ends (a CONTINUATION flood) is refused before it fills memory.
        if (block.bytes > MAX_HEADER_BLOCK)
          throw new H2ProtocolError('PROTOCOL_ERROR', `a header block over ${MAX_HEADER_BLOCK} bytes (CONTINUATION frames without END_HEADERS)`);
        if (frame.endHeaders) {
          this.openBlock = null;
          this.onHeaderBlock(block.streamId, Buffer.concat(block.parts), block.endStream, t);
        }
        return;
      }
      case 'DATA': {
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame) });
        const pending = this.streams.get(frame.streamId);
        if (pending === undefined) return;
        pending.bodyBytes += frame.data.length;
        if (frame.endStream) this.complete(pending, t);
        return;
      }
      case 'PUSH_PROMISE':
        // The probe's SETTINGS disabled push (ENABLE_PUSH 0): RFC 9113 §8.4.
        throw new H2ProtocolError('PROTOCOL_ERROR', 'PUSH_PROMISE received although the probe disabled server push');
      default:
        this.push({ kind: 'h2-frame', t, dir: 'in', frame: frameInfo(frame) });
    }
  }

  /** A complete header block: decoded in order (HPACK state is per connection), then given to its stream. */
  private onHeaderBlock(streamId: number, block: Buffer, endStream: boolean, t: number): void {
    const fields = this.decoder.decode(block);
    const pending = this.streams.get(streamId);
    if (pending === undefined) return; // trailers of a stream already answered, or a stream we gave up on
    if (pending.status !== null) {
      if (endStream) this.complete(pending, t); // trailers
      return;
    }
    const statusField = fields.find(([name]) => name === ':status');
    const status = statusField === undefined ? Number.NaN : Number(statusField[1]);
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw new H2ProtocolError('PROTOCOL_ERROR', `response on stream ${streamId} has no valid :status (RFC 9113 §8.3.2)`);
    }
    if (status < 200) return; // an interim response; the final one follows
    pending.status = status;
    pending.headers = fields.filter(([name]) => !name.startsWith(':')).map(([name, value]) => [name, sanitize(value, SERVER_TEXT_MAX)] as const);
    this.push({
      kind: 'response-head',
      t,
      index: pending.index,
      status,
      version: '2',
      keepAlive: this.goawayLastStreamId === null,
      connectionHeader: null,
      keepAliveHeader: null,
      informational: [],
      framing: 'stream',
    });
    if (endStream) this.complete(pending, t);
  }

  private complete(pending: PendingStream, t: number): void {
    this.push({ kind: 'response-complete', t, index: pending.index, bodyBytes: pending.bodyBytes });
    pending.resolve({
      kind: 'response',
      index: pending.index,
      status: pending.status ?? 0,
      headers: pending.headers,
      keepAlive: this.goawayLastStreamId === null,
      bodyBytes: pending.bodyBytes,
    });
  }

  /** A protocol violation by the server: a connection error (RFC 9113 §5.4.1): GOAWAY with its code, then close. */
  private fail(err: unknown): void {
    const code = err instanceof H2ProtocolError ? err.code : 'INTERNAL_ERROR';
    const message = sanitize(err instanceof Error ? err.message : String(err), SERVER_MESSAGE_MAX);
    this.failure = { code, message };
    const first = [...this.streams.values()][0];
    this.push({ kind: 'protocol-error', t: this.now(), index: first?.index ?? 0, code: `h2-${code.toLowerCase().replaceAll('_', '-')}`, message });
    for (const pending of [...this.streams.values()]) pending.resolve({ kind: 'protocol-error', index: pending.index, code, message, tlsRecord: false });
    this.refuse(`answered the preface with ${this.firstWords()}, which is not an HTTP/2 SETTINGS frame`);
    const debug = Buffer.from(message.slice(0, 64));
    if (this.socket.writable)
      this.write(this.frameOut(encodeGoaway(0, errorCodeNumber(code), debug), goawayInfo(0, errorCodeNumber(code), debug.toString('latin1'))));
    void this.close('fin', 'protocol-error');
  }

  protected onEnd(): void {
    this.peerFin = true;
    this.push({ kind: 'peer-fin', t: this.now() });
    this.loseStreams(null);
    this.refuse(`closed the connection after ${this.firstWords()} instead of sending SETTINGS`);
    this.notifyCloseWaiters();
    void this.close('fin', 'after-peer-fin');
  }

  protected onError(err: NodeJS.ErrnoException): void {
    const code = typeof err.code === 'string' ? err.code : 'UNKNOWN';
    const syscall = typeof err.syscall === 'string' ? err.syscall : null;
    this.push({ kind: 'error', t: this.now(), code, syscall, message: err.message });
    this.loseStreams(code);
    this.refuse(`reset the connection (${code}) instead of sending SETTINGS`);
    this.notifyCloseWaiters();
  }

  protected onClose(): void {
    this.closedFlag = true;
    this.push({ kind: 'closed', t: this.now() });
    this.loseStreams(null);
    this.refuse('closed the connection instead of sending SETTINGS');
    this.notifyCloseWaiters();
  }

  /**
   * Arms the stream's one deadline timer for its next deadline after `passed` (null: the
   * first). One timer re-armed instead of one per deadline: a loop of 20 000 requests made
   * 60 000 timers, most of the probe's per-request garbage after the frames. The deadlines
   * count from the HEADERS as before; first-byte and headers are due only while no response
   * head came (on HTTP/2 the first byte of a response is its HEADERS), the body always.
   */
  private arm(pending: PendingStream, passed: DeadlineName | null): void {
    const next = nextDeadline(pending.deadlines, passed, pending.status === null);
    if (next === null) return;
    const [deadline, ms] = next;
    // The first arm waits the whole deadline, a whole number of ms like every stream's: Node
    // keeps one timer list per duration, and a fractional remainder would make one per stream.
    const delay = passed === null ? ms : Math.max(0, Math.ceil(pending.sentAt + ms - this.clock.now()));
    pending.timer = setTimeout(() => this.expire(pending, deadline, ms), delay);
  }

  /** A deadline passed: RST_STREAM(CANCEL) ends that stream only; the connection stays. */
  private expire(pending: PendingStream, deadline: DeadlineName, ms: number): void {
    pending.timer = null;
    if (this.streams.get(pending.streamId) !== pending) return;
    if (deadline !== 'body' && pending.status !== null) {
      this.arm(pending, deadline);
      return;
    }
    this.push({ kind: 'timeout', t: this.now(), deadline, limitMs: ms, index: pending.index });
    if (this.socket.writable) this.write(this.frameOut(encodeRstStream(pending.streamId, CANCEL), { errorCode: errorCodeName(CANCEL) }));
    pending.resolve({ kind: 'timeout', index: pending.index, deadline, limitMs: ms });
  }

  /**
   * Records the frames the probe writes, from their headers and the fields the caller encoded
   * (`extra`: a GOAWAY's or RST_STREAM's error code, a SETTINGS frame's values). Decoding its
   * own bytes back through a FrameReader cost a reader, a payload copy and a frame object per
   * request.
   */
  private frameOut(bytes: Buffer, extra: Partial<H2FrameInfo> = NO_EXTRA): Buffer {
    const t = this.now();
    for (let at = 0; at + FRAME_HEADER_BYTES <= bytes.length; ) {
      const length = bytes.readUIntBE(at, 3);
      const type = frameTypeLabel(bytes[at + 3] as number);
      const flags = flagsOf(type, bytes[at + 4] as number);
      const streamId = bytes.readUInt32BE(at + 5) & 0x7fff_ffff;
      this.push({
        kind: 'h2-frame',
        t,
        dir: 'out',
        frame: { type, streamId, flags, length, errorCode: null, lastStreamId: null, debug: null, settings: null, ...extra },
      });
      at += FRAME_HEADER_BYTES + length;
    }
    return bytes;
  }

  private write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }
}

/** RST_STREAM CANCEL (RFC 9113 §7): the probe no longer wants the stream. */
const CANCEL = 0x8;
const NO_EXTRA: Partial<H2FrameInfo> = {};

/** The deadlines of a stream in the order they fall due (ties in this order), ms from its HEADERS. */
const DEADLINE_ORDER: readonly DeadlineName[] = ['first-byte', 'headers', 'body'];

function deadlineMs(deadlines: ExchangeDeadlines, name: DeadlineName): number {
  if (name === 'first-byte') return deadlines.firstByteTimeoutMs;
  if (name === 'headers') return deadlines.headersTimeoutMs;
  return deadlines.firstByteTimeoutMs + deadlines.bodyTimeoutMs;
}

/**
 * The deadline due after `passed` (null: the first), as [name, ms]: the earliest later one,
 * ties in DEADLINE_ORDER, which is the order separate timers armed in that order fired in.
 * `awaitingHead` false: only the body deadline is left to watch.
 */
function nextDeadline(deadlines: ExchangeDeadlines, passed: DeadlineName | null, awaitingHead: boolean): [DeadlineName, number] | null {
  const passedMs = passed === null ? Number.NEGATIVE_INFINITY : deadlineMs(deadlines, passed);
  const passedRank = passed === null ? -1 : DEADLINE_ORDER.indexOf(passed);
  let best: [DeadlineName, number] | null = null;
  DEADLINE_ORDER.forEach((name, rank) => {
    if (name !== 'body' && !awaitingHead) return;
    const ms = deadlineMs(deadlines, name);
    const later = ms > passedMs || (ms === passedMs && rank > passedRank);
    if (later && (best === null || ms < best[1])) best = [name, ms];
  });
  return best;
}

/** The timeline's fields of a GOAWAY the probe sends. */
function goawayInfo(lastStreamId: number, errorCode: number, debug: string): Partial<H2FrameInfo> {
  return { errorCode: errorCodeName(errorCode), lastStreamId, debug };
}

/** Flag names by frame type and flag byte, computed once: every frame's event shares the array (it is readonly). */
const FLAG_CACHE = new Map<string, (readonly string[])[]>();

function flagsOf(type: string, flags: number): readonly string[] {
  let byFlags = FLAG_CACHE.get(type);
  if (byFlags === undefined) {
    byFlags = [];
    FLAG_CACHE.set(type, byFlags);
  }
  let names = byFlags[flags];
  if (names === undefined) {
    names = flagNames(type, flags);
    byFlags[flags] = names;
  }
  return names;
}

/** The timeline's view of a frame: its header, flag names and the fields `extra` gives. */
function frameInfo(frame: H2Frame, extra: Partial<H2FrameInfo> = {}): H2FrameInfo {
  const type = frame.type === 'UNKNOWN' ? `UNKNOWN_0x${frame.typeCode.toString(16)}` : frame.type;
  return {
    type,
    streamId: frame.streamId,
    flags: flagsOf(frame.type, frame.flags),
    length: frame.length,
    errorCode: null,
    lastStreamId: null,
    debug: null,
    settings: null,
    ...extra,
  };
}

const ERROR_NUMBERS: Readonly<Record<string, number>> = {
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  FRAME_SIZE_ERROR: 0x6,
  COMPRESSION_ERROR: 0x9,
};

function errorCodeNumber(name: string): number {
  return ERROR_NUMBERS[name] ?? 0x2;
}
