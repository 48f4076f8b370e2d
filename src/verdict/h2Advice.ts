import type { MetricValue } from '../model/result.js';
import { formatDuration } from '../util/duration.js';
import { safeIdleMs } from '../measures/race.js';

/**
 * Advice from an HTTP/2 scenario's metrics (scenarios/h2-*.yaml). HTTP/1 advice speaks of
 * "Connection: close" and Keep-Alive headers, which HTTP/2 does not have: its end of a
 * connection is a GOAWAY (RFC 9113 §6.8), or a close without one.
 */
export function h2AdviceFor(metrics: Readonly<Record<string, MetricValue>>): string[] {
  const advice: string[] = [];
  const num = (name: string): number | null => (typeof metrics[name] === 'number' ? (metrics[name] as number) : null);
  const idle = num('idleTimeoutMs');
  const code = metrics.goawayErrorCode;
  if (idle !== null) {
    const safe = safeIdleMs(idle);
    advice.push(
      `HTTP/2 clients must not idle a connection past ${formatDuration(idle)}${safe === null ? '' : `: set about ${formatDuration(safe)}`}; a load balancer in front must idle out first.`,
    );
    if (code === null && 'goawayErrorCode' in metrics) {
      advice.push(
        'The server closes idle HTTP/2 connections without a GOAWAY: a request sent as it closes is lost with nothing saying it was not processed (what each client then reports: the HTTP/2 clients below). Make the server send GOAWAY, or keep clients below its idle time and retry idempotent requests.',
      );
    }
  }
  const cap = num('maxRequests');
  if (cap !== null) {
    advice.push(
      metrics.signalled === false
        ? `The server closes after ${cap} streams per connection without a GOAWAY: the streams in flight at that moment fail with no sign that they were not processed. Make the server send GOAWAY before it closes (nginx and Go do), or retry idempotent requests on a new connection.`
        : `GOAWAY after ${cap} streams per connection: clients then open a new one and may retry streams above its last id.`,
    );
  }
  return advice;
}
