import type { ConnEvent, DeadlineName, LocalCloseReason } from '../../src/model/events.js';

// Timelines as src/wire/connection.ts records them. Its order matters: on the peer's FIN it
// pushes `peer-fin` first, then whatever parser.end() concludes (a `response-complete` for a
// close-delimited body, or a `protocol-error` for a truncated response), then its own
// `local-close` (fin, after-peer-fin) and finally `closed`.

const local = { address: '127.0.0.1', port: 50432 };
const remote = { address: '127.0.0.1', port: 8080 };

export const connect = (t: number): ConnEvent => ({ kind: 'connect', t, local, remote });
export const request = (t: number, index: number, connection: string | null = null): ConnEvent => ({
  kind: 'request',
  t,
  index,
  method: 'GET',
  path: '/',
  version: '1.1',
  connection,
  bytes: 58,
});
export const head = (t: number, index: number, keepAlive = true, connectionHeader: string | null = null): ConnEvent => ({
  kind: 'response-head',
  t,
  index,
  status: 200,
  version: '1.1',
  keepAlive,
  connectionHeader,
  keepAliveHeader: null,
  informational: [],
  framing: 'length',
});
export const complete = (t: number, index: number, bodyBytes = 2): ConnEvent => ({ kind: 'response-complete', t, index, bodyBytes });
export const peerFin = (t: number): ConnEvent => ({ kind: 'peer-fin', t });
export const error = (t: number, code: string, syscall: string | null): ConnEvent => ({
  kind: 'error',
  t,
  code,
  syscall,
  message: `${syscall ?? 'socket'} ${code}`,
});
export const protocolError = (t: number, index: number, code: string): ConnEvent => ({ kind: 'protocol-error', t, index, code, message: code });
export const timeout = (t: number, deadline: DeadlineName, limitMs: number, index: number | null): ConnEvent => ({
  kind: 'timeout',
  t,
  deadline,
  limitMs,
  index,
});
export const localClose = (t: number, how: 'fin' | 'rst', reason: LocalCloseReason): ConnEvent => ({ kind: 'local-close', t, how, reason });
export const closed = (t: number): ConnEvent => ({ kind: 'closed', t });

/** connect, then `n` keep-alive exchanges 10 ms apart, each 2.5 ms long. */
export function exchanges(n: number, start = 0.5): ConnEvent[] {
  const events: ConnEvent[] = [connect(start)];
  for (let i = 1; i <= n; i++) {
    const t = start + 10 * i;
    events.push(request(t, i), head(t + 2, i), complete(t + 2.5, i));
  }
  return events;
}
