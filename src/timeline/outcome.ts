import type { ExchangeOutcome } from '../wire/connection.js';

/** Outcomes of a request as a client experiences them. */
export type RequestOutcome = 'ok' | 'premature-close' | 'ECONNRESET' | 'EPIPE' | 'socket-error' | 'timeout' | 'truncated' | 'protocol-error' | 'not-sent';

/** Maps an exchange to what a client would report. */
export function outcomeOf(outcome: ExchangeOutcome): RequestOutcome {
  switch (outcome.kind) {
    case 'response':
      return 'ok';
    case 'socket-error':
      return outcome.code === 'EPIPE' || outcome.code === 'ECONNRESET' ? outcome.code : 'socket-error';
    default:
      return outcome.kind;
  }
}
