import type { MetricValue } from './result.js';

/**
 * Every metric the code reads by name, in one typed registry. Scenario files (scenarios/*.yaml)
 * choose metric names; advice, client predictions, `--expect` aliases, the hop rule and the
 * report formatting read them only through these entries, and test/metricRegistry.test.ts
 * fails when a built-in scenario no longer provides one (a renamed metric would otherwise
 * silently switch off advice or a client verdict). docs/scenarios.md lists the same entries.
 */

/** How a metric's value reads: ms and s are durations, count a whole number, flag a boolean, word one of a few strings. */
export type MetricUnit = 'ms' | 's' | 'count' | 'flag' | 'word';

/** A metric name the code relies on, where the built-ins provide it, and what it means. */
export interface MetricEntry<U extends MetricUnit = MetricUnit> {
  /** The name in `scenarios[].metrics`. */
  readonly name: string;
  readonly unit: U;
  /** The measure that computes it (scenario files: `measure:`). */
  readonly measure: string;
  /** The built-in scenarios that provide it, the first the one to read when several ran. */
  readonly scenarios: readonly [string, ...string[]];
  /** Short name for `--expect` (docs/expectations.md), on the first scenario; null for none. */
  readonly alias: string | null;
  /** One line for docs/scenarios.md. */
  readonly meaning: string;
}

function entry<U extends MetricUnit>(e: MetricEntry<U>): MetricEntry<U> {
  return e;
}

/** The registry. Keys are how the code names them; `name` is how reports and scenario files do. */
export const METRICS = {
  idleTimeout: entry({
    name: 'idleTimeoutMs',
    unit: 'ms',
    measure: 'idleBeforeCloseMin',
    scenarios: ['idle-timeout', 'stale-race'],
    alias: 'idle-timeout',
    meaning: "the server's idle timeout: last response → its FIN or RST on the idle connection (the shortest of `idle-timeout`'s three samples)",
  }),
  advertisedTimeout: entry({
    name: 'advertisedTimeoutS',
    unit: 's',
    measure: 'advertisedTimeout',
    scenarios: ['idle-timeout'],
    alias: 'advertised-timeout',
    meaning: '`timeout=` of the `Keep-Alive` header the server sends',
  }),
  advertisedKeepAlive: entry({
    name: 'advertisedKeepAlive',
    unit: 'word',
    measure: 'keepAliveHeader',
    scenarios: ['idle-timeout'],
    alias: null,
    meaning: 'the `Keep-Alive` header as sent (each client parses it its own way: docs/clients.md)',
  }),
  idleTimeoutAsked: entry({
    name: 'idleTimeoutAskedMs',
    unit: 'ms',
    measure: 'idleBeforeClose',
    scenarios: ['idle-timeout'],
    alias: null,
    meaning: 'the same idle timeout for a request that says `Connection: keep-alive`',
  }),
  advertisedTimeoutAsked: entry({
    name: 'advertisedTimeoutAskedS',
    unit: 's',
    measure: 'advertisedTimeout',
    scenarios: ['idle-timeout'],
    alias: null,
    meaning: '`timeout=` of the `Keep-Alive` header sent to a request that says `Connection: keep-alive` (Tomcat and Apache httpd send it only then)',
  }),
  advertisedKeepAliveAsked: entry({
    name: 'advertisedKeepAliveAsked',
    unit: 'word',
    measure: 'keepAliveHeader',
    scenarios: ['idle-timeout'],
    alias: null,
    meaning: 'the `Keep-Alive` header as sent to a request that says `Connection: keep-alive`',
  }),
  closeKind: entry({
    name: 'closeKind',
    unit: 'word',
    measure: 'closeKind',
    scenarios: ['idle-timeout', 'stale-race', 'connection-close', 'request-cap'],
    alias: 'close-kind',
    meaning: 'how the server closed first: `fin` or `rst`',
  }),
  maxRequests: entry({
    name: 'maxRequests',
    unit: 'count',
    measure: 'requestsBeforeClose',
    scenarios: ['request-cap'],
    alias: 'max-requests',
    meaning: 'responses served on one connection before the server ended it',
  }),
  maxRequestsAsked: entry({
    name: 'maxRequestsAsked',
    unit: 'count',
    measure: 'requestsBeforeClose',
    scenarios: ['request-cap'],
    alias: null,
    meaning: 'the same cap for requests that say `Connection: keep-alive`',
  }),
  signalled: entry({
    name: 'signalled',
    unit: 'flag',
    measure: 'closeSignalled',
    scenarios: ['request-cap'],
    alias: 'signalled',
    meaning: 'the last response said `Connection: close` before the cap closed the connection',
  }),
  responseStall: entry({
    name: 'responseStallMs',
    unit: 'ms',
    measure: 'responseStall',
    scenarios: ['request-cap'],
    alias: 'response-stall',
    meaning: "the ~40 ms each response waits when the server's Nagle meets the client's delayed ACK (null: no such stall)",
  }),
  reused: entry({
    name: 'reused',
    unit: 'flag',
    measure: 'reused',
    scenarios: ['http11-reuse'],
    alias: 'reuse',
    meaning: 'an HTTP/1.1 connection carried a second request',
  }),
  keepAliveHonoured: entry({
    name: 'keepAliveHonoured',
    unit: 'flag',
    measure: 'reused',
    scenarios: ['http10-keepalive'],
    alias: 'http10-keepalive',
    meaning: 'an HTTP/1.0 connection with `Connection: keep-alive` carried a second request',
  }),
  timeWaitSide: entry({
    name: 'timeWaitSide',
    unit: 'word',
    measure: 'timeWaitSide',
    scenarios: ['connection-close', 'idle-timeout', 'http11-reuse'],
    alias: 'time-wait-side',
    meaning: 'which end holds TIME_WAIT after the close: `server`, `client`, `none`, `unknown`',
  }),
  outcome: entry({
    name: 'outcome',
    unit: 'word',
    measure: 'requestOutcome',
    scenarios: ['timeout-mismatch'],
    alias: 'outcome',
    meaning: "what a request on a connection idle past the server's close got: `ok`, `premature-close`, `ECONNRESET`, …",
  }),
  serverClose: entry({
    name: 'serverClose',
    unit: 'word',
    measure: 'closeMode',
    scenarios: ['timeout-mismatch'],
    alias: 'server-close',
    meaning: 'how the server ended that connection: `full`, `half` or `silent-drop`',
  }),
  failureWindow: entry({
    name: 'failureWindowMs',
    unit: 'ms',
    measure: 'raceWindow',
    scenarios: ['stale-race'],
    alias: 'race-window',
    meaning: 'how long before the idle timeout requests on connections that still looked open failed',
  }),
  failureWindowUpper: entry({
    name: 'failureWindowUpperMs',
    unit: 'ms',
    measure: 'raceWindowUpper',
    scenarios: ['stale-race'],
    alias: null,
    meaning: "the race window's upper bound (one offset step above it)",
  }),
  safeClientIdle: entry({
    name: 'safeClientIdleMs',
    unit: 'ms',
    measure: 'raceSafeIdle',
    scenarios: ['stale-race'],
    alias: 'safe-client-idle',
    meaning: 'the longest idle time at which a client pool should still reuse a connection',
  }),
  shortPerRequest: entry({
    name: 'shortPerRequestMs',
    unit: 'ms',
    measure: 'timePerRequest',
    scenarios: ['short-connections'],
    alias: null,
    meaning: 'time per request with a new connection for each',
  }),
  keptPerRequest: entry({
    name: 'keptPerRequestMs',
    unit: 'ms',
    measure: 'timePerRequest',
    scenarios: ['short-connections'],
    alias: null,
    meaning: 'time per request on one kept-alive connection',
  }),
  abandonedIdleClose: entry({
    name: 'clientAbandonsIdleCloseMs',
    unit: 'ms',
    measure: 'idleBeforeCloseMedian',
    scenarios: ['short-connections'],
    alias: null,
    meaning: "median time from the response to the server's close of the idle connections a client abandoned (null: it closed none within `--max-idle`)",
  }),
  h2IdleTimeout: entry({
    name: 'idleTimeoutMs',
    unit: 'ms',
    measure: 'h2IdleBeforeGoaway',
    scenarios: ['h2-idle-timeout', 'h2-race', 'h2-ping'],
    alias: 'h2-idle-timeout',
    meaning: "HTTP/2: the server's idle timeout, last response → its first GOAWAY (→ its close when it sends none)",
  }),
} as const;

export type MetricKey = keyof typeof METRICS;

/** Every entry, in registry order. */
export const METRIC_ENTRIES: readonly MetricEntry[] = Object.values(METRICS);

/** The value type an entry's unit gives. */
export type ValueOf<U extends MetricUnit> = U extends 'ms' | 's' | 'count' ? number : U extends 'flag' ? boolean : string;

/** An entry's value in a scenario's metrics, typed by its unit; null when absent, null or of another type. */
export function readMetric<U extends MetricUnit>(metrics: Readonly<Record<string, MetricValue>>, e: MetricEntry<U>): ValueOf<U> | null {
  const value = metrics[e.name];
  const wanted = e.unit === 'flag' ? 'boolean' : e.unit === 'word' ? 'string' : 'number';
  return typeof value === wanted ? (value as ValueOf<U>) : null;
}

/** True when a scenario's metrics include the entry at all (measured or null). */
export function hasMetric(metrics: Readonly<Record<string, MetricValue>>, e: MetricEntry): boolean {
  return e.name in metrics;
}

/** The unit of a metric name: the registry's, else read off a name of one's own (`…Ms` milliseconds, `…S` seconds). */
export function unitOfName(name: string): MetricUnit | null {
  const known = METRIC_ENTRIES.find((e) => e.name === name);
  if (known !== undefined) return known.unit;
  if (name.endsWith('Ms')) return 'ms';
  if (name.endsWith('S')) return 's';
  return null;
}

/** The entry an `--expect` alias names, or undefined. */
export function entryByAlias(alias: string): MetricEntry | undefined {
  return METRIC_ENTRIES.find((e) => e.alias === alias);
}

/**
 * A timing metric whose error bound (how late the probe may have stamped its two ends, wire/clock.ts)
 * exceeds this many ms is uncertain: measured again where the scenario has other samples, else
 * reported as uncertain. A quiet machine's stamps are bound to about 1 ms.
 */
export const UNCERTAIN_ERROR_MS = 2;
