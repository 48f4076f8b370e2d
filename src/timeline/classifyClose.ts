import type { CloseClassification, CloseKind, CloseSignal, Closer } from '../model/result.js';
import type { ConnEvent } from '../model/events.js';
import { formatDuration, roundMs } from '../util/duration.js';
import { idleStart, lastHead, outstandingRequest, responsesOf } from './queries.js';
import type { Outstanding } from './queries.js';
import { errorSignal } from './signals.js';

type EndEvent = Extract<ConnEvent, { kind: 'peer-fin' | 'error' | 'local-close' | 'timeout' | 'closed' }>;

/**
 * Works out how a connection ended from its events alone: the first of peer FIN, socket
 * error, local close or deadline decides who closed first; what was outstanding at that
 * moment (a request without a complete response, a half-read response) decides the kind.
 */
export function classifyClose(events: readonly ConnEvent[]): CloseClassification {
  const responses = responsesOf(events);
  const first = events.find(isEndEvent);
  if (first === undefined) {
    return { kind: 'open', closedBy: 'none', signal: null, idleMs: null, idleErrorMs: null, responses, summary: 'still open', evidence: [] };
  }
  const at = events.indexOf(first);
  const before = events.slice(0, at);
  const outstanding = outstandingRequest(events, at);
  const idle = idleStart(events, at);

  switch (first.kind) {
    case 'local-close':
      return result(
        'client-close',
        'client',
        first.how,
        null,
        responses,
        [first.t],
        // A capture's client closed for reasons the wire does not show.
        first.reason === 'observed'
          ? `the client closed the connection (${first.how.toUpperCase()})`
          : `probe closed the connection (${first.how.toUpperCase()}, ${first.reason})`,
      );
    case 'timeout':
      return result(
        'timeout',
        'client',
        'rst',
        null,
        responses,
        [first.t],
        `probe gave up: ${first.deadline} deadline of ${formatDuration(first.limitMs)} expired`,
      );
    case 'closed':
      return result('open', 'none', null, null, responses, [first.t], 'socket closed without FIN or error');
    case 'error':
      return classifyError(first, outstanding, idle, responses);
    case 'peer-fin':
      return classifyFin(first, before, events.slice(events.indexOf(first) + 1), outstanding, idle, responses);
  }
}

function classifyFin(
  fin: Extract<ConnEvent, { kind: 'peer-fin' }>,
  before: readonly ConnEvent[],
  after: readonly ConnEvent[],
  outstanding: Outstanding | null,
  idle: IdleStart,
  responses: number,
): CloseClassification {
  const lastActivity = idle.t;
  if (outstanding !== null) {
    // connection.ts records what the parser made of the FIN after the FIN itself: the end of a
    // close-delimited body (RFC 9112 §6.3 rule 8), or a truncated head or body.
    const verdict = after.find((e) => (e.kind === 'response-complete' || e.kind === 'protocol-error') && e.index === outstanding.index);
    if (verdict?.kind === 'response-complete') {
      return result(
        'server-close-after-response',
        'server',
        'fin',
        0,
        responses,
        [outstanding.t, fin.t],
        `server closed (FIN) to end response #${outstanding.index}, whose body ran until the close`,
      );
    }
    if (outstanding.headSeen || verdict?.kind === 'protocol-error') {
      return result(
        'truncated-response',
        'server',
        'fin',
        null,
        responses,
        [outstanding.t, fin.t],
        `server closed (FIN) in the middle of response #${outstanding.index}`,
      );
    }
    return result(
      'premature-close',
      'server',
      'fin',
      null,
      responses,
      [outstanding.t, fin.t],
      `server closed (FIN) ${formatDuration(fin.t - outstanding.t)} after request #${outstanding.index} was sent, before any response byte`,
    );
  }
  const idleMs = roundMs(fin.t - lastActivity);
  const head = lastHead(before);
  if (head !== undefined && !head.keepAlive) {
    return result(
      'server-close-after-response',
      'server',
      'fin',
      idleMs,
      responses,
      [lastActivity, fin.t],
      `server closed (FIN) after response #${head.index}, which said the connection would not persist`,
      idleError(idle, fin),
    );
  }
  const what = responses === 0 ? 'connection before any request' : 'idle connection';
  return result(
    'server-idle-close',
    'server',
    'fin',
    idleMs,
    responses,
    [lastActivity, fin.t],
    `server closed the ${what} (FIN) after ${formatDuration(idleMs)}`,
    idleError(idle, fin),
  );
}

function classifyError(error: Extract<ConnEvent, { kind: 'error' }>, outstanding: Outstanding | null, idle: IdleStart, responses: number): CloseClassification {
  const lastActivity = idle.t;
  const signal = errorSignal(error);
  if (signal === 'write-after-reset') {
    return result('write-epipe', 'server', 'rst', null, responses, [error.t], `writing failed with ${error.code}: the server had already reset the connection`);
  }
  if (signal === 'reset') {
    if (outstanding !== null) {
      return result(
        'reset-on-read',
        'server',
        'rst',
        null,
        responses,
        [outstanding.t, error.t],
        `server reset the connection (RST, ECONNRESET on ${error.syscall ?? 'read'}) while request #${outstanding.index} was outstanding`,
      );
    }
    const idleMs = roundMs(error.t - lastActivity);
    return result(
      'server-reset',
      'server',
      'rst',
      idleMs,
      responses,
      [lastActivity, error.t],
      `server reset the idle connection (RST) after ${formatDuration(idleMs)}`,
      idleError(idle, error),
    );
  }
  return result('open', 'none', null, null, responses, [error.t], `socket error ${error.code}${error.syscall ? ` on ${error.syscall}` : ''}`);
}

function isEndEvent(e: ConnEvent): e is EndEvent {
  return e.kind === 'peer-fin' || e.kind === 'error' || e.kind === 'local-close' || e.kind === 'timeout' || e.kind === 'closed';
}

function result(
  kind: CloseKind,
  closedBy: Closer,
  signal: CloseSignal | null,
  idleMs: number | null,
  responses: number,
  evidence: readonly number[],
  summary: string,
  idleErrorMs = 0,
): CloseClassification {
  return { kind, closedBy, signal, idleMs, idleErrorMs: idleMs === null ? null : idleErrorMs, responses, summary, evidence };
}

type IdleStart = ReturnType<typeof idleStart>;

/** How far an idle time from `idle` to `end` may be off: either end may have been stamped late by its `late` (wire/clock.ts). */
function idleError(idle: IdleStart, end: ConnEvent): number {
  return roundMs(Math.max(idle.late, end.late ?? 0));
}

/** The idle timeout a close shows: the idle time before the server closed (FIN or RST) an idle connection; null for any other end. */
export function idleTimeoutOf(end: CloseClassification): number | null {
  return end.kind === 'server-idle-close' || end.kind === 'server-reset' ? end.idleMs : null;
}

/** What a reader sees of one event on a lane: who sent which close, an error, or nothing of note. */
export type EventMark = 'connect' | 'request' | 'response' | 'fin' | 'rst' | 'error' | 'timeout' | 'unsolicited' | 'goaway';

/**
 * The mark an event stands for, given how the connection ended: the ECONNRESET that ended a
 * connection the server reset is that RST (one event, one mark); any other error is an error.
 * Null for events the lane already shows otherwise (tls, response-complete, closed).
 */
export function eventMark(e: ConnEvent, end: CloseClassification): EventMark | null {
  switch (e.kind) {
    case 'connect':
      return 'connect';
    case 'request':
      return 'request';
    case 'response-head':
      return 'response';
    case 'peer-fin':
      return 'fin';
    case 'local-close':
      return e.how === 'rst' ? 'rst' : 'fin';
    case 'error':
      return errorSignal(e) === 'reset' && end.signal === 'rst' && end.closedBy === 'server' ? 'rst' : 'error';
    case 'protocol-error':
      return 'error';
    case 'timeout':
      return 'timeout';
    case 'unsolicited':
      return 'unsolicited';
    case 'h2-frame':
      // HTTP/2: the server's GOAWAY is the close's announcement; other frames the lane does not mark.
      return e.dir === 'in' && e.frame.type === 'GOAWAY' ? 'goaway' : null;
    default:
      return null;
  }
}

/** In a few words, what an error event means on the wire ("RST from the server"), or null when it does not say. */
export function errorMeaning(e: ConnEvent): string | null {
  switch (errorSignal(e)) {
    case 'reset':
      return 'RST from the server';
    case 'write-after-reset':
      return 'the server had reset the connection';
    default:
      return null;
  }
}
