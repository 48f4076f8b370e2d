import type { ConnEvent } from '../model/events.js';
import type { ConnectionRecord } from '../model/result.js';

/**
 * Questions asked of one connection's events, each answered here once: when it last became
 * idle, how long it idled before a request, what the last response said, whether it may
 * carry another request. Renderers, measures and the close classification all ask these.
 *
 * A long connection's middle may be one `elided` event (wire/eventLog.ts): whole exchanges,
 * each answered and kept alive, so it ends idle, at its last response (`to`), and counts its
 * responses. Only questions about single exchanges in it (requestEvent, splitResponses) miss them.
 */

type EventOf<K extends ConnEvent['kind']> = Extract<ConnEvent, { kind: K }>;

/** When the connection became idle before `end` (exclusive index): its last complete response, else the connect (or TLS). */
export function idleSince(events: readonly ConnEvent[], end = events.length): number {
  return idleStart(events, end).t;
}

/** idleSince with how late its event may have been stamped (ms, 0 when exact or unknown: an elided stretch ends in an exchange kept in full after it). */
export function idleStart(events: readonly ConnEvent[], end = events.length): { readonly t: number; readonly late: number } {
  for (let i = end - 1; i >= 0; i--) {
    const e = events[i];
    if (e !== undefined && (e.kind === 'response-complete' || e.kind === 'connect' || e.kind === 'tls')) return { t: e.t, late: e.late ?? 0 };
    if (e?.kind === 'elided') return { t: e.to, late: 0 };
  }
  return { t: events[0]?.t ?? 0, late: events[0]?.late ?? 0 };
}

/** The idle time before request `index`, from the last complete response before it, ms; null when it was not written or no response preceded it. */
export function idleBeforeRequest(events: readonly ConnEvent[], index: number): number | null {
  let lastComplete: number | null = null;
  for (const e of events) {
    if (e.kind === 'response-complete') lastComplete = e.t;
    if (e.kind === 'request' && e.index === index) return lastComplete === null ? null : e.t - lastComplete;
  }
  return null;
}

/**
 * How late the response an idle time before a request starts from may have been stamped
 * (ConnEvent `late`), ms: before request `index`, or the last request when null; 0 when none.
 * The idle time ends at the request as written, which is exact.
 */
export function lateBeforeRequest(events: readonly ConnEvent[], index: number | null = null): number {
  const at = index === null ? events.findLastIndex((e) => e.kind === 'request') : events.findIndex((e) => e.kind === 'request' && e.index === index);
  return events.findLast((e, i) => i < at && e.kind === 'response-complete')?.late ?? 0;
}

/** The idle time before the last request written after a complete response, ms; null when no request followed a response. */
export function idleBeforeLastRequest(events: readonly ConnEvent[]): number | null {
  let lastComplete: number | null = null;
  let idle: number | null = null;
  for (const e of events) {
    if (e.kind === 'response-complete') lastComplete = e.t;
    if (e.kind === 'elided') {
      lastComplete = e.to;
      idle = null; // its last request followed a response; one kept after it does too
    }
    if (e.kind === 'request' && lastComplete !== null) idle = e.t - lastComplete;
  }
  return idle;
}

/** A stretch of the connection's life: a request in flight (busy), nothing outstanding (idle), or exchanges counted, not kept (elided). */
export interface Phase {
  readonly kind: 'busy' | 'idle' | 'elided';
  readonly from: number;
  readonly to: number;
}

/** The busy and idle phases from the connect to the first close event (FIN, RST, local close). */
export function phases(events: readonly ConnEvent[]): Phase[] {
  const out: Phase[] = [];
  let busySince: number | null = null;
  let idleFrom: number | null = null;
  for (const e of events) {
    if (e.kind === 'connect') idleFrom = e.t;
    if (e.kind === 'request') {
      if (idleFrom !== null) out.push({ kind: 'idle', from: idleFrom, to: e.t });
      idleFrom = null;
      busySince = e.t;
    }
    if (e.kind === 'elided') {
      if (idleFrom !== null) out.push({ kind: 'idle', from: idleFrom, to: e.t });
      out.push({ kind: 'elided', from: e.t, to: e.to });
      busySince = null;
      idleFrom = e.to;
    }
    if (e.kind === 'response-complete' && busySince !== null) {
      out.push({ kind: 'busy', from: busySince, to: e.t });
      busySince = null;
      idleFrom = e.t;
    }
    if (e.kind === 'peer-fin' || e.kind === 'local-close' || e.kind === 'error' || e.kind === 'closed') {
      if (idleFrom !== null) out.push({ kind: 'idle', from: idleFrom, to: e.t });
      idleFrom = null;
      busySince = null;
    }
  }
  return out;
}

/** The last response head, if any. */
export function lastHead(events: readonly ConnEvent[]): EventOf<'response-head'> | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e?.kind === 'response-head') return e;
  }
  return undefined;
}

/** The first response head, if any. */
export function firstHead(events: readonly ConnEvent[]): EventOf<'response-head'> | undefined {
  return events.find((e): e is EventOf<'response-head'> => e.kind === 'response-head');
}

/** Responses completed on the connection. */
export function responsesOf(events: readonly ConnEvent[]): number {
  let n = 0;
  for (const e of events) {
    if (e.kind === 'response-complete') n += 1;
    else if (e.kind === 'elided') n += e.counts.responses;
  }
  return n;
}

/** The request event with this index, if it was written and kept (not in an elided stretch). */
export function requestEvent(events: readonly ConnEvent[], index: number): EventOf<'request'> | undefined {
  return events.find((e): e is EventOf<'request'> => e.kind === 'request' && e.index === index);
}

/** A request written whose response did not complete. */
export interface Outstanding {
  readonly index: number;
  readonly t: number;
  readonly headSeen: boolean;
}

/** The last request written before `end` (exclusive index) whose response did not complete, if any. */
export function outstandingRequest(events: readonly ConnEvent[], end = events.length): Outstanding | null {
  let current: Outstanding | null = null;
  for (let i = 0; i < end; i++) {
    const e = events[i] as ConnEvent;
    if (e.kind === 'elided')
      current = null; // every request in it was answered
    else if (e.kind === 'request') current = { index: e.index, t: e.t, headSeen: false };
    else if (e.kind === 'response-head' && current !== null && current.index === e.index) current = { index: current.index, t: current.t, headSeen: true };
    else if (e.kind === 'response-complete' && current?.index === e.index) current = null;
    else if ((e.kind === 'protocol-error' || e.kind === 'timeout') && current !== null && e.index === current.index) current = null;
  }
  return current;
}

/**
 * Whether the connection may carry another request, as a client pool decides it (undici's
 * kReset, RFC 9112 §9.3): not once it has ended (FIN, RST, error, deadline, closed), not
 * after bytes that belong to no response, and not after a response that said it would not
 * persist, nor (HTTP/2) after the server's GOAWAY. Reads from the end, so its cost does not
 * grow with the requests already sent.
 */
export function mayReuse(events: readonly ConnEvent[]): boolean {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i] as ConnEvent;
    switch (e.kind) {
      case 'peer-fin':
      case 'error':
      case 'closed':
      case 'local-close':
      case 'timeout':
      case 'protocol-error':
      case 'unsolicited': // bytes that belong to no response (RFC 9112 §9.2)
      case 'request': // written and not answered
        return false;
      case 'response-head':
        return e.keepAlive;
      case 'connect':
      case 'tls':
      case 'elided': // every response in it kept the connection alive, the last one too
        return true;
      case 'h2-frame':
        // HTTP/2: no new stream after the server's GOAWAY (RFC 9113 §6.8); other frames say nothing.
        if (e.dir === 'in' && e.frame.type === 'GOAWAY') return false;
        continue;
      default:
        continue; // response-complete: look further back
    }
  }
  return true;
}

/** A response whose head and the rest of it arrived in separate reads. */
export interface SplitResponse {
  readonly index: number;
  /** Head → complete, ms. */
  readonly gapMs: number;
  /** How far gapMs may be off: the larger lateness of its two stamps (ConnEvent `late`), ms. */
  readonly errorMs: number;
  readonly bodyBytes: number;
}

/** Every response with a body on this connection, with the time from its head to its last byte (those kept: an elided stretch is counted, not timed). */
export function splitResponses(events: readonly ConnEvent[]): SplitResponse[] {
  const heads = new Map<number, EventOf<'response-head'>>();
  const out: SplitResponse[] = [];
  for (const e of events) {
    if (e.kind === 'response-head') heads.set(e.index, e);
    else if (e.kind === 'response-complete' && e.bodyBytes > 0) {
      const head = heads.get(e.index);
      if (head !== undefined) {
        out.push({ index: e.index, gapMs: e.t - head.t, errorMs: Math.max(head.late ?? 0, e.late ?? 0), bodyBytes: e.bodyBytes });
      }
    }
  }
  return out;
}

/**
 * Why these connections were never kept alive, or null when one was (or none can say): none
 * carried a second response, and a response had no framing (its body never ended), or the
 * server closed after a first response that said it would not persist (`Connection: close`,
 * or HTTP/1.0 without keep-alive).
 */
export interface NotKeptAlive {
  /** `unframed`: a body without framing never ended; `announced`: the response said the connection ends. */
  readonly cause: 'unframed' | 'announced';
  readonly reason: string;
}

export function notKeptAlive(connections: readonly ConnectionRecord[]): NotKeptAlive | null {
  if (connections.some((c) => c.end.responses > 1)) return null;
  for (const c of connections) {
    const unframed = unframedBody(c.events);
    if (unframed !== undefined) {
      return {
        cause: 'unframed',
        reason: `its response #${unframed.index} had neither Content-Length nor chunked framing, so it ends only when the server closes`,
      };
    }
    const head = firstHead(c.events);
    if (c.end.kind !== 'server-close-after-response' || c.end.responses !== 1 || head === undefined || head.keepAlive) continue;
    const said = head.connectionHeader !== null ? `"Connection: ${head.connectionHeader}"` : `HTTP/${head.version} without "Connection: keep-alive"`;
    return { cause: 'announced', reason: `its response to an HTTP/1.1 request said ${said}, and it closed the connection` };
  }
  return null;
}

/**
 * The response whose body had no framing (neither Content-Length nor chunked) and did not
 * end because the server kept the connection open past the body deadline, or undefined.
 */
export function unframedBody(events: readonly ConnEvent[]): EventOf<'response-head'> | undefined {
  return events.find(
    (e): e is EventOf<'response-head'> =>
      e.kind === 'response-head' && e.framing === 'close' && events.some((t) => t.kind === 'timeout' && t.deadline === 'body' && t.index === e.index),
  );
}
