import { describe, expect, it } from 'vitest';
import type { ConnEvent } from '../src/model/events.js';
import { classifyClose, errorMeaning, eventMark } from '../src/timeline/classifyClose.js';
import { serverCloseMode } from '../src/timeline/closeMode.js';
import { idleBeforeLastRequest, idleSince, mayReuse, phases } from '../src/timeline/queries.js';
import { errorSignal, resetSeen } from '../src/timeline/signals.js';
import { complete, connect, error, exchanges, head, localClose, peerFin, protocolError, request, timeout } from './support/events.js';

/** The timeline layer's answers, each decided in one place (docs/architecture.md). */
describe('errorSignal: what a socket error says about the close', () => {
  it('ECONNRESET on a read is the peer reset; EPIPE or a failed write is a write after it; others are other', () => {
    expect(errorSignal(error(1, 'ECONNRESET', 'read'))).toBe('reset');
    expect(errorSignal(error(1, 'EPIPE', 'write'))).toBe('write-after-reset');
    expect(errorSignal(error(1, 'ECONNRESET', 'write'))).toBe('write-after-reset');
    expect(errorSignal(error(1, 'ETIMEDOUT', 'read'))).toBe('other');
    // Windows reports a connection an RST aborted as ECONNABORTED (WSAECONNABORTED).
    expect(errorSignal(error(1, 'ECONNABORTED', 'read'))).toBe('reset');
    expect(classifyClose([...exchanges(1), error(40, 'ECONNABORTED', 'read')])).toMatchObject({ kind: 'server-reset', signal: 'rst' });
    expect(errorSignal(peerFin(1))).toBeNull();
  });

  it('resetSeen: any ECONNRESET or EPIPE, not other errors', () => {
    expect(resetSeen([...exchanges(1), error(30, 'EPIPE', 'write')])).toBe(true);
    expect(resetSeen([...exchanges(1), error(30, 'ETIMEDOUT', 'read')])).toBe(false);
  });
});

describe('marks and words for an event, given how the connection ended', () => {
  it('the ECONNRESET that ended a connection the server reset is its RST; the same code on a write is an error', () => {
    const reset = [...exchanges(1), error(40, 'ECONNRESET', 'read')];
    const end = classifyClose(reset);
    expect(end).toMatchObject({ closedBy: 'server', signal: 'rst' });
    expect(eventMark(reset.at(-1) as ConnEvent, end)).toBe('rst');
    const epipe = [...exchanges(1), request(40, 2), error(41, 'EPIPE', 'write')];
    expect(eventMark(epipe.at(-1) as ConnEvent, classifyClose(epipe))).toBe('error');
    expect(errorMeaning(reset.at(-1) as ConnEvent)).toBe('RST from the server');
    expect(errorMeaning(epipe.at(-1) as ConnEvent)).toBe('the server had reset the connection');
    expect(errorMeaning(error(1, 'ETIMEDOUT', 'read'))).toBeNull();
  });

  it('who sent a FIN, the probe or the server, and events the lane shows otherwise', () => {
    const events = [...exchanges(1), localClose(30, 'fin', 'step')];
    const end = classifyClose(events);
    expect(eventMark(peerFin(31), end)).toBe('fin');
    expect(eventMark(localClose(30, 'rst', 'deadline'), end)).toBe('rst');
    expect(eventMark(complete(12, 1), end)).toBeNull();
  });
});

describe('queries over one connection', () => {
  it('idleSince: the last complete response before a point, else the connect', () => {
    const events = exchanges(2); // connect 0.5; responses complete at 13 and 23
    expect(idleSince(events)).toBe(23);
    expect(idleSince(events, 4)).toBe(13);
    expect(idleSince([connect(2)])).toBe(2);
  });

  it('idleBeforeLastRequest: the last gap from a response to the next request written', () => {
    expect(idleBeforeLastRequest(exchanges(3))).toBe(7.5);
    expect(idleBeforeLastRequest(exchanges(1))).toBeNull();
  });

  it('phases: busy from request to response, idle between, ending at the close', () => {
    expect(phases([...exchanges(1), peerFin(50)])).toEqual([
      { kind: 'idle', from: 0.5, to: 10.5 },
      { kind: 'busy', from: 10.5, to: 13 },
      { kind: 'idle', from: 13, to: 50 },
    ]);
  });

  it('mayReuse: open and persistent; not after a FIN, an error, a deadline, a protocol error or a non-persistent response', () => {
    expect(mayReuse([connect(0)])).toBe(true);
    expect(mayReuse(exchanges(2))).toBe(true);
    expect(mayReuse([...exchanges(1), request(20, 2), head(21, 2, false, 'close'), complete(22, 2)])).toBe(false);
    expect(mayReuse([...exchanges(1), peerFin(40)])).toBe(false);
    expect(mayReuse([...exchanges(1), error(40, 'ECONNRESET', 'read')])).toBe(false);
    expect(mayReuse([...exchanges(1), request(20, 2), timeout(30, 'first-byte', 10, 2)])).toBe(false);
    expect(mayReuse([...exchanges(1), request(20, 2), protocolError(21, 2, 'bad-status-line')])).toBe(false);
  });

  it('mayReuse reads from the end: a few events, however many exchanges came before', () => {
    let reads = 0;
    const long = new Proxy(exchanges(10_000), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads += 1;
        return Reflect.get(target, key, receiver);
      },
    });
    expect(mayReuse(long)).toBe(true);
    expect(reads).toBeLessThanOrEqual(3);
  });
});

describe('serverCloseMode: how the server ended a connection a request was written on later', () => {
  it('full: FIN first, then the late request answered with an RST', () => {
    const events = [...exchanges(1), peerFin(2000), request(2200, 2), error(2201, 'ECONNRESET', 'read')];
    expect(serverCloseMode(events)).toEqual({ mode: 'full', t: 2201, requestIndex: 2 });
  });

  it('half: FIN, then the late request neither reset nor answered', () => {
    expect(serverCloseMode([...exchanges(1), peerFin(2000), request(2200, 2)])).toMatchObject({ mode: 'half' });
  });

  it('silent drop: no FIN, the late request gets an RST', () => {
    expect(serverCloseMode([...exchanges(1), request(2200, 2), error(2201, 'ECONNRESET', 'read')])).toMatchObject({ mode: 'silent-drop' });
  });

  it('none without a request after the last response', () => {
    expect(serverCloseMode([...exchanges(1), peerFin(2000)])).toBeNull();
  });
});
