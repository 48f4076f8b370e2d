import { METRICS, hasMetric, readMetric } from '../model/metrics.js';
import type { HostFacts, MetricValue } from '../model/result.js';
import { formatDuration } from '../util/duration.js';
import { CLIENT_PROFILES } from '../catalog/clientProfiles.js';
import { closesImmediately, safeIdleMs } from '../measures/race.js';
import type { NotKeptAlive } from '../timeline/queries.js';

/** Linux holds a socket in TIME_WAIT for TCP_TIMEWAIT_LEN (include/net/tcp.h). */
const LINUX_TIME_WAIT_S = 60;

/**
 * Plain-words advice from a scenario's metrics, read through the metric registry
 * (model/metrics.ts): a user scenario that names its metrics as the built-ins do gets the
 * same advice.
 */
export function adviceFor(
  metrics: Readonly<Record<string, MetricValue>>,
  host: HostFacts = { ephemeralPorts: null },
  /** Why the scenario's connections were never kept alive (timeline/queries.ts notKeptAlive), or null. */
  notKeptAlive: NotKeptAlive | null = null,
): string[] {
  const advice: string[] = [];
  const idle = readMetric(metrics, METRICS.idleTimeout);
  // A close right after a keep-alive response: no idle limit helps (0 means "never expire" to Node and Go).
  const oneRequest = idle !== null && closesImmediately(idle);
  if (idle !== null && oneRequest) {
    advice.push(
      `The server closed an idle connection ${formatDuration(idle)} after a response that announced keep-alive: it allows one request per connection without saying so. Do not reuse connections to it (turn keep-alive off for this host, or send "Connection: close"), or retry idempotent requests once on a new connection; better, make the server send "Connection: close" or keep connections open for seconds.`,
    );
  }
  const safeForIdle = idle === null ? null : safeIdleMs(idle);
  if (idle !== null && !oneRequest && safeForIdle !== null) {
    const safe = safeForIdle;
    // Only defaults a source confirms (src/catalog/clientProfiles.ts, docs/clients.md) are quoted.
    const longer = CLIENT_PROFILES.filter((p) => typeof p.idleMs === 'number' && p.idleMs >= idle).map((p) => p.name);
    advice.push(
      `Clients must not keep idle connections longer than ${formatDuration(idle)}; set the pool's idle timeout to about ${formatDuration(safe)} or less.` +
        (longer.length > 0 ? ` Longer by default: ${longer.join(', ')} (see the clients table).` : ''),
    );
    advice.push(`A load balancer or proxy in front of this server must idle out first: below ${formatDuration(idle)} (or raise the server's).`);
  }
  if (idle === null && hasMetric(metrics, METRICS.idleTimeout)) {
    advice.push(
      'No idle close was seen within the bound: something else (the client pool, a load balancer, a NAT) decides how long idle connections live. Make sure each hop idles out before the hop behind it.',
    );
  }
  const advertised = readMetric(metrics, METRICS.advertisedTimeout);
  const forms = formsDiffer(metrics);
  if (forms !== null) advice.push(forms);
  const askedHint = readMetric(metrics, METRICS.advertisedKeepAliveAsked);
  if (hasMetric(metrics, METRICS.advertisedTimeout) && advertised === null && askedHint === null && idle !== null && !oneRequest) {
    const honouring = CLIENT_PROFILES.filter((p) => p.honoursKeepAliveHeader === true).map((p) => p.name);
    advice.push(
      `The server does not advertise "Keep-Alive: timeout=", so clients that honour that hint (${honouring.join(', ')}) cannot adapt to it; configure their idle timeout explicitly.`,
    );
  }
  if (advertised !== null && idle !== null && !oneRequest && Math.abs(advertised * 1000 - idle) > 1000) {
    advice.push(
      `The advertised Keep-Alive timeout (${advertised} s) differs from the measured one (${formatDuration(idle)}): clients that trust the header will be wrong.`,
    );
  }
  const cap = readMetric(metrics, METRICS.maxRequests);
  if (cap !== null) {
    advice.push(
      readMetric(metrics, METRICS.signalled) === false
        ? `The server closes after ${cap} requests per connection without saying "Connection: close": request ${cap + 1} on a pooled connection fails. Retry idempotent requests once on a new connection, or cap requests per connection in the client below ${cap}.`
        : `The server closes after ${cap} requests per connection and announces it with "Connection: close"; well-behaved clients open a new connection. Make sure yours reads the header.`,
    );
  }
  const stall = readMetric(metrics, METRICS.responseStall);
  if (stall !== null) {
    advice.push(
      `Every request on a kept-alive connection waits about ${formatDuration(stall)}: the server writes the head and the body in two sends with Nagle's algorithm on, and the client's delayed ACK holds the second back. Set TCP_NODELAY on the server's sockets or write each response in one send; clients cannot avoid it.`,
    );
  }
  if (readMetric(metrics, METRICS.keepAliveHonoured) === false) {
    advice.push(
      'HTTP/1.0 clients that ask for keep-alive (for example ApacheBench -k, which sends HTTP/1.0 with "Connection: Keep-Alive") still get one connection per request. Use HTTP/1.1 to this server.',
    );
  }
  if (readMetric(metrics, METRICS.reused) === false) {
    const why =
      notKeptAlive === null
        ? ''
        : ` The server does not keep connections alive: ${notKeptAlive.reason}.` +
          (notKeptAlive.cause === 'announced' ? ' Turn keep-alive on in the server (or the proxy in front of it) if clients are to reuse connections.' : '');
    advice.push(`HTTP/1.1 connections are not reused: every request pays a new TCP (and TLS) handshake and leaves a socket in TIME_WAIT.${why}`);
  }
  const outcome = readMetric(metrics, METRICS.outcome);
  if (outcome !== null && outcome !== 'ok') {
    advice.push(
      `A client that reuses a connection after the server has closed it gets ${outcome}. Keep the client's idle timeout below the server's, and retry idempotent requests once on a fresh connection.`,
    );
  }
  const window = readMetric(metrics, METRICS.failureWindow);
  const safe = readMetric(metrics, METRICS.safeClientIdle);
  if (window !== null && window > 0 && safe === null && !oneRequest) {
    advice.push(
      `Requests written on connections that still looked open failed from ${window.toFixed(1)} ms before the idle timeout, half of it or more: no client idle limit keeps clear of that race. Retry idempotent requests once on a new connection, and make the server (or the hop in front of it) keep idle connections longer.`,
    );
  }
  if (window !== null && safe !== null && !oneRequest) {
    advice.push(
      window > 0
        ? `Requests written on connections that still looked open failed from ${window.toFixed(1)} ms before the idle timeout (the window grows with the round trip): no client-side check can see that close coming. Keep the pool's idle limit at ${formatDuration(safe)} or less, and retry idempotent requests once on a new connection.`
        : `No request written before the idle timeout failed here, so a client that drops idle connections before ${formatDuration(safe)} stays clear of the race. The window grows with the round trip to the server: run this scenario from where the client runs.`,
    );
  }
  const short = readMetric(metrics, METRICS.shortPerRequest);
  const kept = readMetric(metrics, METRICS.keptPerRequest);
  if (short !== null && kept !== null) {
    const ports = host.ephemeralPorts;
    const budget =
      ports === null
        ? ''
        : ` This host's ${ports} ephemeral ports allow about ${Math.floor(ports / LINUX_TIME_WAIT_S)} new connections per second to one server address and port (${LINUX_TIME_WAIT_S} s of TIME_WAIT each).`;
    // Whoever sends the first FIN holds TIME_WAIT (RFC 9293 §3.6): a client that abandons an
    // idle connection (a new pool per request) leaves the first FIN to the server's idle timer.
    const abandonedClose = readMetric(metrics, METRICS.abandonedIdleClose);
    const whenAbandoned = abandonedClose === null ? '' : ` (${formatDuration(abandonedClose)} after the response here)`;
    advice.push(
      `A new connection per request cost ${short.toFixed(2)} ms here against ${kept.toFixed(2)} ms kept alive (more with TLS), and leaves a socket in TIME_WAIT on the side that closes first: the server after "Connection: close", the client when it closes, the server when the client abandons the idle connection (a new pool per request) and the server times it out${whenAbandoned}.${budget} Reuse connections.`,
    );
    if (abandonedClose === null && hasMetric(metrics, METRICS.abandonedIdleClose) && notKeptAlive === null) {
      advice.push(
        'The server did not close idle connections a client abandoned within --max-idle: abandoned connections stay open, holding server sockets and file descriptors until something else ends them. Give the server an idle timeout, and make sure clients reuse or close their connections.',
      );
    }
  }
  const timeWaitSide = readMetric(metrics, METRICS.timeWaitSide);
  if (timeWaitSide === 'server') {
    advice.push(`The server closes first, so it holds TIME_WAIT (${LINUX_TIME_WAIT_S} s on Linux) per connection: server memory, not client ports.`);
  } else if (timeWaitSide === 'client') {
    advice.push(`The client closes first, so it holds TIME_WAIT (${LINUX_TIME_WAIT_S} s on Linux) per connection: short connections can exhaust its ports.`);
  }
  return advice;
}

/** Idle timeouts this close are the same timer (scheduling noise, not configuration). */
const SAME_IDLE_MS = 250;

/**
 * When the server answers a request that says `Connection: keep-alive` differently from one
 * without a Connection header (Tomcat and Apache httpd send their hint only to the first):
 * which clients get which, by the request form each profile sends.
 */
function formsDiffer(metrics: Readonly<Record<string, MetricValue>>): string | null {
  const bare = readMetric(metrics, METRICS.advertisedKeepAlive);
  const asked = readMetric(metrics, METRICS.advertisedKeepAliveAsked);
  const idle = readMetric(metrics, METRICS.idleTimeout);
  const idleAsked = readMetric(metrics, METRICS.idleTimeoutAsked);
  const differences: string[] = [];
  if (hasMetric(metrics, METRICS.advertisedKeepAliveAsked) && bare !== asked) {
    differences.push(`Keep-Alive ${asked === null ? 'none' : `"${asked}"`} with it, ${bare === null ? 'none' : `"${bare}"`} without`);
  }
  if (hasMetric(metrics, METRICS.maxRequestsAsked)) {
    const cap = readMetric(metrics, METRICS.maxRequests);
    const capAsked = readMetric(metrics, METRICS.maxRequestsAsked);
    const show = (n: number | null): string => (n === null ? 'no cap seen' : `a cap of ${n}`);
    if (cap !== capAsked) differences.push(`${show(capAsked)} with it, ${show(cap)} without`);
  }
  if (idle !== null && idleAsked !== null && Math.abs(idle - idleAsked) > SAME_IDLE_MS) {
    differences.push(`idle timeout ${formatDuration(idleAsked)} with it, ${formatDuration(idle)} without`);
  }
  if (differences.length === 0) return null;
  const sending = CLIENT_PROFILES.filter((p) => p.sendsKeepAlive === true).map((p) => p.name);
  const silent = CLIENT_PROFILES.filter((p) => p.sendsKeepAlive === false).map((p) => p.name);
  return `The server answers a request that says "Connection: keep-alive" differently: ${differences.join('; ')}. Clients that send it (${sending.join(', ')}) get the first, the others (${silent.join(', ')}) the second; the client verdicts use the hint each one gets.`;
}
