import type { ConnEvent, H2FrameInfo } from '../model/events.js';
import type { CloseClassification } from '../model/result.js';
import { idleTimeoutOf } from './classifyClose.js';
import { idleSince, idleStart, outstandingRequest, responsesOf } from './queries.js';
import { roundMs } from '../util/duration.js';

/**
 * What an HTTP/2 connection's frames say about its end (RFC 9113 §6.8): the server's GOAWAYs,
 * the idle time before the first, the close after it, a graceful two-step drain. Asked by the
 * HTTP/2 measures; an HTTP/1 connection has no frames and every answer is null or empty.
 */

/** The last stream id a server sends in the first GOAWAY of a graceful drain: "no new streams from now on", before the real one (gRPC-Go, Envoy, HAProxy soft stop). */
export const DRAIN_LAST_STREAM_ID = 2 ** 31 - 1;

/** A GOAWAY the server sent, with where it stands in the timeline. */
export interface Goaway {
  readonly t: number;
  /** Its index in the events. */
  readonly at: number;
  readonly lastStreamId: number;
  readonly errorCode: string;
  readonly debug: string;
}

/**
 * The server's GOAWAY frames, in order, up to the client's own close or its own GOAWAY: a
 * GOAWAY that answers the client's (the probe sends one when it closes; a capture shows
 * other clients doing so before their FIN) is the server acknowledging, not deciding.
 */
export function goawaysOf(events: readonly ConnEvent[]): Goaway[] {
  const out: Goaway[] = [];
  for (const [at, e] of events.entries()) {
    if (e.kind === 'local-close' || (e.kind === 'h2-frame' && e.dir === 'out' && e.frame.type === 'GOAWAY')) break;
    if (e.kind === 'h2-frame' && e.dir === 'in' && e.frame.type === 'GOAWAY') {
      out.push({ t: e.t, at, lastStreamId: e.frame.lastStreamId ?? 0, errorCode: e.frame.errorCode ?? 'UNKNOWN', debug: e.frame.debug ?? '' });
    }
  }
  return out;
}

/**
 * The HTTP/2 idle timeout this connection shows: from its last complete response (or the
 * handshake) to the server's first GOAWAY, when no request was outstanding then; with no
 * GOAWAY, the idle time before the server's close (classifyClose). Null otherwise.
 */
export function h2IdleTimeout(events: readonly ConnEvent[], end: CloseClassification): number | null {
  const first = goawaysOf(events)[0];
  if (first === undefined) return idleTimeoutOf(end);
  if (outstandingRequest(events, first.at) !== null) return null; // a GOAWAY while busy is a cap or a drain, not idleness
  return first.t - idleSince(events, first.at);
}

/** How far h2IdleTimeout may be off, ms: the larger of how late its two ends may have been stamped; null when it is null. */
export function h2IdleTimeoutError(events: readonly ConnEvent[], end: CloseClassification): number | null {
  const first = goawaysOf(events)[0];
  if (first === undefined || h2IdleTimeout(events, end) === null) return first === undefined ? end.idleErrorMs : null;
  return roundMs(Math.max(idleStart(events, first.at).late, events[first.at]?.late ?? 0));
}

/** From the server's first GOAWAY to its close (FIN or RST), ms; null when there was no GOAWAY or the server did not close. */
export function closeAfterGoaway(events: readonly ConnEvent[], end: CloseClassification): number | null {
  return closeAfterGoawayTimed(events, end)?.ms ?? null;
}

/** closeAfterGoaway with how far it may be off: the larger lateness of the GOAWAY's stamp and the close's (ms). */
export function closeAfterGoawayTimed(events: readonly ConnEvent[], end: CloseClassification): { readonly ms: number; readonly errorMs: number } | null {
  const first = goawaysOf(events)[0];
  if (first === undefined || end.closedBy !== 'server') return null;
  const close = events.find((e, i) => i > first.at && (e.kind === 'peer-fin' || (e.kind === 'error' && e.code === 'ECONNRESET')));
  if (close === undefined) return null;
  return { ms: close.t - first.t, errorMs: roundMs(Math.max(events[first.at]?.late ?? 0, close.late ?? 0)) };
}

/** Whether the server drained in two steps: a first GOAWAY with the maximum stream id, then one with the real last stream. */
export function twoStepGoaway(events: readonly ConnEvent[]): boolean {
  const [first, ...rest] = goawaysOf(events);
  return first !== undefined && first.lastStreamId === DRAIN_LAST_STREAM_ID && rest.some((g) => g.lastStreamId < DRAIN_LAST_STREAM_ID);
}

/** The GOAWAY that decides which streams were processed: the last one (its last stream id is the lowest). */
export function finalGoaway(events: readonly ConnEvent[]): Goaway | undefined {
  return goawaysOf(events).at(-1);
}

/** Responses completed before the server's first GOAWAY (all of them when none came). */
export function responsesBeforeGoaway(events: readonly ConnEvent[]): number {
  const first = goawaysOf(events)[0];
  return responsesOf(first === undefined ? events : events.slice(0, first.at));
}

/** Responses completed on the connection in all (streams the server answered before it closed). */
export function h2Responses(events: readonly ConnEvent[]): number {
  return responsesOf(events);
}

/** A setting the server announced in its SETTINGS (the last value wins), or null when it did not send it. */
export function serverSetting(events: readonly ConnEvent[], name: string): number | null {
  let value: number | null = null;
  for (const e of events) {
    if (e.kind === 'h2-frame' && e.dir === 'in' && e.frame.settings !== null && name in e.frame.settings) value = e.frame.settings[name] ?? null;
  }
  return value;
}

/** The frames of one type, in one direction. */
export function framesOf(events: readonly ConnEvent[], dir: 'in' | 'out', type: string): { t: number; frame: H2FrameInfo }[] {
  return events.flatMap((e) => (e.kind === 'h2-frame' && e.dir === dir && e.frame.type === type ? [{ t: e.t, frame: e.frame }] : []));
}
