import { formatDuration } from '../util/duration.js';
import type { ExchangeOutcome } from '../wire/connection.js';
import { ProbeError } from '../model/errors.js';
import { connectHost } from '../plan/target.js';
import { hostPort } from '../util/hostPort.js';
import type { Target } from '../plan/target.js';

/** The RFC 9113 error codes an HTTP/2 connection's protocol errors carry (wire/h2Connection.ts). */
const H2_ERRORS = new Set(['PROTOCOL_ERROR', 'FRAME_SIZE_ERROR', 'COMPRESSION_ERROR', 'FLOW_CONTROL_ERROR', 'INTERNAL_ERROR']);

/**
 * The first request on a fresh connection must be answered; when it is not, the target
 * cannot be probed at all (not HTTP, never answers, closes at once). Returns the error to
 * report, or null when the outcome is a response.
 */
export function firstRequestError(outcome: ExchangeOutcome, target: Target): ProbeError | null {
  const where = hostPort(connectHost(target), target.port);
  // A plain request to a TLS port is answered with a TLS alert, an RST or a FIN: the alert
  // says so for certain, the other two only suggest it.
  const maybeTls = target.tls ? null : 'if this port speaks TLS, use https://';
  switch (outcome.kind) {
    case 'response':
      return null;
    case 'protocol-error':
      if (outcome.code === 'unrequested-upgrade') {
        return new ProbeError(
          'protocol-error',
          `${where} switched protocols (101 Switching Protocols) although the probe asked for no upgrade: it cannot be probed over HTTP/1.x`,
        );
      }
      if (H2_ERRORS.has(outcome.code)) return new ProbeError('protocol-error', `${where} broke the HTTP/2 protocol (${outcome.code}): ${outcome.message}`);
      return new ProbeError(
        outcome.code === 'not-http' ? 'not-http' : 'protocol-error',
        `${where} did not answer with HTTP/1.x: ${outcome.message}`,
        null,
        null,
        outcome.tlsRecord && !target.tls ? 'this port speaks TLS: use https://' : null,
      );
    case 'truncated':
      return new ProbeError('protocol-error', `${where} closed the connection in the middle of its response: ${outcome.message}`);
    case 'timeout':
      return new ProbeError(
        'no-response',
        `${where} accepted the connection but sent no ${outcome.deadline === 'first-byte' ? 'response' : `complete response (${outcome.deadline})`} within ${formatDuration(outcome.limitMs)}`,
        'ETIMEDOUT',
      );
    case 'socket-error':
      return new ProbeError(
        'closed-before-response',
        `${where} reset the connection before answering the first request (${outcome.code})`,
        outcome.code,
        outcome.syscall,
        maybeTls,
      );
    case 'stream-reset':
      return new ProbeError('closed-before-response', `${where} reset the stream of the first request (RST_STREAM ${outcome.errorCode})`);
    case 'goaway-refused':
      return new ProbeError('closed-before-response', `${where} sent GOAWAY (${outcome.errorCode}) before answering the first request`);
    case 'connection-lost':
    case 'premature-close':
    case 'not-sent':
      return new ProbeError('closed-before-response', `${where} closed the connection before answering the first request`, null, null, maybeTls);
  }
}
