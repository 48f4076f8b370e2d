import { unitOfName } from '../model/metrics.js';
import path from 'node:path';
import type { ConnEvent } from '../model/events.js';
import type {
  CaptureEvidence,
  ConnectionRecord,
  Evidence,
  Finding,
  MeasuredRun,
  MetricValue,
  ProtocolId,
  RaceReport,
  RunOptionsReport,
  ScenarioMeasurement,
  TimeWaitFinding,
} from '../model/result.js';
import { captureFilter } from '../plan/analyzePlan.js';
import { CAPTURE_SCENARIOS } from '../plan/captureScenarios.js';
import { RUN_DEFAULTS } from '../options/runConfig.js';
import { serverCloseMode } from '../timeline/closeMode.js';
import { idleTimeoutOf } from '../timeline/classifyClose.js';
import { formatDuration, roundMs } from '../util/duration.js';
import { parseKeepAlive } from '../http/keepAliveHeader.js';
import { CaptureTimelines } from '../wire/captureTimeline.js';
import { CaptureChunksLost, readCapture, readsInChunks, tsharkVersion } from '../wire/tshark.js';
import type { TsharkRead } from '../wire/tshark.js';
import { CaptureSummary, bracket, staleOutcome } from './captureSummary.js';
import type { KeptConnection, KeptKind } from './captureSummary.js';
import { medianOf } from './metrics.js';
import { summarizeRace } from './race.js';

/**
 * `analyze`: a packet capture measured as a run. tshark streams the packets (wire/tshark.ts),
 * the capture's timelines turn them into the probe's ConnEvents per connection
 * (wire/captureTimeline.ts), each closed connection is classified and folded into the
 * summary (captureSummary.ts), and the summary becomes a MeasuredRun whose scenarios carry
 * the built-in ids and metric names (plan/captureScenarios.ts): judged, rendered and gated
 * by the same code as `run`. Reported: the scenarios of the protocols the capture shows, and
 * every scenario an `--expect` names (`gated`), so that no gate is silently dropped.
 */
export async function measureCapture(read: TsharkRead, gated: ReadonlySet<string> = new Set()): Promise<MeasuredRun> {
  try {
    return await measureOnce(read, gated);
  } catch (err) {
    if (!(err instanceof CaptureChunksLost)) throw err;
    // A large capture read in chunks, with TLS or HTTP/2 connections across a boundary: again,
    // those connections read whole from a side file (tshark's memory bounded by their size).
    if (err.streams !== null) {
      try {
        return await measureOnce({ ...read, sideStreams: err.streams }, gated);
      } catch (again) {
        if (!(again instanceof CaptureChunksLost)) throw again;
      }
    }
    // The side file did not read as the chunks did: in one pass (tshark's memory unbounded).
    return measureOnce({ ...read, chunks: null }, gated);
  }
}

async function measureOnce(read: TsharkRead, gated: ReadonlySet<string>): Promise<MeasuredRun> {
  const version = tsharkVersion(read.tshark);
  const summary = new CaptureSummary();
  // h2c on a port tshark does not dissect as HTTP: its streams are set aside, then read on a
  // second pass with those ports decoded as HTTP (whose dissector hands the preface to http2).
  const h2c = { streams: new Set<number>(), ports: new Set<number>() };
  const timelines = new CaptureTimelines((c) => summary.add(c), false, {
    undecodedH2c: (stream, port) => {
      if (h2c.streams.size >= H2C_STREAMS_MAX || (!h2c.ports.has(port) && h2c.ports.size >= H2C_PORTS_MAX)) return false;
      h2c.streams.add(stream);
      h2c.ports.add(port);
      return true;
    },
  });
  let epoch: number | null = null;
  await readCapture(read, (p) => {
    epoch ??= p.epoch - p.time;
    timelines.add(p);
  });
  timelines.finish();
  if (h2c.streams.size > 0) {
    // Those connections only, with their server ports decoded as HTTP. Each needs its preface:
    // in a large capture, those that cross a chunk boundary (found by a first read in chunks)
    // are read whole from a side file, the rest chunk by chunk.
    const ports = [...h2c.ports].sort((a, b) => a - b);
    const h2cRead: TsharkRead = {
      ...read,
      select: { ports: read.select?.ports ?? [], hosts: read.select?.hosts ?? [], streams: [...h2c.streams] },
      portsHint: ports,
      decodeAs: [...(read.decodeAs ?? []), ...ports.map((port) => `tcp.port==${port},http`)],
    };
    const side = readsInChunks(h2cRead) ? await crossing({ ...h2cRead, wholeHistory: true }) : new Set<number>();
    const again = new CaptureTimelines((c) => summary.add(c), false, { only: h2c.streams });
    await readCapture({ ...h2cRead, sideStreams: side }, (p) => again.add(p));
    again.finish();
  }
  const spanMs = roundMs(((timelines.lastTime ?? 0) - (timelines.firstTime ?? 0)) * 1000);
  const capture: CaptureEvidence = {
    file: read.file,
    tshark: version,
    filter: read.select === undefined || read.select === null ? null : captureFilter(read.select),
    packets: timelines.packets,
    connections: summary.connections,
    httpConnections: summary.httpConnections,
    h2Connections: summary.h2.connections,
    tlsHidden: summary.tlsHidden,
    spanMs,
    connectionsKept: summary.kept.length,
    peers: summary.peerRows(),
  };
  const main = [...summary.servers.values()].sort((a, b) => b.connections - a.connections)[0];
  return {
    target: {
      url: path.basename(read.file),
      host: main?.address ?? '',
      port: main?.port ?? 0,
      connectAddress: main === undefined ? null : `${bracket(main.address)}:${main.port}`,
      tls: main?.tls ?? false,
      server: summary.serverHeader,
      lab: null,
      local: false,
      protocols: protocolsOf(summary),
      h2Refusal: null,
    },
    startedAt: new Date(((epoch ?? 0) + (timelines.firstTime ?? 0)) * 1000).toISOString(),
    durationMs: Math.round(spanMs),
    loopDelayMaxMs: 0,
    interrupted: false,
    interruptedBy: null,
    error: null,
    options: captureBounds(spanMs, protocolsOf(summary)),
    evidence: { socketTable: 'none', capture },
    // The scenarios of the protocols the capture shows (and any an --expect names, so a gate is never dropped).
    scenarios: CAPTURE_SCENARIOS.filter((s) => protocolsOf(summary).includes(s.protocol) || gated.has(s.id)).map((s) => scenarioOf(s.id, summary, spanMs)),
  };
}

/** The selected connections that cross a chunk boundary: a read in chunks that hands nothing on. */
async function crossing(read: TsharkRead): Promise<ReadonlySet<number>> {
  try {
    await readCapture(read, () => undefined);
    return new Set();
  } catch (err) {
    if (err instanceof CaptureChunksLost && err.streams !== null) return err.streams;
    throw err;
  }
}

/** h2c connections read on the second pass at most (the rest: TCP verdicts only), and their server ports (each a `-d` rule). */
const H2C_STREAMS_MAX = 100_000;
const H2C_PORTS_MAX = 64;

/**
 * The bounds a capture report shows: nothing waited for an idle close but the capture itself,
 * so its span stands for --max-idle (a connection idle longer than that cannot show a close).
 */
function captureBounds(spanMs: number, protocols: readonly ProtocolId[]): RunOptionsReport {
  return {
    protocol: protocols.length > 1 ? 'auto' : protocols[0] === 'h2' ? 'h2' : 'http1',
    maxIdleMs: Math.max(1, Math.ceil(spanMs)),
    maxRequests: RUN_DEFAULTS.maxRequests,
    connectTimeoutMs: RUN_DEFAULTS.connectTimeoutMs,
    firstByteTimeoutMs: RUN_DEFAULTS.firstByteTimeoutMs,
    headersTimeoutMs: RUN_DEFAULTS.headersTimeoutMs,
    bodyTimeoutMs: RUN_DEFAULTS.bodyTimeoutMs,
    scenarioTimeoutMs: Math.max(1, Math.ceil(spanMs)),
  };
}

/** What the capture shows: HTTP/1.x when it has HTTP/1.x connections (or no HTTP/2 ones), h2 when it has HTTP/2 ones. */
function protocolsOf(summary: CaptureSummary): ProtocolId[] {
  const h1 = summary.httpConnections > 0 || summary.h2.connections === 0;
  return [...(h1 ? (['http/1.1'] as const) : []), ...(summary.h2.connections > 0 ? (['h2'] as const) : [])];
}

/** One capture scenario's measurement, its metrics in the order plan/captureScenarios.ts lists them. */
function scenarioOf(id: string, summary: CaptureSummary, spanMs: number): ScenarioMeasurement {
  const definition = CAPTURE_SCENARIOS.find((s) => s.id === id);
  if (definition === undefined) throw new Error(`no capture scenario ${id}`);
  const { metrics, findings, kinds, race } = MEASURE[id]?.(summary) ?? { metrics: {}, findings: [], kinds: [], race: null };
  const ordered = Object.fromEntries(Object.keys(definition.metrics).map((name) => [name, metrics[name] ?? null]));
  return {
    id,
    title: definition.title,
    source: definition.source,
    protocol: definition.protocol,
    headline: definition.headline,
    startedAtMs: 0,
    durationMs: Math.round(spanMs),
    metrics: ordered,
    // A capture's times are the kernel's: no timing metric carries an error of the probe's stamping.
    errorMs: Object.fromEntries(
      Object.keys(ordered)
        .filter((name) => typeof ordered[name] === 'number' && unitOfName(name) === 'ms')
        .map((name) => [name, 0]),
    ),
    findings,
    error: null,
    connections: keptOf(summary, kinds),
    race,
  };
}

interface Measured {
  readonly metrics: Record<string, MetricValue>;
  readonly findings: Finding[];
  /** Which kept connections the scenario shows. */
  readonly kinds: readonly KeptKind[];
  readonly race: RaceReport | null;
}

const MEASURE: Record<string, (s: CaptureSummary) => Measured> = {
  'idle-timeout': (s) => {
    const first = firstKept(s, 'idle-close');
    // run's idle-timeout reads closeKind and timeWaitSide off its connection whatever ended it
    // (measures/metrics.ts, closeKind): a server that closes right after every response (HTTP/1.0
    // without keep-alive, Go with keep-alives off) gives its FIN and its TIME_WAIT there, not
    // null. With no idle close in the capture, the connections the server ended right after a
    // response say the same.
    const idleClosed = s.idleCloseCount > 0;
    const closeKind = idleClosed ? majority(s.idleCloseSignals) : majority(s.capSignals);
    const header = s.keepAliveHeader;
    const findings: Finding[] = [];
    if (s.idleCloseCount > 0) {
      findings.push({
        text: `the server closed ${s.idleCloseCount} idle connection${s.idleCloseCount === 1 ? '' : 's'} after ${formatDuration(s.idleCloseMin ?? 0)} (min), ${formatDuration(s.idleMedian() ?? 0)} (median), ${formatDuration(s.idleCloseMax ?? 0)} (max) of idle time (${s.idleCloseSignals.fin} FIN, ${s.idleCloseSignals.rst} RST); clients must stop reusing a connection below the minimum`,
        evidence: first === undefined ? [] : [closeEvidence(first.record)],
      });
    } else {
      findings.push({ text: `no idle close by the server in the capture (${s.connections} connections)`, evidence: [] });
    }
    if (header !== null) findings.push({ text: `the server advertises "Keep-Alive: ${header}"`, evidence: [] });
    return {
      metrics: {
        idleTimeoutMs: s.idleCloseMin,
        idleTimeoutMedianMs: s.idleMedian(),
        idleTimeoutMaxMs: s.idleCloseMax,
        closeKind,
        advertisedTimeoutS: header === null ? null : (parseKeepAlive([['Keep-Alive', header]])?.timeoutS ?? null),
        advertisedKeepAlive: header,
        timeWaitSide: majority(Object.fromEntries(idleClosed ? s.idleCloseTimeWait : s.capTimeWait)),
        idleCloses: s.idleCloseCount,
      },
      findings,
      kinds: ['idle-close'],
      race: null,
    };
  },
  'request-cap': (s) => {
    const counts = new Map<number, number>();
    for (const c of s.caps) counts.set(c.requests, (counts.get(c.requests) ?? 0) + 1);
    const cap = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0] ?? null;
    const signals = s.capSignals;
    const first = firstKept(s, 'cap');
    const spread = [...counts.keys()].sort((a, b) => a - b);
    return {
      metrics: {
        maxRequests: cap,
        signalled: s.capCount === 0 ? null : s.caps.every((c) => c.announced),
        closeKind: majority(signals),
        capCloses: s.capCount,
      },
      findings: [
        s.capCount === 0
          ? { text: "no connection in the capture ended right after a response at the server's initiative (no request cap seen)", evidence: [] }
          : {
              text: `the server ended keep-alive after ${cap} responses on ${counts.get(cap ?? 0)} of ${s.capCount} such connections${spread.length > 1 ? ` (seen: ${spread.join(', ')})` : ''}; ${s.caps.filter((c) => c.announced).length} announced it with "Connection: close"`,
              evidence: first === undefined ? [] : [closeEvidence(first.record)],
            },
      ],
      kinds: ['cap'],
      race: null,
    };
  },
  'stale-race': (s) => {
    const T = s.idleCloseMin;
    const trials = s.trials.map((t) => ({ offsetMs: T === null ? 0 : roundMs(t.idleMs - T), ...t, idleErrorMs: 0 }));
    const race = summarizeRace(T, trials);
    const first = firstKept(s, 'stale');
    const staleText =
      s.staleRequests === 0
        ? 'no request was written on a connection the server had closed'
        : `${s.staleRequests} request${s.staleRequests === 1 ? ' was' : 's were'} written after the server had closed the connection (or dropped it): ${s.staleAnswers.rst} answered by an RST, ${s.staleAnswers.nothing} not answered, ${s.staleAnswers.response} answered with a response`;
    return {
      metrics: {
        idleTimeoutMs: T,
        closeKind: majority(s.idleCloseSignals),
        failureWindowMs: race.windowMs,
        failureWindowUpperMs: race.windowUpperMs,
        safeClientIdleMs: race.safeIdleMs,
        staleRequests: s.staleRequests,
        staleAnsweredByRst: s.staleAnswers.rst,
        staleUnanswered: s.staleAnswers.nothing,
        staleAnswered: s.staleAnswers.response,
        resetsAfterIdle: s.serverResets,
      },
      findings: [
        { text: staleText, evidence: first === undefined ? [] : staleEvidence(first) },
        ...(s.serverResets === 0
          ? []
          : [{ text: `the server reset ${s.serverResets} idle connection${s.serverResets === 1 ? '' : 's'} (RST with no request outstanding)`, evidence: [] }]),
      ],
      kinds: ['stale'],
      race,
    };
  },
  'timeout-mismatch': (s): Measured => {
    const first = firstKept(s, 'stale');
    const stale = first?.stale[0];
    if (first === undefined || stale === undefined) {
      return { metrics: {}, findings: [{ text: "no request was written on a connection after the server's close", evidence: [] }], kinds: [], race: null };
    }
    const outcome = staleOutcome(stale);
    const mode = serverCloseMode(first.record.events);
    return {
      metrics: { outcome, serverClose: mode?.mode ?? null, clientIdleMs: Math.round(stale.idleMs), serverIdleTimeoutMs: idleTimeoutOf(first.record.end) },
      findings: [{ text: `the first such request (#${stale.index} on ${first.record.id}) got ${outcome}`, evidence: staleEvidence(first) }],
      kinds: ['stale'],
      race: null,
    };
  },
  'connection-close': (s): Measured => {
    const first = firstKept(s, 'asks-close');
    if (first === undefined) return { metrics: {}, findings: [{ text: 'no request said "Connection: close"', evidence: [] }], kinds: [], race: null };
    const end = first.record.end;
    return {
      metrics: { closedBy: end.closedBy, closeKind: end.closedBy === 'server' ? end.signal : null, timeWaitSide: first.record.timeWait.side },
      findings: [
        { text: `${s.asksClose} connection${s.asksClose === 1 ? '' : 's'} asked to close; the first: ${end.summary}`, evidence: [closeEvidence(first.record)] },
      ],
      kinds: ['asks-close'],
      race: null,
    };
  },
  'http11-reuse': (s) => ({
    metrics: {
      reused: s.httpConnections === 0 ? null : s.reusedConnections > 0,
      requests: s.requests,
      connections: s.httpConnections,
      reusedConnections: s.reusedConnections,
      timeWaitSide: majority(Object.fromEntries(s.timeWait)),
    },
    findings: [
      {
        text: `${s.requests} requests on ${s.httpConnections} HTTP connections: ${s.reusedConnections} connection${s.reusedConnections === 1 ? '' : 's'} carried more than one (${s.reusedRequests} requests reused a connection)`,
        evidence: [],
      },
      ...(s.tlsHidden === 0
        ? []
        : [
            {
              text: `${s.tlsHidden} TLS connection${s.tlsHidden === 1 ? '' : 's'} whose HTTP was not visible (give the key log with --tls-keylog): TCP verdicts only`,
              evidence: [],
            },
          ]),
    ],
    kinds: ['first', 'reused', 'tls'],
    race: null,
  }),
  'short-connections': (s) => ({
    metrics: {
      clientClosesConnections: s.clientClosedFirst,
      clientClosesTimeWaitServer: s.clientClosedFirstTimeWaitServer,
      clientClosesTimeWaitClient: s.clientClosedFirstTimeWaitClient,
      clientSendsCloseConnections: s.asksClose,
      clientSendsCloseTimeWaitServer: s.asksCloseTimeWaitServer,
      clientSendsCloseTimeWaitClient: s.asksCloseTimeWaitClient,
    },
    findings: [
      {
        text: `the client closed first on ${s.clientClosedFirst} connections (${s.clientClosedFirstTimeWaitClient} left the client in TIME_WAIT); ${s.asksClose} asked with "Connection: close" (${s.asksCloseTimeWaitServer} left the server in TIME_WAIT): TIME_WAIT side inferred from who sent the first FIN`,
        evidence: [],
      },
    ],
    kinds: ['client-close'],
    race: null,
  }),
  'h2-idle-timeout': (s) => {
    const h2 = s.h2;
    const first = firstKept(s, 'h2-idle');
    const median = medianOf([...h2.idleSamples].sort((a, b) => a - b));
    const closeAfter = medianOf([...h2.closeAfterGoaway].sort((a, b) => a - b));
    const code = majority(Object.fromEntries(h2.idleCodes));
    const twoStep = majority(Object.fromEntries(h2.idleTwoStep));
    const withGoaway = h2.idleCount - h2.idleWithoutGoaway;
    return {
      metrics: {
        idleTimeoutMs: h2.idleMin,
        idleTimeoutMedianMs: median,
        idleTimeoutMaxMs: h2.idleMax,
        goawayErrorCode: code,
        goawayDebug: h2.idleDebugs.size === 0 ? null : (mostFrequent(h2.idleDebugs) ?? null),
        closeAfterGoawayMs: closeAfter,
        twoStepGoaway: twoStep === null ? null : twoStep === 'true',
        closeKind: majority(h2.idleSignals),
        closedBy: majority(Object.fromEntries(h2.idleClosedBy)),
        maxConcurrentStreams: h2.maxConcurrentStreams,
        idleCloses: h2.idleCount,
      },
      findings: [
        h2.idleCount === 0
          ? { text: `no idle HTTP/2 connection ended by the server in the capture (${h2.connections} HTTP/2 connections)`, evidence: [] }
          : {
              text: `the server ended ${h2.idleCount} idle HTTP/2 connection${h2.idleCount === 1 ? '' : 's'} after ${formatDuration(h2.idleMin ?? 0)} (min), ${formatDuration(median ?? 0)} (median), ${formatDuration(h2.idleMax ?? 0)} (max) of idle time: ${withGoaway} with GOAWAY${code === null ? '' : ` (${code})`}, ${h2.idleWithoutGoaway} closed without one`,
              evidence: first === undefined ? [] : [closeEvidence(first.record)],
            },
      ],
      kinds: ['h2-idle'],
      race: null,
    };
  },
  'h2-request-cap': (s) => {
    const h2 = s.h2;
    const counts = new Map<number, number>();
    for (const c of h2.caps) counts.set(c.streams, (counts.get(c.streams) ?? 0) + 1);
    const cap = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0] ?? null;
    const first = firstKept(s, 'h2-cap');
    const signalled = h2.caps.filter((c) => c.signalled).length;
    const spread = [...counts.keys()].sort((a, b) => a - b);
    return {
      metrics: {
        maxRequests: cap,
        signalled: h2.capCount === 0 ? null : signalled === h2.caps.length,
        goawayErrorCode: majority(Object.fromEntries(countBy(h2.caps.map((c) => c.errorCode ?? 'unknown')))),
        closeKind: majority({ fin: h2.caps.filter((c) => c.signal === 'fin').length, rst: h2.caps.filter((c) => c.signal === 'rst').length }),
        capCloses: h2.capCount,
      },
      findings: [
        h2.capCount === 0
          ? { text: 'no HTTP/2 connection ended with a GOAWAY or a close while busy or right after a response (no stream cap seen)', evidence: [] }
          : {
              text: `the server ended HTTP/2 connections after ${cap} streams on ${counts.get(cap ?? 0)} of ${h2.capCount} such connections${spread.length > 1 ? ` (seen: ${spread.join(', ')})` : ''}; ${signalled} with a GOAWAY first`,
              evidence: first === undefined ? [] : [closeEvidence(first.record)],
            },
      ],
      kinds: ['h2-cap'],
      race: null,
    };
  },
  'h2-streams': (s) => {
    const h2 = s.h2;
    const first = firstKept(s, 'h2-lost');
    return {
      metrics: {
        connections: h2.connections,
        requests: h2.streams,
        streamsRefused: h2.streamsRefused,
        streamsAboveLastStreamId: h2.streamsAboveLastStreamId,
        streamsLost: h2.streamsLost,
        lostConnections: h2.lostConnections,
      },
      findings: [
        {
          text: `${h2.streams} streams on ${h2.connections} HTTP/2 connections; without a response: ${h2.streamsRefused} refused (REFUSED_STREAM), ${h2.streamsAboveLastStreamId} above a GOAWAY's last stream id (both safe to retry), ${h2.streamsLost} lost with the connection on ${h2.lostConnections} connection${h2.lostConnections === 1 ? '' : 's'} (no GOAWAY covered them: unsafe to retry)`,
          evidence: first === undefined ? [] : [closeEvidence(first.record)],
        },
      ],
      kinds: ['h2-lost'],
      race: null,
    };
  },
};

/** Counts of each value. */
function countBy(values: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}

/** The most frequent key (ties: the first seen), '' included; undefined for none. */
function mostFrequent(counts: ReadonlyMap<string, number>): string | undefined {
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

function firstKept(s: CaptureSummary, kind: KeptKind): KeptConnection | undefined {
  return s.kept.find((k) => k.kinds.includes(kind));
}

function keptOf(s: CaptureSummary, kinds: readonly KeptKind[]): ConnectionRecord[] {
  return s.kept.filter((k) => k.kinds.some((x) => kinds.includes(x))).map((k) => k.record);
}

/** The most frequent key with a count above 0 (ties: the first); null when all are 0. */
function majority<K extends string>(counts: Partial<Record<K, number>>): K | null {
  let best: K | null = null;
  let most = 0;
  for (const [key, n] of Object.entries(counts) as [K, number][]) {
    if (n > most && key !== ('unknown' satisfies TimeWaitFinding['side'])) {
      best = key;
      most = n;
    }
  }
  return best;
}

function closeEvidence(record: ConnectionRecord): Evidence {
  return {
    connection: record.id,
    localPort: record.local?.port ?? null,
    t: record.end.evidence.at(-1) ?? null,
    requestIndex: null,
    detail: record.end.summary,
  };
}

function staleEvidence(k: KeptConnection): Evidence[] {
  const stale = k.stale[0];
  if (stale === undefined) return [];
  const answer = k.record.events.find((e: ConnEvent) => e.t >= stale.t && (e.kind === 'error' || e.kind === 'response-head'));
  return [
    {
      connection: k.record.id,
      localPort: k.record.local?.port ?? null,
      t: answer?.t ?? stale.t,
      requestIndex: stale.index,
      detail: `request #${stale.index} after ${formatDuration(stale.idleMs)} idle${stale.afterFin ? ", after the server's FIN" : ' (no FIN seen)'}: ${stale.answer === 'rst' ? 'RST' : stale.answer === 'response' ? 'a response' : 'no answer'}`,
    },
  ];
}
