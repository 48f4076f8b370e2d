import type { ConnEvent } from '../model/events.js';

/**
 * What a socket error event says about the close, decided here only: ECONNRESET is the
 * peer's RST arriving; EPIPE (or any failed write) is a write refused because the peer had
 * already reset the connection (Linux: tcp_reset() in CLOSE_WAIT sets EPIPE, net/ipv4/tcp_input.c).
 * The probe's own RST never produces an error event. Anything else is some other socket error.
 */
export type ErrorSignal = 'reset' | 'write-after-reset' | 'other';

/** The signal of an error event; null for events that are not socket errors. */
export function errorSignal(e: ConnEvent): ErrorSignal | null {
  if (e.kind !== 'error') return null;
  if (e.code === 'EPIPE' || e.syscall === 'write') return 'write-after-reset';
  // ECONNABORTED: how Windows reports a connection the peer's RST aborted (WSAECONNABORTED).
  if (e.code === 'ECONNRESET' || e.code === 'ECONNABORTED') return 'reset';
  return 'other';
}

/** True for an error event caused by the peer's RST: ECONNRESET on a read or write, or EPIPE on a write after it. */
export function isResetEvidence(e: ConnEvent): boolean {
  return e.kind === 'error' && (e.code === 'ECONNRESET' || e.code === 'ECONNABORTED' || e.code === 'EPIPE');
}

/** True when the peer reset the connection at any point. */
export function resetSeen(events: readonly ConnEvent[]): boolean {
  return events.some(isResetEvidence);
}
