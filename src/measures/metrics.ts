import type { ConnectionRecord, Evidence, Finding, MetricValue, RaceReport } from '../model/result.js';
import { UNCERTAIN_ERROR_MS } from '../model/metrics.js';
import { SMALL_BODY_MAX, SPLIT_KEPT_MS } from '../model/events.js';
import type { ConnEvent } from '../model/events.js';
import type { RecordedOutcome } from '../wire/connection.js';
import { idleTimeoutOf } from '../timeline/classifyClose.js';
import { serverCloseMode } from '../timeline/closeMode.js';
import { timeWaitSourceText } from '../timeline/timeWait.js';
import type { ServerCloseMode } from '../timeline/closeMode.js';
import { isAnswered, outcomeOf } from '../timeline/outcome.js';
import {
  firstHead,
  idleBeforeLastRequest,
  idleBeforeRequest,
  lateBeforeRequest,
  lastHead,
  requestEvent,
  responsesOf,
  splitResponses,
  unframedBody,
} from '../timeline/queries.js';
import { errorSignal } from '../timeline/signals.js';
import { parseKeepAlive } from '../http/keepAliveHeader.js';
import { formatDuration, roundMs } from '../util/duration.js';
import type { MetricSpec } from '../plan/scenario.js';
import { closesImmediately, failedWhileOpen } from './race.js';
import { measureH2 } from './h2Metrics.js';

/** What a scenario run left behind: its connections (with labels) and every exchange. */
export interface Trace {
  readonly connections: readonly { readonly label: string; readonly record: ConnectionRecord }[];
  readonly exchanges: readonly { readonly label: string; readonly connection: string; readonly outcome: RecordedOutcome }[];
  /** The race step's report, when the scenario has one. */
  readonly race: RaceReport | null;
  /** Why each repeat loop stopped, in order. */
  readonly repeats: readonly RepeatStop[];
  /** Why each ping step stopped, in order. */
  readonly pings: readonly PingStop[];
}

/**
 * How a ping step ended: `ended` its own connection got a GOAWAY or closed while pinged;
 * `watched-ended` the connection it watched ended and the extra time passed, its own still
 * open; `count` all pings sent; `max` the time bound ran out.
 */
export interface PingStop {
  readonly on: string;
  readonly reason: 'ended' | 'watched-ended' | 'count' | 'max';
  readonly sent: number;
}

/** How a repeat loop ended: the connection could not be reused, or a bound (count or time) ran out. */
export interface RepeatStop {
  readonly on: string;
  readonly reason: 'closed' | 'max' | 'budget';
  /** Rounds completed. */
  readonly rounds: number;
  readonly elapsedMs: number;
  /** The time budget, when the loop had one. */
  readonly budgetMs: number | null;
}

/** The bounds a measure may cite ("no close within 90 s"). */
export interface MeasureContext {
  readonly maxIdleMs: number;
  readonly maxRequests: number;
}

/** A metric value and, where it says something about the target, a finding with evidence. */
export interface Measured {
  readonly value: MetricValue;
  readonly finding: Finding | null;
  /** A timing metric's error bound, ms: how far the value may be off because its stamps were late (wire/clock.ts); absent for other metrics. */
  readonly errorMs?: number;
}

/** Derives one metric from the trace. `on` is a connection label (the last connection with it), or null for all. */
export function measure(spec: MetricSpec, trace: Trace, ctx: MeasureContext): Measured {
  const { measure: name, on } = spec;
  const conn = on === null ? null : lastWithLabel(trace, on);
  const events = conn?.events ?? [];
  switch (name) {
    case 'connections':
      return plain(on === null ? trace.connections.length : labelled(trace, on).length);
    case 'raceWindow':
    case 'raceSafeIdle':
      return raceMeasure(name, trace.race);
    case 'raceWindowUpper':
      return { ...plain(trace.race?.windowUpperMs ?? null), ...(trace.race === null ? {} : { errorMs: trace.race.errorMs }) };
    case 'timePerRequest': {
      // Each connection from its connect to its last complete response: the requests and the
      // connects, not the probe's own waits for a close in between.
      const list = on === null ? trace.connections.map((c) => c.record) : labelled(trace, on);
      let busy = 0;
      let responses = 0;
      // Each span may be off by the larger lateness of its two ends; spread over the responses.
      let late = 0;
      for (const c of list) {
        const first = c.events[0];
        const last = c.events.findLast((e) => e.kind === 'response-complete');
        if (first === undefined || last === undefined) continue;
        busy += last.t - first.t;
        late += Math.max(first.late ?? 0, last.late ?? 0);
        responses += responsesOf(c.events);
      }
      const start = list[0]?.events[0]?.t;
      if (start === undefined || responses === 0) return plain(null);
      // To the microsecond: a kept-alive request on loopback takes tens of them.
      const per = Math.round((busy / responses) * 1000) / 1000;
      const text = `${responses} responses on ${list.length === 1 ? 'one connection' : `${list.length} connections`}${on === null ? '' : ` (${on})`}, ${formatDuration(busy)} from each connect to its last response: ${per} ms per request (connects included; the waits for each close are not)`;
      return {
        value: per,
        finding: { text, evidence: [evidence(list[0] as ConnectionRecord, start, null, `first event of ${list[0]?.id ?? ''}`)] },
        errorMs: Math.round((late / responses) * 1000) / 1000,
      };
    }
    case 'timeWaitClient':
    case 'timeWaitServer': {
      const side = name === 'timeWaitClient' ? 'client' : 'server';
      const list = on === null ? trace.connections.map((c) => c.record) : labelled(trace, on);
      const held = list.filter((c) => c.timeWait.side === side);
      const sources = [...new Set(list.map((c) => c.timeWait.source))];
      const how = sources.length === 1 && sources[0] !== undefined ? timeWaitSourceText(sources[0]) : 'partly inferred from the timelines';
      const text = `${held.length} of ${list.length} connections${on === null ? '' : ` (${on})`} left a socket in TIME_WAIT on the ${side} side (${how})`;
      return {
        value: held.length,
        finding: held.length === 0 ? null : { text, evidence: held.slice(0, 3).map((c) => evidence(c, null, null, c.timeWait.evidence[0] ?? c.timeWait.side)) },
      };
    }
    case 'responses': {
      const list = conn === null ? trace.connections.map((c) => c.record) : [conn];
      return plain(list.reduce((n, c) => n + c.end.responses, 0));
    }
    case 'reused': {
      if (conn === null) return plain(null);
      const n = responsesOf(events);
      const reused = n >= 2;
      const text = reused
        ? `${n} responses on one connection (local port ${conn.local?.port ?? '?'}): the connection was reused`
        : `only ${n} response on connection ${conn.id} before it ended: ${conn.end.summary}`;
      return { value: reused, finding: { text, evidence: [evidence(conn, conn.end.evidence.at(-1) ?? null, null, conn.end.summary)] } };
    }
    case 'closedBy': {
      if (conn === null) return plain(null);
      const by = closedDuringScenario(conn) ? conn.end.closedBy : 'none';
      return { value: by, finding: { text: conn.end.summary, evidence: [evidence(conn, conn.end.evidence.at(-1) ?? null, null, conn.end.kind)] } };
    }
    case 'closeKind':
      if (conn === null) return plain(null);
      return plain(conn.end.closedBy === 'server' ? conn.end.signal : null);
    case 'timeWaitSide': {
      if (conn === null) return plain(null);
      const tw = conn.timeWait;
      const how = timeWaitSourceText(tw.source);
      const text = tw.side === 'none' ? `no side is left in TIME_WAIT (${how})` : `${tw.side} side left in TIME_WAIT (${how})`;
      return { value: tw.side, finding: { text, evidence: tw.evidence.map((row) => evidence(conn, null, null, row)) } };
    }
    case 'idleBeforeClose': {
      if (conn === null) return plain(null);
      const idle = idleTimeoutOf(conn.end);
      if (conn.end.kind === 'server-close-after-response') {
        return {
          value: null,
          finding: {
            text: `the server does not keep this connection alive: ${conn.end.summary}`,
            evidence: [evidence(conn, conn.end.evidence.at(-1) ?? null, null, conn.end.kind)],
          },
        };
      }
      if (idle === null) {
        const text = `the server did not close the idle connection within ${formatDuration(ctx.maxIdleMs)} (--max-idle)`;
        return { value: null, finding: { text, evidence: [evidence(conn, null, null, conn.end.summary)] } };
      }
      const text = closesImmediately(idle)
        ? `${conn.end.summary}, right after a response that announced keep-alive: the server allows one request per connection without saying so (it sends no "Connection: close")`
        : conn.end.summary;
      return {
        value: idle,
        finding: { text, evidence: [evidence(conn, conn.end.evidence.at(-1) ?? null, null, conn.end.kind)] },
        errorMs: conn.end.idleErrorMs ?? 0,
      };
    }
    case 'responseStall':
      return responseStall(on === null ? trace.connections.map((c) => c.record) : labelled(trace, on));
    case 'idleBeforeCloseMedian':
      return on === null ? plain(null) : idleBeforeCloseMedian(labelled(trace, on), on, ctx);
    case 'idleBeforeCloseMin': {
      // The single-connection story (no close, not kept alive) unless several samples closed.
      const single = measure({ ...spec, measure: 'idleBeforeClose' }, trace, ctx);
      return on === null ? single : idleSpread(labelled(trace, on), single);
    }
    case 'idleBeforeCloseMax': {
      const idles = on === null ? [] : idleSamples(labelled(trace, on));
      return { ...plain(idles.at(-1) ?? null), ...sampleError(on === null ? [] : labelled(trace, on)) };
    }
    case 'keepAliveHeader': {
      const head = firstHead(events);
      return plain(conn === null || head === undefined ? null : head.keepAliveHeader);
    }
    case 'advertisedTimeout':
    case 'advertisedMax': {
      const head = firstHead(events);
      if (conn === null || head === undefined || head.keepAliveHeader === null) return plain(null);
      const params = parseKeepAlive([['Keep-Alive', head.keepAliveHeader]]);
      const value = name === 'advertisedTimeout' ? (params?.timeoutS ?? null) : (params?.max ?? null);
      return {
        value,
        finding: {
          text: `the server advertises "Keep-Alive: ${head.keepAliveHeader}"`,
          evidence: [evidence(conn, head.t, head.index, `Keep-Alive: ${head.keepAliveHeader}`)],
        },
      };
    }
    case 'requestsBeforeClose': {
      if (conn === null) return plain(null);
      const last = lastHead(events);
      const serverClosed = closedDuringScenario(conn) && conn.end.closedBy === 'server';
      if (last !== undefined && !last.keepAlive) {
        // The cap is where keep-alive ended: announced by the response, whether or not the
        // server then closed (Node's maxRequestsPerSocket says "close" and leaves it open).
        const after = serverClosed ? conn.end.summary : 'but the server left the connection open: the client has to close it';
        return {
          value: last.index,
          finding: {
            text: `the server ended keep-alive after ${last.index} responses: response #${last.index} said it would not persist, ${after}`,
            evidence: [evidence(conn, last.t, last.index, `Connection: ${last.connectionHeader ?? '(none)'}`)],
          },
        };
      }
      // A close only after --max-requests answers may be the idle timeout, not a cap.
      if (!serverClosed || conn.end.responses >= ctx.maxRequests) {
        const text = `the server answered ${conn.end.responses} requests on one connection without closing it (${searchBound(trace, spec.on, ctx)})`;
        return { value: null, finding: { text, evidence: [evidence(conn, null, null, conn.end.summary)] } };
      }
      return {
        value: conn.end.responses,
        finding: {
          text: `the server closed the connection after ${conn.end.responses} responses: ${conn.end.summary}`,
          evidence: [evidence(conn, conn.end.evidence.at(-1) ?? null, conn.end.responses, conn.end.kind)],
        },
      };
    }
    case 'closeSignalled': {
      const head = lastHead(events);
      if (conn === null || head === undefined) return plain(null);
      const said = !head.keepAlive;
      if (!said && !(closedDuringScenario(conn) && conn.end.closedBy === 'server')) return plain(null);
      return {
        value: said,
        finding: {
          text: said
            ? `response #${head.index} said "Connection: ${head.connectionHeader ?? ''}" before keep-alive ended`
            : `the server closed without warning: the last response (#${head.index}) did not say "Connection: close"`,
          evidence: [evidence(conn, head.t, head.index, `Connection: ${head.connectionHeader ?? '(none)'}`)],
        },
      };
    }
    case 'lastOutcome':
    case 'requestOutcome': {
      // Per connection label: without `on` there is no connection to read (the schema allows it; the value is null).
      const mine = conn === null ? [] : trace.exchanges.filter((x) => x.connection === conn.id);
      const exchange = name === 'lastOutcome' ? mine.at(-1) : mine.find((x) => x.outcome.index === spec.request);
      if (exchange === undefined || conn === null) return plain(null);
      const outcome = outcomeOf(exchange.outcome);
      const written = requestEvent(events, exchange.outcome.index);
      const reset =
        exchange.outcome.kind === 'premature-close' && written !== undefined ? events.find((e) => errorSignal(e) === 'reset' && e.t >= written.t) : undefined;
      const text = `${describeOutcome(exchange.outcome)}${reset === undefined ? '' : '; the server answered it with an RST (it had fully closed the socket), so a client writing again gets EPIPE'}`;
      return { value: outcome, finding: { text, evidence: [evidence(conn, reset?.t ?? written?.t ?? null, exchange.outcome.index, outcome)] } };
    }
    case 'closeMode':
      return conn === null ? plain(null) : closeModeMeasure(conn);
    case 'clientIdle': {
      if (conn === null) return plain(null);
      // With `request: N`, the idle before that request: timeout-mismatch's late request, not
      // its write-again after the RST (an EPIPE in the kernel, never on the wire).
      const idle = spec.request === null ? idleBeforeLastRequest(events) : idleBeforeRequest(events, spec.request);
      return idle === null ? plain(null) : { ...plain(Math.round(idle)), errorMs: lateBeforeRequest(events, spec.request) };
    }
    case 'h2IdleBeforeGoaway':
    case 'goawayErrorCode':
    case 'goawayLastStreamId':
    case 'goawayDebug':
    case 'closeAfterGoaway':
    case 'twoStepGoaway':
    case 'h2StreamsBeforeGoaway':
    case 'goawaySignalled':
    case 'maxConcurrentStreams':
    case 'streamLimitEnforced':
    case 'pingRtt':
    case 'pingResetsIdle':
    case 'pingPolicy':
      return measureH2(name, conn, trace, spec.on, ctx);
  }
}

/** closeMode as a metric, with the finding that says what it means. */
function closeModeMeasure(conn: ConnectionRecord): Measured {
  const mode = serverCloseMode(conn.events);
  if (mode === null) return plain(null);
  return { value: mode.mode, finding: { text: CLOSE_MODE_TEXT[mode.mode], evidence: [evidence(conn, mode.t, mode.requestIndex, mode.mode)] } };
}

const CLOSE_MODE_TEXT: Record<ServerCloseMode, string> = {
  full: 'the server closed the connection fully: its FIN came first, and the request written afterwards was answered with an RST',
  half: 'the server only half-closed: after its FIN it still accepted the late request (no RST) and never answered it; a client sees end of stream, not a reset',
  'silent-drop':
    'the connection was dropped without a FIN: nothing arrived while it was idle, and the next request was answered with an RST (a load balancer, NAT or firewall that forgot the connection does this)',
};

function describeOutcome(outcome: RecordedOutcome): string {
  switch (outcome.kind) {
    case 'response':
      return `request #${outcome.index} was answered (${outcome.status})`;
    case 'premature-close':
      return outcome.peerClosedBeforeWrite
        ? `request #${outcome.index} was written on a connection the server had already closed: no response, the stream was at its end (a client sees "socket hang up" / premature close)`
        : `the server closed the connection after request #${outcome.index} was sent, before any response byte`;
    case 'socket-error':
      return `request #${outcome.index} failed with ${outcome.code}${outcome.syscall ? ` on ${outcome.syscall}` : ''}`;
    case 'timeout':
      return `request #${outcome.index}: no ${outcome.deadline} within ${formatDuration(outcome.limitMs)}`;
    case 'truncated':
    case 'protocol-error':
      return `request #${outcome.index}: ${outcome.message}`;
    case 'not-sent':
      return `request #${outcome.index} could not be written: the socket was already closed`;
    case 'stream-reset':
      return `request #${outcome.index}: the server reset its stream (RST_STREAM ${outcome.errorCode})`;
    case 'connection-lost':
      return `request #${outcome.index}: the connection ended (${outcome.code ?? 'FIN'}) before its response, with no GOAWAY saying it was not processed`;
    case 'goaway-refused':
      return `request #${outcome.index} was above the last stream id (${outcome.lastStreamId}) of the server's GOAWAY (${outcome.errorCode}): not processed, safe to retry`;
  }
}

/** A close the probe made only to clean up at the end does not count as "the client closed". */
function closedDuringScenario(conn: ConnectionRecord): boolean {
  const close = conn.events.find((e) => e.kind === 'local-close');
  return !(conn.end.kind === 'client-close' && close?.kind === 'local-close' && close.reason === 'cleanup');
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

/** The connections with the label, in the order the scenario has them. */
export function labelled(trace: Trace, label: string): ConnectionRecord[] {
  return trace.connections.filter((c) => c.label === label).map((c) => c.record);
}

function raceMeasure(name: 'raceWindow' | 'raceSafeIdle', race: RaceReport | null): Measured {
  if (race === null || race.idleTimeoutMs === null) return plain(null);
  const value = name === 'raceWindow' ? race.windowMs : race.safeIdleMs;
  if (name === 'raceSafeIdle') return { ...plain(value), errorMs: race.errorMs };
  const T = race.idleTimeoutMs;
  const failedInTime = failedWhileOpen(race.trials);
  const afterClose = race.trials.filter((t) => t.closeSeenBeforeWrite);
  const failedAfter = afterClose.filter((t) => !isAnswered(t.outcome));
  const parts = [
    failedInTime.length === 0
      ? `no request written while the connection still looked open failed (${race.trials.length - afterClose.length} such requests, idle up to ${formatDuration(Math.max(0, ...race.trials.filter((t) => !t.closeSeenBeforeWrite).map((t) => t.idleMs)))})`
      : `${failedInTime.length} request(s) written while the connection still looked open (no FIN or RST received yet) failed (${[...new Set(failedInTime.map((t) => t.outcome))].join(', ')}), the earliest after ${ms(Math.min(...failedInTime.map((t) => t.idleMs)))} idle, T = ${ms(T)}: ` +
        (race.windowMs === 0
          ? 'all at or after T, so a client that stops reusing connections below T stays clear of the race'
          : `failures begin between ${ms(race.windowMs ?? 0)} and ${ms(race.windowUpperMs ?? 0)} before T (the last request answered before them idled ${ms(T - (race.windowUpperMs ?? 0))}), so a client needs at least that margin below T`),
    `${failedAfter.length} of ${afterClose.length} written after the server's close failed`,
  ];
  const first = failedInTime[0] ?? failedAfter[0];
  const evidenceList =
    first === undefined
      ? []
      : [{ connection: first.connection, localPort: null, t: null, requestIndex: 2, detail: `${first.outcome} after ${formatDuration(first.idleMs)} idle` }];
  return { value, finding: { text: parts.join('; '), evidence: evidenceList }, errorMs: race.errorMs };
}

/** Where a repeat loop on `label` stopped looking: --max-requests, or its time budget (then with the pace that used it up). */
export function searchBound(trace: Trace, label: string | null, ctx: MeasureContext): string {
  const stop = trace.repeats.findLast((r) => r.on === label);
  if (stop?.reason !== 'budget' || stop.budgetMs === null || stop.rounds === 0) return `--max-requests ${ctx.maxRequests}`;
  const pace = stop.elapsedMs / stop.rounds;
  return `the search stopped at its ${formatDuration(stop.budgetMs)} time budget, ${formatDuration(pace)} per request, before --max-requests ${ctx.maxRequests}`;
}

function lastWithLabel(trace: Trace, label: string): ConnectionRecord | null {
  return [...trace.connections].reverse().find((c) => c.label === label)?.record ?? null;
}

export function evidence(conn: ConnectionRecord, t: number | null, requestIndex: number | null, detail: string): Evidence {
  return { connection: conn.id, localPort: conn.local?.port ?? null, t, requestIndex, detail };
}

export function plain(value: MetricValue): Measured {
  return { value, finding: null };
}

/**
 * The median idle time before the server closed, over every connection with the label that
 * the server closed while idle (`short` with `then: abandon`); null when it closed none. The
 * finding says how many it closed, and how many it left open past --max-idle: connections a
 * client abandons then stay open on the server until something else ends them.
 */
/** Idle closes wider apart than this are the server's own jitter, not the probe's stamping (loopback: well under 5 ms). */
const IDLE_SPREAD_MS = 25;

/**
 * The samples idle figures are read from: the connections the server closed while idle whose
 * idle time is certain (error bound at most UNCERTAIN_ERROR_MS), so that a stamp the event loop
 * made late is measured again by the other samples instead of passing for the server's jitter.
 * When none is certain (a loaded machine), those whose bound is at most twice the smallest: the
 * shortest of all would lean towards the samples whose response was stamped latest. The figure
 * is then reported as uncertain, and a spread counts as the server's only beyond the bound.
 */
function idleSampled(list: readonly ConnectionRecord[]): readonly ConnectionRecord[] {
  return sureSamples(
    list.filter((c) => idleTimeoutOf(c.end) !== null),
    (c) => c.end.idleErrorMs ?? 0,
  );
}

/** Of samples with error bounds: the certain ones (at most UNCERTAIN_ERROR_MS), else those whose bound is at most twice the smallest (idleSampled). */
export function sureSamples<T>(samples: readonly T[], errorOf: (sample: T) => number): readonly T[] {
  const certain = samples.filter((s) => errorOf(s) <= UNCERTAIN_ERROR_MS);
  if (certain.length > 0 || samples.length === 0) return certain;
  const least = Math.min(...samples.map(errorOf));
  return samples.filter((s) => errorOf(s) <= 2 * least);
}

/** The error bound of a figure read off idle samples (their min, median, max): the largest of theirs; absent with no sample. */
function sampleError(list: readonly ConnectionRecord[]): { errorMs?: number } {
  const errors = idleSampled(list).map((c) => c.end.idleErrorMs ?? 0);
  return errors.length === 0 ? {} : { errorMs: Math.max(...errors) };
}

/** The idle timeouts of the sampled connections (idleSampled), ascending. */
function idleSamples(list: readonly ConnectionRecord[]): number[] {
  return idleSampled(list)
    .map((c) => idleTimeoutOf(c.end))
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
}

/** The median of ascending values (the mean of the middle two for an even count); null for none. */
export function medianOf(sorted: readonly number[]): number | null {
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return null;
  return roundMs(sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}

/**
 * The minimum idle timeout over several connections, what a client must stay below; when the
 * closes spread wider than the measurement error, a finding names the likely cause (a timer
 * wheel or poller that checks timeouts now and then: Tomcat's NIO poller, for one). The
 * samples themselves are idleBeforeCloseMedian's finding.
 */
function idleSpread(list: readonly ConnectionRecord[], single: Measured): Measured {
  const idles = idleSamples(list);
  const min = idles[0];
  const max = idles.at(-1);
  const closed = list.filter((c) => idleTimeoutOf(c.end) !== null).length;
  if (closed < 2 || min === undefined || max === undefined) return single;
  const error = sampleError(list);
  if (max - min <= IDLE_SPREAD_MS + (error.errorMs ?? 0)) return { value: min, finding: null, ...error };
  const first = list.find((c) => idleTimeoutOf(c.end) === min) as ConnectionRecord;
  const text = `${idles.length} idle connections closed after ${formatDuration(min)} (min), ${formatDuration(medianOf(idles) ?? min)} (median), ${formatDuration(max)} (max): the server closes idle connections anywhere in that range, so a timer wheel or a poller that checks timeouts now and then decides, not the configured value alone (Tomcat's NIO poller is one); clients must stay below the minimum, ${formatDuration(min)}`;
  return { value: min, finding: { text, evidence: [evidence(first, first.end.evidence.at(-1) ?? null, null, first.end.summary)] }, ...error };
}

function idleBeforeCloseMedian(list: readonly ConnectionRecord[], on: string, ctx: MeasureContext): Measured {
  const closed = list.filter((c) => idleTimeoutOf(c.end) !== null);
  const kept = list.filter((c) => idleTimeoutOf(c.end) === null && c.end.kind !== 'server-close-after-response');
  const notAlive = list.length - closed.length - kept.length;
  const idles = idleSamples(list);
  const median = medianOf(idles);
  const parts: string[] = [];
  if (median !== null) {
    const range = idles.length > 1 ? `, ${formatDuration(idles[0] as number)}–${formatDuration(idles.at(-1) as number)}` : '';
    parts.push(`the server closed ${closed.length} of ${list.length} idle connections (${on}) a median ${formatDuration(median)} after their response${range}`);
    const setAside = closed.length - idles.length;
    const noneCertain = idleSampled(list).every((c) => (c.end.idleErrorMs ?? 0) > UNCERTAIN_ERROR_MS);
    if (setAside > 0 && noneCertain) {
      parts.push(
        `none of these close times is certain (the probe's event loop was held up around their stamps: error above ${UNCERTAIN_ERROR_MS} ms), so the figures are read from the ${idles.length === 1 ? 'one' : `${idles.length}`} with the smallest errors`,
      );
    } else if (setAside > 0) {
      parts.push(
        `${setAside} of these close times ${setAside === 1 ? 'is' : 'are'} left out: the probe's event loop was held up around ${setAside === 1 ? 'its' : 'their'} stamps (error above ${UNCERTAIN_ERROR_MS} ms), so the other samples measure it again`,
      );
    }
  }
  if (notAlive > 0) parts.push(`${notAlive} of ${list.length} were not kept alive (the server closed right after the response)`);
  if (kept.length > 0) {
    parts.push(
      `the server did not close ${kept.length} of ${list.length} (${on}) within ${formatDuration(ctx.maxIdleMs)} (--max-idle); the probe closed them at the end`,
    );
  }
  const shown = [...closed.slice(0, 1), ...kept.slice(0, 2)];
  return {
    value: median,
    ...sampleError(list),
    finding:
      parts.length === 0 ? null : { text: parts.join('; '), evidence: shown.map((c) => evidence(c, c.end.evidence.at(-1) ?? null, null, c.end.summary)) },
  };
}

/** The sentence shared by the finding and the verdict (verdict/judge.ts). */
export const UNFRAMED_TEXT =
  'the body has no Content-Length or chunked encoding, so it ends only when the server closes; clients wait for their read timeout and cannot reuse the connection (RFC 9112 §6.3)';

/** A finding per connection whose response body had no framing while the server kept the connection open. */
export function unframedFindings(connections: readonly ConnectionRecord[]): Finding[] {
  return connections.flatMap((conn) => {
    const head = unframedBody(conn.events);
    if (head === undefined) return [];
    const text = `response #${head.index} (${head.status}) never ended: ${UNFRAMED_TEXT}. Fix: send Content-Length (or chunked), or "Connection: close" and close after the body`;
    return [{ text, evidence: [evidence(conn, head.t, head.index, 'no Content-Length, no chunked, connection kept open')] }];
  });
}

/**
 * A finding per connection on which bytes arrived that belong to no response (RFC 9112
 * §9.2): where they came (after which response, or while idle), and the bytes, escaped.
 * The connection was closed then, as a client closes it.
 */
export function strayBytesFindings(connections: readonly ConnectionRecord[]): Finding[] {
  return connections.flatMap((conn) => {
    const stray = conn.events.filter((e): e is Extract<ConnEvent, { kind: 'unsolicited' }> => e.kind === 'unsolicited');
    const first = stray[0];
    if (first === undefined) return [];
    const before = conn.events.slice(0, conn.events.indexOf(first));
    const last = lastHead(before);
    const complete = before.some((e) => e.kind === 'response-complete' && e.index === last?.index);
    const where =
      last === undefined ? 'before any response' : complete ? `after response #${last.index} (${last.status}) was complete` : `during response #${last.index}`;
    const bytes = stray.reduce((n, e) => n + e.bytes, 0);
    const text = `${bytes} B arrived ${where} that belong to no response: "${first.preview}"; a client must not read them as the next response and closes the connection (RFC 9112 §9.2), so connection ${conn.id} was not reused`;
    return [{ text, evidence: [evidence(conn, first.t, last?.index ?? null, `${bytes} B unsolicited`)] }];
  });
}

/**
 * The stall of Nagle's algorithm on the server meeting the client's delayed ACK: a server
 * that writes a response's head and body in two sends has its second send held until the
 * first is acknowledged, and the client acknowledges a lone segment only when its delayed-ACK
 * timer fires (40 ms on Linux, up to 200 ms elsewhere). Linux acknowledges at once while a
 * connection is young (quick-ack), so the stall shows on reused connections: a response's
 * rest arriving at least STALL_MIN_MS after its head, for most small responses after the
 * first, at least STALL_MIN_COUNT times.
 */
const STALL_MIN_MS = SPLIT_KEPT_MS; // a long connection keeps every such response (wire/eventLog.ts)
const STALL_MAX_MS = 250;
const STALL_MIN_COUNT = 3;
/** A body this small leaves in one send; a larger one may legitimately take longer to arrive. */
const STALL_MAX_BODY = SMALL_BODY_MAX;

/** The median stall over `connections` when they show the pattern above, else null. */
function responseStall(connections: readonly ConnectionRecord[]): Measured {
  const reused = connections.flatMap((conn) =>
    splitResponses(conn.events)
      .filter((r) => r.index > 1 && r.bodyBytes <= STALL_MAX_BODY)
      .map((r) => ({ conn, ...r })),
  );
  const stalled = reused.filter((r) => r.gapMs >= STALL_MIN_MS && r.gapMs <= STALL_MAX_MS);
  // An elided stretch (after the first exchange) counts its small responses: none of them stalled.
  const elided = connections.reduce((n, c) => n + c.events.reduce((m, e) => m + (e.kind === 'elided' ? e.counts.smallBodies : 0), 0), 0);
  const total = reused.length + elided;
  if (stalled.length < STALL_MIN_COUNT || stalled.length * 2 < total) return plain(null);
  const gaps = stalled.map((r) => r.gapMs).sort((a, b) => a - b);
  const median = Math.round(gaps[Math.floor(gaps.length / 2)] ?? 0);
  const first = stalled[0] as (typeof stalled)[number];
  const text =
    `${stalled.length} of ${total} responses on reused connections arrived as the head, then the body ${formatDuration(median)} later (median): ` +
    `Nagle on the server with the client's delayed ACK: ~${formatDuration(median)} per request; set TCP_NODELAY on the server or write the response in one send`;
  return {
    value: median,
    finding: { text, evidence: [evidence(first.conn, null, first.index, `head, then ${first.bodyBytes} B ${formatDuration(first.gapMs)} later`)] },
    errorMs: roundMs(Math.max(...stalled.map((r) => r.errorMs))),
  };
}
