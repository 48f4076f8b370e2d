import type { RecordedOutcome } from '../wire/connection.js';

/** Outcomes of a request as a client experiences them. */
export type RequestOutcome =
  | 'ok'
  /** HTTP/2 race trials: a response (what `ok` is over HTTP/1), named as RFC 9113 drains are discussed: answered, refused, above the last stream, lost. */
  | 'answered'
  | 'premature-close'
  | 'ECONNRESET'
  | 'EPIPE'
  | 'socket-error'
  | 'timeout'
  | 'truncated'
  | 'protocol-error'
  | 'not-sent'
  /** HTTP/2: RST_STREAM REFUSED_STREAM: not processed, safe to retry (RFC 9113 §8.7). */
  | 'refused-stream'
  /** HTTP/2: RST_STREAM with another code. */
  | 'rst-stream'
  /** HTTP/2: above a GOAWAY's last stream id: not processed, safe to retry (RFC 9113 §6.8). */
  | 'above-last-stream-id'
  /** HTTP/2: the connection ended under the stream with no GOAWAY covering it: unsafe to retry blindly. */
  | 'connection-lost';

/** Whether an outcome is a response (`ok`, or `answered` over HTTP/2). */
export function isAnswered(outcome: string): boolean {
  return outcome === 'ok' || outcome === 'answered';
}

/** Maps an exchange to what a client would report. */
export function outcomeOf(outcome: RecordedOutcome): RequestOutcome {
  switch (outcome.kind) {
    case 'response':
      return 'ok';
    case 'socket-error':
      return outcome.code === 'EPIPE' || outcome.code === 'ECONNRESET' ? outcome.code : 'socket-error';
    case 'stream-reset':
      return outcome.errorCode === 'REFUSED_STREAM' ? 'refused-stream' : 'rst-stream';
    case 'goaway-refused':
      return 'above-last-stream-id';
    case 'connection-lost':
      return 'connection-lost';
    default:
      return outcome.kind;
  }
}
