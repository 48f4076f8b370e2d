import type { ConnEvent, Endpoint, H2FrameInfo, HttpVersion } from '../model/events.js';
import { isPersistent, tokenize } from '../http/persistence.js';
import type { BodyFraming } from '../http/responseParser.js';
import { SERVER_TEXT_MAX, sanitize } from '../util/sanitize.js';
import { errorCodeName, flagNames, frameTypeLabel, settingName } from '../http/h2/frames.js';
import type { CapturedH2Frame, CapturedMessage, CapturedPacket } from './tshark.js';

/**
 * A packet capture's TCP streams turned into the probe's own timeline: for each connection,
 * the ConnEvents its client would have recorded (the same kinds, the same meaning), so the
 * timeline, the measures' queries and the whole verdict serve a capture unchanged. The
 * client is the side that sent the SYN; without the handshake in the capture, the side that
 * sent the first HTTP request (or, with neither, the side with the higher port).
 *
 * Memory is bounded: a connection is handed on (onConnection) as soon as it has closed (an
 * RST, or a FIN each way), and one carrying many requests keeps only its first and last
 * events (the counts stay exact).
 */

/** One connection of a capture, as the client saw it. */
export interface CapturedConnection {
  /** `tcp.stream` as tshark numbers it, e.g. `stream-12`. */
  readonly id: string;
  readonly stream: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** The first events and the last ones; `droppedEvents` were between them. */
  readonly events: readonly ConnEvent[];
  readonly droppedEvents: number;
  /** The SYN was in the capture (else the connection began before it). */
  readonly handshakeSeen: boolean;
  /** How the client was told from the server. */
  readonly clientBy: 'syn' | 'first-request' | 'port';
  readonly requests: number;
  readonly responses: number;
  /** Requests written after the server's FIN, and what answered each. */
  readonly stale: readonly StaleRequest[];
  /** TLS records were seen. */
  readonly tls: boolean;
  /** TLS records were seen and no HTTP: its HTTP layer was not visible. */
  readonly tlsHidden: boolean;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly firstFrame: number;
  /** Requests after the first that were answered, with their idle time (end of the previous response → request), ms; at most LIST_MAX. */
  readonly reuses: readonly { readonly index: number; readonly idleMs: number }[];
  /** The first Server header, sanitised; null when none was seen. */
  readonly serverHeader: string | null;
  /** HTTP/2 frames were seen (h2c, or h2 in TLS with keys); its requests and responses are its streams. */
  readonly http2: boolean;
  /** HTTP/2: what became of the client's streams that no response ended (RFC 9113 §5.4, §6.8); zeros for HTTP/1. */
  readonly h2Streams: H2StreamCounts;
}

/**
 * The client's HTTP/2 streams that got no response: `refused` reset by the server with
 * REFUSED_STREAM (not processed, RFC 9113 §8.7); `aboveLastStreamId` above the last stream id
 * of the server's final GOAWAY (not processed, safe to retry, §6.8); `lost` open when the server
 * closed the connection and covered by no GOAWAY (maybe processed: unsafe to retry, §8.7).
 */
export interface H2StreamCounts {
  readonly refused: number;
  readonly aboveLastStreamId: number;
  readonly lost: number;
}

/** A request written after the server had closed its side: what came back. */
export interface StaleRequest {
  readonly index: number;
  readonly t: number;
  /** ms since the last complete response (or the connect). */
  readonly idleMs: number;
  /** The server's FIN had arrived when it was written (else: nothing had, and an RST answered: a silent drop). */
  readonly afterFin: boolean;
  readonly answer: 'rst' | 'response' | 'nothing';
}

/** Events kept at the start of a long connection, and at its end. */
const HEAD_EVENTS = 64;
const TAIL_EVENTS = 64;
/** Stale requests and reuse gaps kept per connection. */
const LIST_MAX = 64;
/** Packets held while a connection's client is not yet known (no SYN, no request yet). */
const PENDING_MAX = 32;
/** HTTP/2 streams tracked per connection while open, and client stream ids remembered for the final GOAWAY (oldest dropped first). */
const H2_STREAMS_MAX = 1024;

/** An HTTP/2 stream the client opened, until a response or a reset ends it. */
interface H2Stream {
  readonly index: number;
  status: number | null;
  bodyBytes: number;
}

interface Side {
  readonly address: string;
  readonly port: number;
}

interface Open {
  readonly stream: number;
  readonly firstFrame: number;
  client: Side | null;
  clientBy: 'syn' | 'first-request' | 'port';
  handshakeSeen: boolean;
  pending: CapturedPacket[];
  head: ConnEvent[];
  tail: ConnEvent[];
  dropped: number;
  connected: boolean;
  requests: number;
  responses: number;
  /** Requests without a response yet, oldest first (HTTP/1.x answers in order). */
  outstanding: { index: number; method: string; version: HttpVersion; tokens: string[] }[];
  /** A response whose body runs until the server's FIN (RFC 9112 §6.3 rule 8). */
  closeDelimited: number | null;
  lastActivity: number;
  serverFin: boolean;
  clientClosed: boolean;
  reset: boolean;
  stale: (StaleRequest & { pendingAnswer: boolean })[];
  reuses: { index: number; idleMs: number }[];
  serverHeader: string | null;
  tls: boolean;
  http: boolean;
  bytesIn: number;
  bytesOut: number;
  lastTime: number;
  /** When the first byte of the response now arriving came (a server segment with payload while a request waits); null between responses. */
  responseStart: number | null;
  http2: boolean;
  /** HTTP/2 streams open (client's, by id). */
  h2Open: Map<number, H2Stream>;
  /** The ids of the client's latest streams, for the final GOAWAY's count of streams above its last stream id. */
  h2Opened: number[];
  /** The lowest last stream id of the server's GOAWAYs; null before the first. */
  h2LastStreamId: number | null;
  h2Refused: number;
}

/** Which TCP streams a CaptureTimelines assembles. */
export interface StreamChoice {
  /** Only these streams (a second pass over the capture); every stream when absent. */
  readonly only?: ReadonlySet<number>;
  /**
   * A stream that opened with an HTTP/2 preface tshark did not decode (CapturedPacket
   * h2cUndecoded), and its server port: true takes it out of this pass (to be read on another,
   * with the port decoded as HTTP); false keeps it, with its TCP verdicts only.
   */
  readonly undecodedH2c?: (stream: number, serverPort: number) => boolean;
}

/** Assembles the connections of a capture from its packets, in capture order. */
export class CaptureTimelines {
  private readonly open = new Map<number, Open>();
  /** tshark numbers streams in order of first appearance: a lower number not open has been handed on. */
  private highestStream = -1;
  packets = 0;
  firstTime: number | null = null;
  lastTime = 0;

  /**
   * `keepAll`: every event of every connection (a capture of the probe's own connections,
   * `run --capture`, whose number is bounded by the run); otherwise the first and last ones.
   */
  constructor(
    private readonly onConnection: (c: CapturedConnection) => void,
    private readonly keepAll = false,
    private readonly streams: StreamChoice = {},
  ) {}

  /** One packet, in capture order. */
  add(p: CapturedPacket): void {
    if (this.streams.only !== undefined && !this.streams.only.has(p.stream)) return;
    this.packets += 1;
    this.firstTime ??= p.time;
    this.lastTime = p.time;
    let conn = this.open.get(p.stream);
    if (conn === undefined) {
      if (p.stream <= this.highestStream) return; // a straggler (the last ACK) of a connection already handed on
      this.highestStream = p.stream;
      conn = newConnection(p);
      this.open.set(p.stream, conn);
    }
    conn.lastTime = p.time;
    if (p.h2cUndecoded && this.streams.undecodedH2c?.(p.stream, p.dstPort) === true) {
      // h2c whose frames tshark did not decode on this pass: the connection is read on another.
      this.open.delete(p.stream);
      return;
    }
    if (conn.client === null) {
      decideClient(conn, p);
      if (conn.client === null) {
        if (conn.pending.length < PENDING_MAX) {
          conn.pending.push(p);
          return;
        }
        byPort(conn, conn.pending[0] ?? p);
      }
      const held = conn.pending;
      conn.pending = [];
      for (const q of held) this.apply(conn, q);
    }
    this.apply(conn, p);
  }

  /** The end of the capture: every connection still open is handed on as it stands. */
  finish(): void {
    for (const conn of this.open.values()) {
      if (conn.client === null) {
        const a = conn.pending[0];
        if (a === undefined) continue;
        byPort(conn, a);
        const held = conn.pending;
        conn.pending = [];
        for (const q of held) this.apply(conn, q);
      }
      this.handOn(conn);
    }
    this.open.clear();
  }

  private apply(conn: Open, p: CapturedPacket): void {
    const client = conn.client as Side;
    const fromClient = p.src === client.address && p.srcPort === client.port;
    const t = ms(p.time);
    if (p.tls) conn.tls = true;
    if (fromClient) conn.bytesOut += p.payload;
    else conn.bytesIn += p.payload;
    if (p.syn) {
      // The client's connect completes when the SYN-ACK arrives.
      if (!fromClient && p.ack && !conn.connected) {
        conn.connected = true;
        this.push(conn, { kind: 'connect', t, local: endpoint(client), remote: { address: p.src, port: p.srcPort } });
        conn.lastActivity = t;
      }
      return;
    }
    if (!conn.connected) {
      // The capture began after the handshake: the connection is already established.
      conn.connected = true;
      this.push(conn, {
        kind: 'connect',
        t,
        local: endpoint(client),
        remote: fromClient ? { address: p.dst, port: p.dstPort } : { address: p.src, port: p.srcPort },
      });
      conn.lastActivity = t;
    }
    // A response's head is timed at its first segment, as a client parses it; tshark names the
    // response only in the segment that completes it (HTTP reassembly).
    if (!fromClient && p.payload > 0 && conn.outstanding.length > 0) conn.responseStart ??= t;
    for (const m of p.messages) {
      if (m.kind === 'request' && fromClient) this.request(conn, m, t, p.payload);
      if (m.kind === 'response' && !fromClient) this.response(conn, m, t);
    }
    for (const frame of p.h2) this.h2Frame(conn, frame, fromClient, t);
    if (p.rst) {
      if (fromClient) {
        if (!conn.clientClosed) this.push(conn, { kind: 'local-close', t, how: 'rst', reason: conn.serverFin ? 'after-peer-fin' : 'observed' });
        conn.clientClosed = true;
      } else {
        for (const s of conn.stale) if (s.pendingAnswer) Object.assign(s, { answer: 'rst', pendingAnswer: false });
        this.push(conn, { kind: 'error', t, code: 'ECONNRESET', syscall: 'read', message: `RST from the server (frame ${p.frame})` });
      }
      conn.reset = true;
      this.push(conn, { kind: 'closed', t });
      this.handOn(conn);
      return;
    }
    if (p.fin) {
      if (fromClient && !conn.clientClosed) {
        conn.clientClosed = true;
        this.push(conn, { kind: 'local-close', t, how: 'fin', reason: conn.serverFin ? 'after-peer-fin' : 'observed' });
      } else if (!fromClient && !conn.serverFin) {
        conn.serverFin = true;
        this.push(conn, { kind: 'peer-fin', t });
        if (conn.closeDelimited !== null) {
          // The body ran until this FIN: the live probe's parser completes it here too.
          this.push(conn, { kind: 'response-complete', t, index: conn.closeDelimited, bodyBytes: 0 });
          conn.closeDelimited = null;
          conn.lastActivity = t;
        }
      }
      if (conn.clientClosed && conn.serverFin) {
        this.push(conn, { kind: 'closed', t });
        this.handOn(conn);
      }
    }
  }

  private request(conn: Open, m: Extract<CapturedMessage, { kind: 'request' }>, t: number, bytes: number): void {
    conn.http = true;
    conn.requests += 1;
    const index = conn.requests;
    const version: HttpVersion = m.version === 'HTTP/1.0' ? '1.0' : '1.1';
    const idleMs = t - conn.lastActivity;
    if (index > 1 && conn.outstanding.length === 0 && conn.reuses.length < LIST_MAX) conn.reuses.push({ index, idleMs: round(idleMs) });
    if (conn.serverFin && conn.stale.length < LIST_MAX)
      conn.stale.push({ index, t, idleMs: round(idleMs), afterFin: true, answer: 'nothing', pendingAnswer: true });
    else if (!conn.serverFin && index > 1 && conn.stale.length < LIST_MAX) {
      // Not stale yet; becomes a silent-drop stale request if an RST is all that answers it (response() clears it).
      conn.stale.push({ index, t, idleMs: round(idleMs), afterFin: false, answer: 'nothing', pendingAnswer: true });
    }
    conn.outstanding.push({ index, method: m.method, version, tokens: tokenize(m.connection) });
    this.push(conn, {
      kind: 'request',
      t,
      index,
      method: sanitize(m.method, 32),
      path: sanitize(m.uri, SERVER_TEXT_MAX),
      version,
      connection: m.connection === null ? null : sanitize(m.connection, SERVER_TEXT_MAX),
      bytes,
    });
  }

  private response(conn: Open, m: Extract<CapturedMessage, { kind: 'response' }>, t: number): void {
    conn.http = true;
    // 1xx (but 101) precede the final response to the same request (RFC 9110 §15.2).
    if (m.status >= 100 && m.status < 200 && m.status !== 101) return;
    const request = conn.outstanding.shift();
    if (request === undefined) {
      this.push(conn, { kind: 'unsolicited', t, bytes: 0, preview: `HTTP ${m.status} with no request outstanding` });
      return;
    }
    conn.responses += 1;
    if (conn.serverHeader === null && m.server !== null) conn.serverHeader = sanitize(m.server, SERVER_TEXT_MAX);
    const framing = framingOf(m, request.method);
    const keepAlive = isPersistent({
      requestVersion: request.version,
      requestTokens: request.tokens,
      responseVersionMinor: m.version === 'HTTP/1.0' ? 0 : 1,
      responseTokens: tokenize(m.connection),
      framing,
    });
    // An answer to a request that was waiting for one: it was not stale after all (or was answered).
    conn.stale = conn.stale.filter((s) => !(s.index === request.index && !s.afterFin));
    for (const s of conn.stale) if (s.index === request.index && s.pendingAnswer) Object.assign(s, { answer: 'response', pendingAnswer: false });
    const headAt = Math.min(conn.responseStart ?? t, t);
    conn.responseStart = null;
    this.push(conn, {
      kind: 'response-head',
      t: headAt,
      index: request.index,
      status: m.status,
      version: m.version === 'HTTP/1.0' ? '1.0' : '1.1',
      keepAlive,
      connectionHeader: m.connection === null ? null : sanitize(m.connection, SERVER_TEXT_MAX),
      keepAliveHeader: m.keepAlive === null ? null : sanitize(m.keepAlive, SERVER_TEXT_MAX),
      informational: [],
      framing: framing.kind,
    });
    if (framing.kind === 'close' && !conn.serverFin) {
      conn.closeDelimited = request.index;
      return;
    }
    this.push(conn, { kind: 'response-complete', t, index: request.index, bodyBytes: m.contentLength ?? 0 });
    conn.lastActivity = t;
  }

  /**
   * One HTTP/2 frame, as the probe's own connection records it (wire/h2Connection.ts): an
   * `h2-frame` event in the client's direction, and for the client's streams a `request` at
   * its HEADERS, a `response-head` at the server's final HEADERS, a `response-complete` at the
   * END_STREAM that ends the response; the request index is the stream's ordinal.
   */
  private h2Frame(conn: Open, f: CapturedH2Frame, fromClient: boolean, t: number): void {
    conn.http = true;
    conn.http2 = true;
    const type = frameTypeLabel(f.type);
    const flags = flagNames(type, f.flags);
    const endStream = flags.includes('END_STREAM');
    const headers = f.headers ?? [];
    const header = (name: string): string | null => headers.find(([n]) => n === name)?.[1] ?? null;
    if (fromClient && type === 'HEADERS' && f.streamId % 2 === 1 && !conn.h2Open.has(f.streamId)) {
      conn.requests += 1;
      const index = conn.requests;
      if (conn.h2Open.size >= H2_STREAMS_MAX) conn.h2Open.delete(conn.h2Open.keys().next().value as number);
      conn.h2Open.set(f.streamId, { index, status: null, bodyBytes: 0 });
      conn.h2Opened.push(f.streamId);
      if (conn.h2Opened.length > H2_STREAMS_MAX) conn.h2Opened.shift();
      this.push(conn, {
        kind: 'request',
        t,
        index,
        method: sanitize(header(':method') ?? '', 32),
        path: sanitize(header(':path') ?? '', SERVER_TEXT_MAX),
        version: '2',
        connection: null,
        bytes: f.length + 9,
      });
    }
    this.push(conn, { kind: 'h2-frame', t, dir: fromClient ? 'out' : 'in', frame: frameInfo(f, type, flags) });
    if (fromClient) {
      // The client gave up on the stream (CANCEL): neither answered nor lost.
      if (type === 'RST_STREAM') conn.h2Open.delete(f.streamId);
      return;
    }
    if (type === 'GOAWAY') conn.h2LastStreamId = Math.min(conn.h2LastStreamId ?? f.lastStreamId ?? 0, f.lastStreamId ?? 0);
    const stream = conn.h2Open.get(f.streamId);
    if (stream === undefined) return;
    if (type === 'RST_STREAM') {
      if (f.errorCode === 7) conn.h2Refused += 1; // REFUSED_STREAM (RFC 9113 §7)
      conn.h2Open.delete(f.streamId);
      return;
    }
    if (type === 'DATA') stream.bodyBytes += f.length;
    if (type === 'HEADERS' && stream.status === null) {
      const status = Number(header(':status'));
      if (!Number.isInteger(status) || status < 200) return; // an interim response (or none readable): the final one follows
      stream.status = status;
      const server = header('server');
      if (conn.serverHeader === null && server !== null) conn.serverHeader = sanitize(server, SERVER_TEXT_MAX);
      conn.responses += 1;
      this.push(conn, {
        kind: 'response-head',
        t,
        index: stream.index,
        status,
        version: '2',
        keepAlive: conn.h2LastStreamId === null,
        connectionHeader: null,
        keepAliveHeader: null,
        informational: [],
        framing: 'stream',
      });
    }
    if (endStream && stream.status !== null) {
      this.push(conn, { kind: 'response-complete', t, index: stream.index, bodyBytes: stream.bodyBytes });
      conn.h2Open.delete(f.streamId);
      conn.lastActivity = t;
    }
  }

  private push(conn: Open, e: ConnEvent): void {
    pushEvent(conn, e, this.keepAll);
  }

  private handOn(conn: Open): void {
    this.open.delete(conn.stream);
    if (!conn.connected || conn.client === null) return;
    const connect = conn.head.find((e) => e.kind === 'connect');
    const remote = connect?.kind === 'connect' ? connect.remote : { address: '', port: 0 };
    // A request still waiting when an RST came is stale only if no response preceded the RST:
    // requests written before the server's FIN that nothing answered are outstanding, not stale.
    const stale = conn.stale.filter((s) => s.afterFin || s.answer === 'rst').map(({ pendingAnswer: _, ...s }) => s);
    this.onConnection({
      id: `stream-${conn.stream}`,
      stream: conn.stream,
      client: endpoint(conn.client),
      server: remote,
      events: [...conn.head, ...conn.tail],
      droppedEvents: conn.dropped,
      handshakeSeen: conn.handshakeSeen,
      clientBy: conn.clientBy,
      requests: conn.requests,
      responses: conn.responses,
      stale,
      tls: conn.tls,
      tlsHidden: conn.tls && !conn.http,
      bytesIn: conn.bytesIn,
      bytesOut: conn.bytesOut,
      firstFrame: conn.firstFrame,
      reuses: conn.reuses.filter((r) => !stale.some((s) => s.index === r.index)),
      serverHeader: conn.serverHeader,
      http2: conn.http2,
      h2Streams: h2StreamCounts(conn),
    });
  }
}

/** What became of the client's HTTP/2 streams no response ended, as the connection closed (H2StreamCounts). */
function h2StreamCounts(conn: Open): H2StreamCounts {
  const last = conn.h2LastStreamId;
  const aboveLastStreamId = last === null ? 0 : conn.h2Opened.filter((id) => id > last).length;
  const serverEnded = conn.serverFin || (conn.reset && !conn.clientClosed);
  const lost = serverEnded ? [...conn.h2Open.keys()].filter((id) => last === null || id <= last).length : 0;
  return { refused: conn.h2Refused, aboveLastStreamId, lost };
}

/** The timeline's view of a captured frame (model/events.ts H2FrameInfo), as the probe records its own. */
function frameInfo(f: CapturedH2Frame, type: string, flags: string[]): H2FrameInfo {
  return {
    type,
    streamId: f.streamId,
    flags,
    length: f.length,
    errorCode: f.errorCode === null ? null : errorCodeName(f.errorCode),
    lastStreamId: f.lastStreamId,
    debug: f.debug === null ? null : f.debug === '' ? '' : sanitize(f.debug, SERVER_TEXT_MAX),
    settings: f.settings === null ? null : Object.fromEntries(f.settings.map(([id, value]) => [settingName(id), value])),
  };
}

function newConnection(p: CapturedPacket): Open {
  return {
    stream: p.stream,
    firstFrame: p.frame,
    client: null,
    clientBy: 'syn',
    handshakeSeen: false,
    pending: [],
    head: [],
    tail: [],
    dropped: 0,
    connected: false,
    requests: 0,
    responses: 0,
    outstanding: [],
    closeDelimited: null,
    lastActivity: ms(p.time),
    serverFin: false,
    clientClosed: false,
    reset: false,
    stale: [],
    reuses: [],
    serverHeader: null,
    tls: false,
    http: false,
    bytesIn: 0,
    bytesOut: 0,
    lastTime: p.time,
    responseStart: null,
    http2: false,
    h2Open: new Map(),
    h2Opened: [],
    h2LastStreamId: null,
    h2Refused: 0,
  };
}

/** The client: the SYN's sender (SYN without ACK), else the sender of the first request. */
function decideClient(conn: Open, p: CapturedPacket): void {
  if (p.syn && !p.ack) {
    conn.client = { address: p.src, port: p.srcPort };
    conn.clientBy = 'syn';
    conn.handshakeSeen = true;
  } else if (p.syn && p.ack) {
    conn.client = { address: p.dst, port: p.dstPort };
    conn.clientBy = 'syn';
    conn.handshakeSeen = true;
  } else if (p.h2Preface || p.h2.some((f) => f.type === 1 && f.streamId % 2 === 1 && (f.headers ?? []).some(([n]) => n === ':method'))) {
    // The HTTP/2 client preface, or a request's HEADERS (RFC 9113 §3.4, §8.3.1).
    conn.client = { address: p.src, port: p.srcPort };
    conn.clientBy = 'first-request';
  } else if (p.messages.some((m) => m.kind === 'request')) {
    conn.client = { address: p.src, port: p.srcPort };
    conn.clientBy = 'first-request';
  } else if (p.messages.some((m) => m.kind === 'response')) {
    conn.client = { address: p.dst, port: p.dstPort };
    conn.clientBy = 'first-request';
  }
}

/** Neither a SYN nor a request: the ephemeral (higher) port is the client's. */
function byPort(conn: Open, p: CapturedPacket): void {
  conn.client = p.srcPort >= p.dstPort ? { address: p.src, port: p.srcPort } : { address: p.dst, port: p.dstPort };
  conn.clientBy = 'port';
}

/** Appends an event, keeping the first HEAD_EVENTS and the last TAIL_EVENTS (every one with keepAll). */
function pushEvent(conn: Open, e: ConnEvent, keepAll: boolean): void {
  if (keepAll || conn.head.length < HEAD_EVENTS) {
    conn.head.push(e);
    return;
  }
  conn.tail.push(e);
  if (conn.tail.length > TAIL_EVENTS) {
    conn.tail.shift();
    conn.dropped += 1;
  }
}

/** How the body of a response is delimited (RFC 9112 §6.3), from what tshark read of its head. */
function framingOf(m: Extract<CapturedMessage, { kind: 'response' }>, method: string): BodyFraming {
  if (method === 'HEAD' || m.status === 204 || m.status === 304 || (m.status >= 100 && m.status < 200)) return { kind: 'none' };
  if (m.chunked) return { kind: 'chunked' };
  if (m.contentLength !== null) return { kind: 'length', length: m.contentLength };
  return { kind: 'close' };
}

function endpoint(side: Side): Endpoint {
  return { address: side.address, port: side.port };
}

/** Seconds → ms, to the microsecond (pcapng stamps are finer; the reports show 0.1 ms at most). */
function ms(seconds: number): number {
  return Math.round(seconds * 1_000_000) / 1000;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
