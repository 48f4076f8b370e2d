import { describe, expect, it } from 'vitest';
import { classifyClose } from '../src/timeline/classifyClose.js';
import type { ConnEvent } from '../src/model/events.js';
import { closed, complete, connect, error, exchanges, head, localClose, peerFin, protocolError, request, timeout } from './support/events.js';

describe('server closes with FIN', () => {
  it('an idle connection: idleMs runs from the last complete response to the FIN', () => {
    const events = [...exchanges(2), peerFin(5023), localClose(5023.25, 'fin', 'after-peer-fin'), closed(5023.5)];
    // The last response completed at 0.5 + 20 + 2.5 = 23.
    expect(classifyClose(events)).toMatchObject({
      kind: 'server-idle-close',
      closedBy: 'server',
      signal: 'fin',
      idleMs: 5023 - 23,
      responses: 2,
      evidence: [23, 5023],
    });
    expect(classifyClose(events).summary).toBe('server closed the idle connection (FIN) after 5 s');
  });

  it('a connection that never carried a request: idleMs runs from the connect', () => {
    const events = [connect(1.5), peerFin(4001.5), localClose(4002, 'fin', 'after-peer-fin'), closed(4002.5)];
    expect(classifyClose(events)).toMatchObject({
      kind: 'server-idle-close',
      closedBy: 'server',
      signal: 'fin',
      idleMs: 4000,
      responses: 0,
      evidence: [1.5, 4001.5],
    });
    expect(classifyClose(events).summary).toContain('before any request');
  });

  it('over TLS the idle time starts at the handshake, not the TCP connect', () => {
    const events: ConnEvent[] = [connect(1), { kind: 'tls', t: 9, protocol: 'TLSv1.3', alpn: 'http/1.1' }, peerFin(1009)];
    expect(classifyClose(events)).toMatchObject({ kind: 'server-idle-close', idleMs: 1000, evidence: [9, 1009] });
  });

  it('right after a response that said Connection: close', () => {
    const events = [
      connect(0.5),
      request(1, 1),
      head(3, 1, false, 'close'),
      complete(3.5, 1),
      peerFin(5),
      localClose(5.25, 'fin', 'after-peer-fin'),
      closed(5.5),
    ];
    expect(classifyClose(events)).toMatchObject({
      kind: 'server-close-after-response',
      closedBy: 'server',
      signal: 'fin',
      idleMs: 5 - 3.5,
      responses: 1,
      evidence: [3.5, 5],
    });
    expect(classifyClose(events).summary).toContain('response #1');
  });

  it('a FIN that ends a close-delimited body completes the response; it does not truncate it', () => {
    // No Content-Length: the body ran until the FIN, and parser.end() completed it after the FIN was recorded.
    const events = [
      connect(0.5),
      request(1, 1),
      head(3, 1, false),
      peerFin(40),
      complete(40.25, 1, 1234),
      localClose(40.5, 'fin', 'after-peer-fin'),
      closed(41),
    ];
    expect(classifyClose(events)).toMatchObject({
      kind: 'server-close-after-response',
      closedBy: 'server',
      signal: 'fin',
      idleMs: 0,
      responses: 1,
      evidence: [1, 40],
    });
  });

  it('premature close: FIN after a request, before any response byte', () => {
    const events = [...exchanges(1), request(3000.5, 2), peerFin(3001.25), localClose(3001.5, 'fin', 'after-peer-fin'), closed(3002)];
    const end = classifyClose(events);
    expect(end).toMatchObject({ kind: 'premature-close', closedBy: 'server', signal: 'fin', idleMs: null, responses: 1, evidence: [3000.5, 3001.25] });
    expect(end.summary).toContain('request #2');
  });

  it('truncated response: FIN in the middle of the body', () => {
    const events = [
      connect(0.5),
      request(1, 1),
      head(3, 1),
      peerFin(7),
      protocolError(7.25, 1, 'truncated-body'),
      localClose(7.5, 'fin', 'after-peer-fin'),
      closed(8),
    ];
    expect(classifyClose(events)).toMatchObject({
      kind: 'truncated-response',
      closedBy: 'server',
      signal: 'fin',
      idleMs: null,
      responses: 0,
      evidence: [1, 7],
    });
  });

  it('truncated response: FIN in the middle of the head, so no response-head was recorded', () => {
    const events = [connect(0.5), request(1, 1), peerFin(6), protocolError(6.25, 1, 'truncated-headers'), localClose(6.5, 'fin', 'after-peer-fin'), closed(7)];
    const end = classifyClose(events);
    expect(end).toMatchObject({ kind: 'truncated-response', closedBy: 'server', signal: 'fin', idleMs: null, evidence: [1, 6] });
    expect(end.summary).not.toContain('before any response byte');
  });
});

describe('server resets', () => {
  it('ECONNRESET on read while a request is outstanding', () => {
    const events = [...exchanges(1), request(100, 2), error(101.5, 'ECONNRESET', 'read'), closed(101.75)];
    expect(classifyClose(events)).toMatchObject({
      kind: 'reset-on-read',
      closedBy: 'server',
      signal: 'rst',
      idleMs: null,
      responses: 1,
      evidence: [100, 101.5],
    });
  });

  it('ECONNRESET on read in the middle of a body', () => {
    const events = [connect(0.5), request(1, 1), head(2, 1), error(9, 'ECONNRESET', 'read'), closed(9.5)];
    expect(classifyClose(events)).toMatchObject({ kind: 'reset-on-read', closedBy: 'server', signal: 'rst', evidence: [1, 9] });
  });

  it('RST while idle: idleMs runs from the last complete response to the reset', () => {
    const events = [...exchanges(3), error(2033, 'ECONNRESET', 'read'), closed(2033.5)];
    // The last response completed at 0.5 + 30 + 2.5 = 33.
    const end = classifyClose(events);
    expect(end).toMatchObject({ kind: 'server-reset', closedBy: 'server', signal: 'rst', idleMs: 2033 - 33, responses: 3, evidence: [33, 2033] });
    expect(end.summary).toBe('server reset the idle connection (RST) after 2 s');
  });

  it('EPIPE writing the next request', () => {
    const events = [...exchanges(1), request(5000, 2), error(5000.5, 'EPIPE', 'write'), closed(5001)];
    expect(classifyClose(events)).toMatchObject({ kind: 'write-epipe', closedBy: 'server', signal: 'rst', idleMs: null, responses: 1, evidence: [5000.5] });
  });

  it('ECONNRESET on write counts as a failed write too', () => {
    const events = [...exchanges(1), request(5000, 2), error(5000.5, 'ECONNRESET', 'write')];
    expect(classifyClose(events)).toMatchObject({ kind: 'write-epipe', closedBy: 'server', signal: 'rst', evidence: [5000.5] });
  });
});

describe('the probe ends it', () => {
  it('a step closes with FIN', () => {
    const events = [...exchanges(2), localClose(30, 'fin', 'step'), peerFin(30.5), closed(31)];
    const end = classifyClose(events);
    expect(end).toMatchObject({ kind: 'client-close', closedBy: 'client', signal: 'fin', idleMs: null, responses: 2, evidence: [30] });
    expect(end.summary).toBe('probe closed the connection (FIN, step)');
  });

  it('cleanup resets', () => {
    const events = [...exchanges(1), localClose(99, 'rst', 'cleanup'), closed(99.25)];
    expect(classifyClose(events)).toMatchObject({ kind: 'client-close', closedBy: 'client', signal: 'rst', responses: 1, evidence: [99] });
  });

  it('a response it cannot frame makes it reset', () => {
    const events = [connect(0.5), request(1, 1), protocolError(3, 1, 'te-cl-conflict'), localClose(3.25, 'rst', 'protocol-error'), closed(3.5)];
    expect(classifyClose(events)).toMatchObject({ kind: 'client-close', closedBy: 'client', signal: 'rst', responses: 0, evidence: [3.25] });
  });

  it('a deadline expires', () => {
    const events = [...exchanges(1), request(50, 2), timeout(2050, 'first-byte', 2000, 2), localClose(2050.25, 'rst', 'deadline'), closed(2050.5)];
    const end = classifyClose(events);
    expect(end).toMatchObject({ kind: 'timeout', closedBy: 'client', signal: 'rst', idleMs: null, responses: 1, evidence: [2050] });
    expect(end.summary).toBe('probe gave up: first-byte deadline of 2 s expired');
  });

  it('the connect deadline expires before any connect event', () => {
    const events = [timeout(3000, 'connect', 3000, null), closed(3000.5)];
    expect(classifyClose(events)).toMatchObject({ kind: 'timeout', closedBy: 'client', responses: 0, evidence: [3000] });
  });
});

describe('still open', () => {
  it('no FIN, error, close or deadline yet', () => {
    expect(classifyClose(exchanges(2))).toEqual({
      kind: 'open',
      closedBy: 'none',
      signal: null,
      idleMs: null,
      idleErrorMs: null,
      responses: 2,
      summary: 'still open',
      evidence: [],
    });
    expect(classifyClose([])).toMatchObject({ kind: 'open', responses: 0, evidence: [] });
  });
});
