import type { MetricValue } from '../model/result.js';
import { formatDuration } from '../util/duration.js';

/**
 * Client pool idle limits quoted in advice. Each is checked against its source, listed in
 * docs/advice.md; clients whose default could not be confirmed are not named here.
 */
const CLIENT_IDLE_DEFAULTS = [
  { client: "Go's http.DefaultTransport (IdleConnTimeout)", ms: 90_000 },
  { client: "Node's http.globalAgent (timeout, Node >= 19)", ms: 5_000 },
  { client: 'undici / Node fetch (keepAliveTimeout)', ms: 4_000 },
] as const;

/** Linux holds a socket in TIME_WAIT for TCP_TIMEWAIT_LEN (include/net/tcp.h). */
const LINUX_TIME_WAIT_S = 60;

/**
 * Plain-words advice from a scenario's metrics. Keyed on metric names, so a user scenario
 * that measures the same things gets the same advice.
 */
export function adviceFor(metrics: Readonly<Record<string, MetricValue>>): string[] {
  const advice: string[] = [];
  const idle = metrics.idleTimeoutMs;
  if (typeof idle === 'number') {
    const margin = Math.max(1000, Math.round(idle * 0.25));
    const safe = Math.max(0, idle - margin);
    const longer = CLIENT_IDLE_DEFAULTS.filter((c) => c.ms >= idle).map((c) => `${c.client} keeps idle connections ${formatDuration(c.ms)}`);
    advice.push(
      `Clients must not keep idle connections longer than ${formatDuration(idle)}; set the pool's idle timeout to about ${formatDuration(safe)} or less.` +
        (longer.length > 0 ? ` By default ${longer.join('; ')}: too long for this server.` : ''),
    );
    advice.push(`A load balancer or proxy in front of this server must close idle connections before it does: its idle timeout must be below ${formatDuration(idle)} (or raise the server's).`);
  }
  if (idle === null && 'idleTimeoutMs' in metrics) {
    advice.push('No idle close was seen within the bound: something else (the client pool, a load balancer, a NAT) decides how long idle connections live. Make sure each hop idles out before the hop behind it.');
  }
  if ('advertisedTimeoutS' in metrics && metrics.advertisedTimeoutS === null && typeof idle === 'number') {
    advice.push('The server does not advertise "Keep-Alive: timeout=", so clients that honour that hint (Node http.Agent, undici) cannot adapt to it; configure their idle timeout explicitly.');
  }
  const advertised = metrics.advertisedTimeoutS;
  if (typeof advertised === 'number' && typeof idle === 'number' && Math.abs(advertised * 1000 - idle) > 1000) {
    advice.push(`The advertised Keep-Alive timeout (${advertised} s) differs from the measured one (${formatDuration(idle)}): clients that trust the header will be wrong.`);
  }
  if (typeof metrics.maxRequests === 'number') {
    advice.push(
      metrics.signalled === false
        ? `The server closes after ${metrics.maxRequests} requests per connection without saying "Connection: close": request ${metrics.maxRequests + 1} on a pooled connection fails. Retry idempotent requests once on a new connection, or cap requests per connection in the client below ${metrics.maxRequests}.`
        : `The server closes after ${metrics.maxRequests} requests per connection and announces it with "Connection: close"; well-behaved clients open a new connection. Make sure yours reads the header.`,
    );
  }
  if (metrics.keepAliveHonoured === false) {
    advice.push('HTTP/1.0 clients that ask for keep-alive (for example ApacheBench -k, which sends HTTP/1.0 with "Connection: Keep-Alive") still get one connection per request. Use HTTP/1.1 to this server.');
  }
  if (metrics.reused === false) {
    advice.push('HTTP/1.1 connections are not reused: every request pays a new TCP (and TLS) handshake and leaves a socket in TIME_WAIT.');
  }
  const outcome = metrics.outcome;
  if (typeof outcome === 'string' && outcome !== 'ok') {
    advice.push(`A client that reuses a connection after the server has closed it gets ${outcome}. Keep the client's idle timeout below the server's, and retry idempotent requests once on a fresh connection.`);
  }
  if (metrics.timeWaitSide === 'server') {
    advice.push(`The server closes first, so the server holds TIME_WAIT (${LINUX_TIME_WAIT_S} s on Linux) for each such connection; under many short connections that costs server memory, not client ports.`);
  } else if (metrics.timeWaitSide === 'client') {
    advice.push(`The client closes first, so the client holds TIME_WAIT (${LINUX_TIME_WAIT_S} s on Linux) per connection: many short connections can exhaust its ephemeral ports. Reuse connections.`);
  }
  return advice;
}
