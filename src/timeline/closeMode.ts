import type { ConnEvent } from '../model/events.js';
import { isResetEvidence } from './signals.js';

/**
 * How the server ended a connection that a request was later written on:
 * - full: it closed both directions (FIN), so the late request was answered with an RST;
 * - half: it sent FIN but kept reading, so the late request was swallowed (no RST, no answer);
 * - silent-drop: nothing was sent at the idle close (no FIN), and the late request got an RST,
 *   as from a load balancer or NAT that forgot the connection.
 */
export type ServerCloseMode = 'full' | 'half' | 'silent-drop';

/** The close mode with the time of the event that shows it and the late request; null when no request followed the close. */
export function serverCloseMode(events: readonly ConnEvent[]): { readonly mode: ServerCloseMode; readonly t: number; readonly requestIndex: number } | null {
  let lastResponse: number | null = null;
  for (const e of events) if (e.kind === 'response-complete') lastResponse = e.t;
  if (lastResponse === null) return null;
  const after = lastResponse;
  const late = events.find((e): e is Extract<ConnEvent, { kind: 'request' }> => e.kind === 'request' && e.t > after);
  if (late === undefined) return null;
  const fin = events.find((e) => e.kind === 'peer-fin' && e.t <= late.t);
  const reset = events.find((e) => isResetEvidence(e) && e.t >= late.t);
  const answered = events.some((e) => e.kind === 'response-head' && e.t > late.t);
  if (fin !== undefined && reset !== undefined) return { mode: 'full', t: reset.t, requestIndex: late.index };
  if (fin !== undefined && !answered) return { mode: 'half', t: fin.t, requestIndex: late.index };
  if (fin === undefined && reset !== undefined) return { mode: 'silent-drop', t: reset.t, requestIndex: late.index };
  return null;
}
