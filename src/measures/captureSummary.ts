import type { CapturePeerSummary, CloseSignal, ConnectionRecord, TimeWaitFinding } from '../model/result.js';
import { CAPTURE_PEERS_MAX } from '../model/result.js';
import { classifyClose, idleTimeoutOf } from '../timeline/classifyClose.js';
import { lastHead, requestEvent } from '../timeline/queries.js';
import { resetSeen } from '../timeline/signals.js';
import { timeWaitFromCapture } from '../timeline/timeWait.js';
import { tokenize } from '../http/persistence.js';
import type { CapturedConnection, StaleRequest } from '../wire/captureTimeline.js';
import { framesOf, goawaysOf, serverSetting } from '../timeline/h2.js';
import { measureH2 } from './h2Metrics.js';
import type { H2MeasureName } from './h2Metrics.js';
import { closesImmediately } from './race.js';
import { medianOf } from './metrics.js';
import type { Trace } from './metrics.js';

/**
 * The connections of a capture, judged one by one as they close (the timeline's own
 * classifyClose and TIME_WAIT rule) and folded into counts, so memory does not grow with the
 * capture: every number here is exact over all connections, while whole event lists are kept
 * for a bounded few (the first ones, and the first of each kind worth showing).
 */

/** What kind of evidence a kept connection is for; a scenario shows the connections of its kinds. */
export type KeptKind = 'first' | 'idle-close' | 'cap' | 'stale' | 'reset' | 'asks-close' | 'reused' | 'client-close' | 'tls' | 'h2-idle' | 'h2-cap' | 'h2-lost';

/** A connection whose events are kept, with why. */
export interface KeptConnection {
  readonly record: ConnectionRecord;
  readonly kinds: readonly KeptKind[];
  readonly stale: readonly StaleRequest[];
}

/** How a connection's keep-alive ended at a request cap. */
interface CapClose {
  readonly requests: number;
  readonly announced: boolean;
  readonly signal: CloseSignal | null;
}

/** Connections kept whole at the start of the capture. */
const KEEP_FIRST = 5;
/** Connections kept whole per kind. */
const KEEP_PER_KIND = 5;
/** Idle close samples kept for min/median/max (the min and max stay exact beyond it). */
const SAMPLES_MAX = 1_000_000;
/** Answered reuses and stale requests kept for the race window. */
const TRIALS_MAX = 2000;

/** A request on a reused connection, for the race window: answered, or stale (see StaleRequest). */
export interface CaptureTrial {
  readonly connection: string;
  readonly idleMs: number;
  readonly closeSeenBeforeWrite: boolean;
  readonly outcome: 'ok' | 'ECONNRESET' | 'premature-close';
}

/** How an HTTP/2 connection's keep-alive ended at a stream cap (h2Metrics' h2StreamsBeforeGoaway, goawaySignalled). */
interface H2CapClose {
  readonly streams: number;
  readonly signalled: boolean;
  readonly errorCode: string | null;
  readonly signal: CloseSignal | null;
}

/** What the HTTP/2 connections of a capture showed, counted over all of them. */
export class H2CaptureCounts {
  connections = 0;
  streams = 0;
  readonly idleSamples: number[] = [];
  idleCount = 0;
  idleMin: number | null = null;
  idleMax: number | null = null;
  /** Over the idle closes: the first GOAWAY's error code and debug data, two-step or not, who closed, FIN or RST (counts by value). */
  readonly idleCodes = new Map<string, number>();
  readonly idleDebugs = new Map<string, number>();
  readonly idleTwoStep = new Map<string, number>();
  readonly idleClosedBy = new Map<string, number>();
  readonly idleSignals = { fin: 0, rst: 0 };
  readonly closeAfterGoaway: number[] = [];
  /** Idle closes without any GOAWAY. */
  idleWithoutGoaway = 0;
  readonly caps: H2CapClose[] = [];
  capCount = 0;
  maxConcurrentStreams: number | null = null;
  streamsRefused = 0;
  streamsAboveLastStreamId = 0;
  streamsLost = 0;
  lostConnections = 0;
}

/** No trace: a capture has no probe steps; the HTTP/2 measures read only the connection's events. */
const NO_TRACE: Trace = { connections: [], exchanges: [], race: null, repeats: [], pings: [] };

/** Folds connections into the capture's summary. */
export class CaptureSummary {
  connections = 0;
  httpConnections = 0;
  tlsHidden = 0;
  requests = 0;
  reusedRequests = 0;
  reusedConnections = 0;
  readonly idleSamples: number[] = [];
  idleCloseCount = 0;
  idleCloseMin: number | null = null;
  idleCloseMax: number | null = null;
  readonly idleCloseSignals = { fin: 0, rst: 0 };
  readonly idleCloseTimeWait = new Map<TimeWaitFinding['side'], number>();
  readonly timeWait = new Map<TimeWaitFinding['side'], number>();
  readonly caps: CapClose[] = [];
  readonly capSignals = { fin: 0, rst: 0 };
  readonly capTimeWait = new Map<TimeWaitFinding['side'], number>();
  capCount = 0;
  staleRequests = 0;
  readonly staleAnswers = { rst: 0, response: 0, nothing: 0 };
  serverResets = 0;
  clientClosedFirst = 0;
  clientClosedFirstTimeWaitClient = 0;
  clientClosedFirstTimeWaitServer = 0;
  asksClose = 0;
  asksCloseTimeWaitClient = 0;
  asksCloseTimeWaitServer = 0;
  readonly trials: CaptureTrial[] = [];
  /** The first Keep-Alive header on a persistent response, and the first Server header. */
  keepAliveHeader: string | null = null;
  serverHeader: string | null = null;
  readonly kept: KeptConnection[] = [];
  readonly h2 = new H2CaptureCounts();
  private readonly keptPerKind = new Map<KeptKind, number>();
  private readonly peers = new Map<string, PeerCounts>();
  /** Server endpoints by connections, to name the capture's main target. */
  readonly servers = new Map<string, { address: string; port: number; connections: number; tls: boolean }>();

  /** One connection as it closed (or as the capture ended). */
  add(c: CapturedConnection): void {
    this.connections += 1;
    const end = classifyClose(c.events);
    const record: ConnectionRecord = {
      id: c.id,
      local: c.client,
      remote: c.server,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      events: c.events,
      // The events of a long connection are cut in the middle: its count of responses is the capture's.
      end: { ...end, responses: c.responses },
      timeWait: timeWaitFromCapture(true, end, resetSeen(c.events)),
    };
    const serverKey = `${bracket(c.server.address)}:${c.server.port}`;
    const server = this.servers.get(serverKey) ?? { address: c.server.address, port: c.server.port, connections: 0, tls: false };
    server.connections += 1;
    server.tls ||= c.tls;
    this.servers.set(serverKey, server);
    if (c.tlsHidden) this.tlsHidden += 1;
    this.serverHeader ??= c.serverHeader;
    bump(this.timeWait, record.timeWait.side);
    const kinds: KeptKind[] = [];
    if (this.connections <= KEEP_FIRST) kinds.push('first');
    // HTTP/2 is judged by its frames (timeline/h2.ts); the HTTP/1 counts below are HTTP/1's.
    const http1 = !c.http2;
    let h2Idle: number | null = null;
    if (c.http2) {
      const h2 = this.addH2(c, record);
      kinds.push(...h2.kinds);
      h2Idle = h2.idle;
    }
    if (http1 && c.requests > 0) this.httpConnections += 1;
    if (http1) {
      this.keepAliveHeader ??= firstKeepAlive(c);
      this.requests += c.requests;
      this.reusedRequests += Math.max(0, c.requests - 1);
      if (c.requests > 1) this.reusedConnections += 1;
    }
    if (c.tlsHidden) kinds.push('tls');
    if (http1 && c.requests > 1) kinds.push('reused');
    const idle = http1 ? idleTimeoutOf(record.end) : null;
    // A close right after a response is a cap (one the server did not announce), not an idle timeout.
    // Without its HTTP layer (TLS without keys) a connection shows no response ends: TCP verdicts only.
    const cap = c.tlsHidden || !http1 ? null : capClose(record, c);
    if (cap !== null) {
      this.capCount += 1;
      if (this.caps.length < SAMPLES_MAX) this.caps.push(cap);
      if (cap.signal !== null) this.capSignals[cap.signal] += 1;
      bump(this.capTimeWait, record.timeWait.side);
      kinds.push('cap');
    } else if (idle !== null && !c.tlsHidden) {
      this.idleCloseCount += 1;
      this.idleCloseMin = Math.min(this.idleCloseMin ?? idle, idle);
      this.idleCloseMax = Math.max(this.idleCloseMax ?? idle, idle);
      if (this.idleSamples.length < SAMPLES_MAX) this.idleSamples.push(idle);
      if (record.end.signal !== null) this.idleCloseSignals[record.end.signal] += 1;
      bump(this.idleCloseTimeWait, record.timeWait.side);
      kinds.push('idle-close');
    }
    if (record.end.kind === 'server-reset') this.serverResets += 1;
    if (record.end.signal === 'rst' && record.end.closedBy === 'server') kinds.push('reset');
    if (record.end.closedBy === 'client') {
      this.clientClosedFirst += 1;
      if (record.timeWait.side === 'client') this.clientClosedFirstTimeWaitClient += 1;
      if (record.timeWait.side === 'server') this.clientClosedFirstTimeWaitServer += 1;
      kinds.push('client-close');
    }
    if (asksClose(record)) {
      this.asksClose += 1;
      if (record.timeWait.side === 'client') this.asksCloseTimeWaitClient += 1;
      if (record.timeWait.side === 'server') this.asksCloseTimeWaitServer += 1;
      kinds.push('asks-close');
    }
    this.staleRequests += c.stale.length;
    for (const s of c.stale) this.staleAnswers[s.answer] += 1;
    if (c.stale.length > 0) kinds.push('stale');
    if (http1) this.addTrials(c);
    this.addPeer(c, record, c.http2 ? h2Idle : cap === null && !c.tlsHidden ? idle : null);
    this.keep(record, kinds, c.stale);
  }

  /**
   * One HTTP/2 connection, judged by the measures `run` uses on its own (measures/h2Metrics.ts,
   * timeline/h2.ts): an idle close (the first GOAWAY, or the close when none came, after an
   * idle time no request was outstanding in, and not at once after a response), else a cap
   * (a GOAWAY or the server's close after the streams it served). Returns the kinds to keep
   * it for, and its idle time when it was an idle close.
   */
  private addH2(c: CapturedConnection, record: ConnectionRecord): { kinds: KeptKind[]; idle: number | null } {
    const h2 = this.h2;
    const measure = (name: H2MeasureName) =>
      measureH2(name, record, NO_TRACE, null, { maxIdleMs: Number.POSITIVE_INFINITY, maxRequests: Number.POSITIVE_INFINITY }).value;
    const kinds: KeptKind[] = [];
    h2.connections += 1;
    h2.streams += c.requests;
    h2.maxConcurrentStreams ??= serverSetting(record.events, 'MAX_CONCURRENT_STREAMS');
    h2.streamsRefused += c.h2Streams.refused;
    h2.streamsAboveLastStreamId += c.h2Streams.aboveLastStreamId;
    h2.streamsLost += c.h2Streams.lost;
    if (c.h2Streams.lost > 0) {
      h2.lostConnections += 1;
      kinds.push('h2-lost');
    }
    const goaways = goawaysOf(record.events);
    // The client said GOAWAY first (as it closes): the server's close that follows answers it.
    if (goaways.length === 0 && framesOf(record.events, 'out', 'GOAWAY').length > 0) return { kinds, idle: null };
    const idle = measure('h2IdleBeforeGoaway');
    if (typeof idle === 'number' && !closesImmediately(idle)) {
      h2.idleCount += 1;
      h2.idleMin = Math.min(h2.idleMin ?? idle, idle);
      h2.idleMax = Math.max(h2.idleMax ?? idle, idle);
      if (h2.idleSamples.length < SAMPLES_MAX) h2.idleSamples.push(idle);
      if (goaways.length === 0) h2.idleWithoutGoaway += 1;
      else {
        bump(h2.idleCodes, String(measure('goawayErrorCode')));
        bump(h2.idleDebugs, String(measure('goawayDebug')));
        bump(h2.idleTwoStep, String(measure('twoStepGoaway')));
      }
      const after = measure('closeAfterGoaway');
      if (typeof after === 'number' && h2.closeAfterGoaway.length < SAMPLES_MAX) h2.closeAfterGoaway.push(after);
      if (record.end.closedBy !== null) bump(h2.idleClosedBy, record.end.closedBy);
      if (record.end.closedBy === 'server' && record.end.signal !== null) h2.idleSignals[record.end.signal] += 1;
      kinds.push('h2-idle');
      return { kinds, idle };
    }
    if (c.responses > 0 && (goaways.length > 0 || record.end.closedBy === 'server')) {
      const streams = measure('h2StreamsBeforeGoaway');
      if (typeof streams === 'number') {
        h2.capCount += 1;
        const code = measure('goawayErrorCode');
        const signal = record.end.closedBy === 'server' ? record.end.signal : null;
        if (h2.caps.length < SAMPLES_MAX)
          h2.caps.push({ streams, signalled: measure('goawaySignalled') === true, errorCode: typeof code === 'string' ? code : null, signal });
        kinds.push('h2-cap');
      }
    }
    return { kinds, idle: null };
  }

  /** The idle closes' median; null for none. */
  idleMedian(): number | null {
    return medianOf([...this.idleSamples].sort((a, b) => a - b));
  }

  /** The per-client rows, largest first. */
  peerRows(): CapturePeerSummary[] {
    return [...this.peers.values()]
      .map((p) => ({
        client: p.client,
        server: p.server,
        connections: p.connections,
        requests: p.requests,
        reusedRequests: p.reusedRequests,
        serverIdleCloses: p.idle.length,
        idleCloseMinMs: p.idle.length === 0 ? null : Math.min(...p.idle),
        idleCloseMedianMs: medianOf([...p.idle].sort((a, b) => a - b)),
        idleCloseMaxMs: p.idle.length === 0 ? null : Math.max(...p.idle),
        serverClosedFirst: p.serverClosedFirst,
        clientClosedFirst: p.clientClosedFirst,
        resets: p.resets,
        staleRequests: p.stale.rst + p.stale.response + p.stale.nothing,
        staleAnsweredByRst: p.stale.rst,
        staleUnanswered: p.stale.nothing,
        staleAnswered: p.stale.response,
      }))
      .sort((a, b) => b.connections - a.connections);
  }

  private addTrials(c: CapturedConnection): void {
    for (const s of c.stale) {
      if (this.trials.length >= TRIALS_MAX) return;
      this.trials.push({ connection: c.id, idleMs: s.idleMs, closeSeenBeforeWrite: s.afterFin, outcome: staleOutcome(s) });
    }
    for (const r of c.reuses) {
      if (this.trials.length >= TRIALS_MAX) return;
      this.trials.push({ connection: c.id, idleMs: r.idleMs, closeSeenBeforeWrite: false, outcome: 'ok' });
    }
  }

  private addPeer(c: CapturedConnection, record: ConnectionRecord, idle: number | null): void {
    const server = `${bracket(c.server.address)}:${c.server.port}`;
    let key = `${c.client.address} ${server}`;
    if (!this.peers.has(key) && this.peers.size >= CAPTURE_PEERS_MAX - 1) key = '*';
    let p = this.peers.get(key);
    if (p === undefined) {
      p = newPeer(key === '*' ? '*' : c.client.address, key === '*' ? '*' : server);
      this.peers.set(key, p);
    }
    p.connections += 1;
    p.requests += c.requests;
    p.reusedRequests += Math.max(0, c.requests - 1);
    if (idle !== null && p.idle.length < 10_000) p.idle.push(idle);
    if (record.end.closedBy === 'server') p.serverClosedFirst += 1;
    if (record.end.closedBy === 'client') p.clientClosedFirst += 1;
    if (record.end.signal === 'rst') p.resets += 1;
    for (const s of c.stale) p.stale[s.answer] += 1;
  }

  private keep(record: ConnectionRecord, kinds: readonly KeptKind[], stale: readonly StaleRequest[]): void {
    const wanted = kinds.filter((k) => (this.keptPerKind.get(k) ?? 0) < (k === 'first' ? KEEP_FIRST : KEEP_PER_KIND));
    if (wanted.length === 0) return;
    for (const k of wanted) this.keptPerKind.set(k, (this.keptPerKind.get(k) ?? 0) + 1);
    this.kept.push({ record, kinds, stale });
  }
}

interface PeerCounts {
  readonly client: string;
  readonly server: string;
  connections: number;
  requests: number;
  reusedRequests: number;
  readonly idle: number[];
  serverClosedFirst: number;
  clientClosedFirst: number;
  resets: number;
  readonly stale: { rst: number; response: number; nothing: number };
}

function newPeer(client: string, server: string): PeerCounts {
  return {
    client,
    server,
    connections: 0,
    requests: 0,
    reusedRequests: 0,
    idle: [],
    serverClosedFirst: 0,
    clientClosedFirst: 0,
    resets: 0,
    stale: { rst: 0, response: 0, nothing: 0 },
  };
}

/**
 * Keep-alive ended at a cap: the server said `Connection: close` on a response to a request
 * that did not ask for it, or closed right after a response that announced keep-alive
 * (closesImmediately). Not a close-delimited body, not HTTP/1.0 without keep-alive. The
 * close's signal only when the server closed first.
 */
function capClose(record: ConnectionRecord, c: CapturedConnection): CapClose | null {
  const head = lastHead(record.events);
  if (head === undefined) return null;
  const request = requestEvent(record.events, head.index);
  const asked = tokenize(request?.connection ?? null);
  if (asked.includes('close')) return null;
  // An HTTP/1.0 request without "Connection: keep-alive" asks for the close itself (RFC 9112
  // §9.3): the client's choice, not the server's cap.
  if (request?.version === '1.0' && !asked.includes('keep-alive')) return null;
  const signal = record.end.closedBy === 'server' ? record.end.signal : null;
  // Announced: the cap is where keep-alive ended, whoever then closed first (a client such as
  // curl closes at once on "Connection: close"), as the request-cap measure reads it
  // (closeSignalled: the last response does not persist). Besides "Connection: close", an
  // HTTP/1.0 response without "Connection: keep-alive" says so (RFC 9112 §9.3; Python's
  // http.server with protocol_version HTTP/1.0), and so does a body delimited by the close.
  if (!head.keepAlive) return { requests: c.responses, announced: true, signal };
  const idle = idleTimeoutOf(record.end);
  if (head.keepAlive && idle !== null && closesImmediately(idle) && c.responses > 0) return { requests: c.responses, announced: false, signal };
  return null;
}

/**
 * What a client that reads after its stale request gets, in run's words (timeline/outcome.ts),
 * so that run and analyze of its capture say the same: a response is ok. After the server's
 * FIN a read returns end of stream even once an RST has answered the request (Linux checks
 * SOCK_DONE, set by the FIN, before the RST's sk_err: net/ipv4/tcp.c, tcp_recvmsg_locked), so
 * premature-close, as the probe's own socket reports it; the RST shows in staleAnsweredByRst
 * and serverClose full. With no FIN before it (a silent drop) the RST is the read's error:
 * ECONNRESET. No answer at all: premature-close.
 */
export function staleOutcome(s: StaleRequest): CaptureTrial['outcome'] {
  if (s.answer === 'response') return 'ok';
  return s.answer === 'rst' && !s.afterFin ? 'ECONNRESET' : 'premature-close';
}

/** The client asked for the close: a request said `Connection: close`. */
function asksClose(record: ConnectionRecord): boolean {
  return record.events.some((e) => e.kind === 'request' && tokenize(e.connection).includes('close'));
}

function firstKeepAlive(c: CapturedConnection): string | null {
  for (const e of c.events) if (e.kind === 'response-head' && e.keepAlive && e.keepAliveHeader !== null) return e.keepAliveHeader;
  return null;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** An IPv6 address in brackets before a port. */
export function bracket(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
