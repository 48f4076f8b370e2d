import { formatDuration } from '../util/duration.js';
import type { ExchangeOutcome } from '../wire/connection.js';
import { ProbeError } from '../model/errors.js';
import { connectHost } from '../plan/target.js';
import { hostPort } from '../util/hostPort.js';
import type { Target } from '../plan/target.js';

/**
 * The first request on a fresh connection must be answered; when it is not, the target
 * cannot be probed at all (not HTTP, never answers, closes at once). Returns the error to
 * report, or null when the outcome is a response.
 */
export function firstRequestError(outcome: ExchangeOutcome, target: Target): ProbeError | null {
  const where = hostPort(connectHost(target), target.port);
  switch (outcome.kind) {
    case 'response':
      return null;
    case 'protocol-error':
      return new ProbeError(outcome.code === 'not-http' ? 'not-http' : 'protocol-error', `${where} did not answer with HTTP/1.x: ${outcome.message}`);
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
      );
    case 'premature-close':
    case 'not-sent':
      return new ProbeError(
        'closed-before-response',
        `${where} closed the connection before answering the first request${target.tls ? '' : ' (if this port speaks TLS, use https://)'}`,
      );
  }
}
