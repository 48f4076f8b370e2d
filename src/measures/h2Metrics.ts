import type { ConnectionRecord } from '../model/result.js';
import type { MeasureName } from '../plan/scenario.js';
import {
  DRAIN_LAST_STREAM_ID,
  closeAfterGoawayTimed,
  finalGoaway,
  goawaysOf,
  h2IdleTimeout,
  h2IdleTimeoutError,
  responsesBeforeGoaway,
  serverSetting,
  twoStepGoaway,
} from '../timeline/h2.js';
import { formatDuration, roundMs } from '../util/duration.js';
import { evidence, labelled, plain, searchBound, sureSamples } from './metrics.js';
import type { MeasureContext, Measured, Trace } from './metrics.js';

/** The HTTP/2 measures (docs/scenarios.md), each read from one connection's frames through timeline/h2.ts. */
export type H2MeasureName = Extract<
  MeasureName,
  | 'h2IdleBeforeGoaway'
  | 'goawayErrorCode'
  | 'goawayLastStreamId'
  | 'goawayDebug'
  | 'closeAfterGoaway'
  | 'twoStepGoaway'
  | 'h2StreamsBeforeGoaway'
  | 'goawaySignalled'
  | 'maxConcurrentStreams'
  | 'streamLimitEnforced'
  | 'pingRtt'
  | 'pingResetsIdle'
  | 'pingPolicy'
>;

export function measureH2(name: H2MeasureName, conn: ConnectionRecord | null, trace: Trace, on: string | null, ctx: MeasureContext): Measured {
  if (conn === null) return plain(null);
  const { events } = conn;
  const goaways = goawaysOf(events);
  const first = goaways[0];
  const last = finalGoaway(events);
  switch (name) {
    case 'h2IdleBeforeGoaway': {
      // Over several samples of the label (one taken again after a late stamp), the shortest certain one.
      const sample = on === null ? conn : (idleSampleOf(labelled(trace, on)) ?? conn);
      if (sample !== conn) return measureH2(name, sample, trace, on, ctx);
      const idle = h2IdleTimeout(events, conn.end);
      if (idle === null) {
        const text =
          first === undefined
            ? `the server neither sent GOAWAY nor closed the idle HTTP/2 connection within ${formatDuration(ctx.maxIdleMs)} (--max-idle)`
            : `the server's GOAWAY came while a request was outstanding: ${goawayWords(first)}`;
        return { value: null, finding: { text, evidence: [evidence(conn, first?.t ?? null, null, conn.end.summary)] } };
      }
      const text =
        first === undefined
          ? `the server closed the idle HTTP/2 connection after ${formatDuration(idle)} without a GOAWAY (${conn.end.signal?.toUpperCase() ?? 'close'}): a client learns it only from the dead socket`
          : `the server sent GOAWAY after ${formatDuration(idle)} idle: ${goawayWords(first)}`;
      return {
        value: roundMs(idle),
        finding: { text, evidence: [evidence(conn, first?.t ?? conn.end.evidence.at(-1) ?? null, null, first === undefined ? conn.end.kind : 'GOAWAY')] },
        errorMs: h2IdleTimeoutError(events, conn.end) ?? 0,
      };
    }
    case 'goawayErrorCode':
      return plain(first?.errorCode ?? null);
    case 'goawayLastStreamId':
      return plain(last?.lastStreamId ?? null);
    case 'goawayDebug':
      return plain(first === undefined ? null : (goaways.map((g) => g.debug).find((d) => d !== '') ?? ''));
    case 'closeAfterGoaway': {
      const delay = closeAfterGoawayTimed(events, conn.end);
      if (first === undefined) return plain(null);
      if (delay === null) {
        const text = `after its GOAWAY the server did not close the connection: it waits for the client to close (${conn.end.summary})`;
        return { value: null, finding: { text, evidence: [evidence(conn, first.t, null, 'GOAWAY')] } };
      }
      return { ...plain(roundMs(delay.ms)), errorMs: delay.errorMs };
    }
    case 'twoStepGoaway': {
      if (first === undefined) return plain(null);
      const two = twoStepGoaway(events);
      if (!two) return plain(false);
      const text = `the server drained in two steps: GOAWAY with last stream ${DRAIN_LAST_STREAM_ID} ("no new streams"), then GOAWAY with last stream ${last?.lastStreamId ?? '?'} after ${formatDuration((last?.t ?? first.t) - first.t)}`;
      return { value: true, finding: { text, evidence: goaways.map((g) => evidence(conn, g.t, null, `GOAWAY last-stream ${g.lastStreamId}`)) } };
    }
    case 'h2StreamsBeforeGoaway': {
      const served = responsesBeforeGoaway(events);
      const serverClosed = conn.end.closedBy === 'server';
      if (first === undefined && !serverClosed) {
        const text = `the server answered ${served} requests on one HTTP/2 connection without a GOAWAY or a close (${searchBound(trace, on, ctx)})`;
        return { value: null, finding: { text, evidence: [evidence(conn, null, null, conn.end.summary)] } };
      }
      // The stream that crossed the cap was still served: the GOAWAY names it as the last stream
      // (after a two-step drain, the second GOAWAY does; client streams are odd: n streams end at 2n − 1).
      const decisive = goaways.find((g) => g.lastStreamId < DRAIN_LAST_STREAM_ID);
      const total = first === undefined ? conn.end.responses : Math.max(served, decisive === undefined ? served : (decisive.lastStreamId + 1) / 2);
      const text =
        first === undefined
          ? `the server closed the HTTP/2 connection after ${conn.end.responses} streams without a GOAWAY: ${conn.end.summary}`
          : `the server sent GOAWAY after ${total} streams on one connection: ${goawayWords(first)}`;
      return {
        value: total,
        finding: { text, evidence: [evidence(conn, first?.t ?? conn.end.evidence.at(-1) ?? null, total, first === undefined ? conn.end.kind : 'GOAWAY')] },
      };
    }
    case 'goawaySignalled':
      if (first === undefined && conn.end.closedBy !== 'server') return plain(null);
      return plain(first !== undefined);
    case 'maxConcurrentStreams':
      return plain(serverSetting(events, 'MAX_CONCURRENT_STREAMS'));
    case 'streamLimitEnforced':
      return streamLimitEnforced(conn, trace);
    case 'pingRtt': {
      const rtts = pingRtts(events);
      if (rtts.length === 0) return plain(null);
      const median = rtts.sort((a, b) => a - b)[Math.floor(rtts.length / 2)] as number;
      // Each round trip ends at an ACK stamped when the loop got to it (the PING is stamped as written).
      const late = events.map((e) => (e.kind === 'h2-frame' && e.dir === 'in' && e.frame.type === 'PING' ? (e.late ?? 0) : 0));
      return { ...plain(Math.round(median * 100) / 100), errorMs: roundMs(Math.max(...late)) };
    }
    case 'pingResetsIdle': {
      const stop = trace.pings.findLast((p) => p.on === on);
      if (stop === undefined || first?.errorCode === 'ENHANCE_YOUR_CALM') return plain(null);
      if (stop.reason === 'watched-ended') {
        const text = `PINGs kept the HTTP/2 connection open past the server's idle timeout (${stop.sent} PINGs, the unpinged connection was closed meanwhile): the server counts PING as activity`;
        return { value: true, finding: { text, evidence: [evidence(conn, null, null, `${stop.sent} PINGs`)] } };
      }
      if (stop.reason !== 'ended') return plain(null);
      const text = `the server ended the HTTP/2 connection at its idle timeout although it was sent a PING every few hundred ms: PING does not count as activity (as on Go servers and AWS ALB), so a client's PING keepalive does not keep idle connections open`;
      return {
        value: false,
        finding: { text, evidence: [evidence(conn, first?.t ?? conn.end.evidence.at(-1) ?? null, null, first === undefined ? conn.end.kind : 'GOAWAY')] },
      };
    }
    case 'pingPolicy': {
      if (first?.errorCode === 'ENHANCE_YOUR_CALM') {
        const text = `the server answered frequent PINGs with GOAWAY ENHANCE_YOUR_CALM${first.debug === '' ? '' : ` "${first.debug}"`}: it polices pings as gRPC servers do (more than 2 without data within 5 minutes by default); a client keepalive more frequent than its policy allows gets its connection closed`;
        return { value: 'enhance-your-calm', finding: { text, evidence: [evidence(conn, first.t, null, 'GOAWAY ENHANCE_YOUR_CALM')] } };
      }
      return plain(pingRtts(events).length === 0 ? null : 'ok');
    }
  }
}

/** Round-trip times of the probe's PINGs: each PING sent paired with the next PING ACK received (servers answer in order). */
function pingRtts(events: ConnectionRecord['events']): number[] {
  const sent: number[] = [];
  const rtts: number[] = [];
  for (const e of events) {
    if (e.kind !== 'h2-frame' || e.frame.type !== 'PING') continue;
    const ack = e.frame.flags.includes('ACK');
    if (e.dir === 'out' && !ack) sent.push(e.t);
    if (e.dir === 'in' && ack) {
      const at = sent.shift();
      if (at !== undefined) rtts.push(e.t - at);
    }
  }
  return rtts;
}

/** What the server did with the streams of a burst beyond its concurrency limit. */
function streamLimitEnforced(conn: ConnectionRecord, trace: Trace): Measured {
  const outcomes = trace.exchanges.filter((x) => x.connection === conn.id).map((x) => x.outcome);
  if (outcomes.length === 0) return plain(null);
  const limit = serverSetting(conn.events, 'MAX_CONCURRENT_STREAMS');
  const refused = outcomes.find((o) => o.kind !== 'response');
  if (refused === undefined) {
    const text =
      limit === null
        ? `the server announced no MAX_CONCURRENT_STREAMS and answered all ${outcomes.length} streams sent at once`
        : `the server answered all ${outcomes.length} streams sent at once although it announced MAX_CONCURRENT_STREAMS ${limit}: it does not enforce its own limit`;
    return { value: 'served', finding: { text, evidence: [evidence(conn, null, null, `${outcomes.length} responses`)] } };
  }
  const value =
    refused.kind === 'stream-reset'
      ? refused.errorCode === 'REFUSED_STREAM'
        ? 'refused-stream'
        : `rst-stream:${refused.errorCode}`
      : refused.kind === 'goaway-refused'
        ? 'goaway'
        : refused.kind;
  const n = outcomes.filter((o) => o.kind !== 'response').length;
  const text = `of ${outcomes.length} streams sent at once (MAX_CONCURRENT_STREAMS ${limit ?? 'not announced'}), the server answered ${outcomes.length - n} and ended ${n} with ${value}`;
  return { value, finding: { text, evidence: [evidence(conn, null, refused.index, value)] } };
}

function goawayWords(g: { lastStreamId: number; errorCode: string; debug: string }): string {
  return `GOAWAY ${g.errorCode}, last stream ${g.lastStreamId}${g.debug === '' ? '' : `, debug "${g.debug}"`}`;
}

/**
 * The connection whose idle timeout a label's samples give (HTTP/2: to the first GOAWAY; HTTP/1,
 * or no GOAWAY: to the close): the shortest among those whose error bound is at most
 * UNCERTAIN_ERROR_MS, else the one with the smallest bound (sureSamples); null when none shows one.
 */
export function idleSampleOf(list: readonly ConnectionRecord[]): ConnectionRecord | null {
  const idle = list.flatMap((c) => {
    const ms = h2IdleTimeout(c.events, c.end);
    return ms === null ? [] : [{ c, ms, errorMs: h2IdleTimeoutError(c.events, c.end) ?? 0 }];
  });
  const pool = sureSamples(idle, (x) => x.errorMs);
  return pool.reduce<(typeof pool)[number] | null>((a, b) => (a === null || b.ms < a.ms ? b : a), null)?.c ?? null;
}
