import type { ConnEvent, Endpoint } from '../model/events.js';
import { unitOfName } from '../model/metrics.js';
import type { ConnectionRecord, MeasuredRun, ScenarioMeasurement, WireMetric, WireTimingEvidence } from '../model/result.js';
import { classifyClose } from '../timeline/classifyClose.js';
import { roundMs } from '../util/duration.js';
import { CaptureTimelines } from '../wire/captureTimeline.js';
import type { CapturedConnection } from '../wire/captureTimeline.js';
import type { Recording } from '../wire/captureRecorder.js';
import { readCapture } from '../wire/tshark.js';
import type { Retime } from './runScenario.js';

/**
 * `run --capture`: the probe's connections timed by the wire. After the run, its capture is
 * read by the same machinery as `analyze` (one tshark pass, wire/tshark.ts, into the same
 * ConnEvent timelines, wire/captureTimeline.ts); each probe connection is matched to its TCP
 * stream by its local port and the server's endpoint, each of its events to the packet that
 * carried it, and its scenario is measured again from those times (runScenario's remeasure):
 * idle timeouts, close times and the race come out of the same timeline code, only with the
 * kernel's timestamps instead of the event loop's.
 */

/** A scenario as measured, and how to measure it again with other times. */
export interface Remeasurable {
  readonly measured: ScenarioMeasurement;
  readonly remeasure: (retime: Retime) => ScenarioMeasurement;
}

/** Event kinds whose time the metrics rest on (required). */
const REQUIRED = new Set<ConnEvent['kind']>(['connect', 'request', 'response-head', 'response-complete', 'peer-fin']);

/** Pairs offset further than this from the run's median are a port reused by another connection, not lag. */
const OFFSET_OUTLIER_MS = 1000;

/** The capture's connections, and its packet count. */
export interface WireRead {
  readonly connections: readonly CapturedConnection[];
  readonly packets: number;
  /** Epoch ms of the capture's first packet: the base of every event time in `connections`. */
  readonly originMs: number;
}

/**
 * Reads a capture of the probe's own connections: every event of every TCP stream; TLS
 * decrypted with the probe's key log, if any; each target's port decoded as HTTP (or TLS),
 * whatever port the client side used.
 */
export async function readWire(
  file: string,
  tlsKeylog: string | null,
  targets: readonly { readonly port: number; readonly tls: boolean }[],
): Promise<WireRead> {
  const connections: CapturedConnection[] = [];
  const timelines = new CaptureTimelines((c) => connections.push(c), true);
  let originMs: number | null = null;
  const decodeAs = [...new Set(targets.map((t) => `tcp.port==${t.port},${t.tls ? 'tls' : 'http'}`))];
  // One pass: the capture of a run is bounded by the run, and may hold TLS or HTTP/2 across any chunk boundary (CaptureChunksLost).
  await readCapture({ file, tlsKeylog, decodeAs, chunks: null }, (p) => {
    originMs ??= (p.epoch - p.time) * 1000;
    timelines.add(p);
  });
  timelines.finish();
  return { connections, packets: timelines.packets, originMs: originMs ?? 0 };
}

/**
 * Each run with its scenarios measured again on the wire's times where the capture timed
 * every connection of the scenario, and `evidence.wire` saying what was captured.
 */
export function applyWireTimes(
  runs: readonly MeasuredRun[],
  scenarios: readonly (readonly Remeasurable[])[],
  wire: WireRead,
  recording: Recording,
  saved: string | null,
  savedKeylog: string | null,
): MeasuredRun[] {
  const byPort = new Map<number, CapturedConnection[]>();
  for (const c of wire.connections) byPort.set(c.client.port, [...(byPort.get(c.client.port) ?? []), c]);
  return runs.map((run, i) => {
    const list = scenarios[i] ?? [];
    const records = list.flatMap((s) => s.measured.connections);
    const offset = clockOffset(records, byPort, wire.originMs);
    let connections = 0;
    let timed = 0;
    let lagMax: number | null = null;
    let firstUnmatched: string | null = null;
    const retimed = new Map<ScenarioMeasurement, ScenarioMeasurement>();
    for (const { measured, remeasure } of list) {
      const times = new Map<string, ConnectionRecord>();
      for (const record of measured.connections) {
        connections += 1;
        const match =
          offset === null ? { unmatched: 'none of the run was found in the capture' } : retimeRecord(record, candidates(record, byPort), wire.originMs, offset);
        if ('unmatched' in match) {
          firstUnmatched ??= `${record.id}: ${match.unmatched}`;
          continue;
        }
        timed += 1;
        if (match.lagMaxMs !== null) lagMax = Math.max(lagMax ?? 0, match.lagMaxMs);
        times.set(record.id, match.record);
      }
      if (measured.connections.length === 0 || times.size < measured.connections.length) continue;
      const again = remeasure((record) => times.get(record.id) ?? record);
      retimed.set(measured, { ...again, wire: wireMetrics(measured, again) });
    }
    const evidence: WireTimingEvidence = {
      source: 'wire',
      reason: timed < connections ? untimedReason(connections - timed, connections, firstUnmatched) : null,
      file: saved,
      tlsKeylog: savedKeylog,
      tool: recording.tool,
      interface: recording.interface,
      filter: recording.filter,
      packets: wire.packets,
      connections,
      wireTimed: timed,
      eventLoopLagMaxMs: lagMax === null ? null : roundMs(lagMax),
    };
    return { ...run, evidence: { ...run.evidence, wire: evidence }, scenarios: run.scenarios.map((s) => retimed.get(s) ?? s) };
  });
}

/** The runs as measured, saying why their times are the event loop's. */
export function withoutWire(runs: readonly MeasuredRun[], reason: string, recording: Recording | null): MeasuredRun[] {
  const evidence: WireTimingEvidence = {
    source: 'event-loop',
    reason,
    file: null,
    tlsKeylog: null,
    tool: recording?.tool ?? null,
    interface: recording?.interface ?? null,
    filter: recording?.filter ?? null,
    packets: 0,
    connections: runs.reduce((n, r) => n + r.scenarios.reduce((m, s) => m + s.connections.length, 0), 0),
    wireTimed: 0,
    eventLoopLagMaxMs: null,
  };
  return runs.map((run) => ({ ...run, evidence: { ...run.evidence, wire: evidence } }));
}

function untimedReason(untimed: number, all: number, first: string | null): string {
  const why = `packets missing from the capture, first ${first ?? '?'}`;
  return `${untimed} of ${all} connections keep event-loop times (${why}); their scenarios report the event loop's timings`;
}

/** The timing metrics of a scenario, before and after. */
function wireMetrics(before: ScenarioMeasurement, after: ScenarioMeasurement): Record<string, WireMetric> {
  const out: Record<string, WireMetric> = {};
  for (const [name, value] of Object.entries(after.metrics)) {
    if (unitOfName(name) !== 'ms') continue;
    const probe = before.metrics[name];
    if (typeof value !== 'number' && typeof probe !== 'number') continue;
    out[name] = {
      probeMs: typeof probe === 'number' ? probe : null,
      probeErrorMs: before.errorMs[name] ?? null,
      wireMs: typeof value === 'number' ? value : null,
    };
  }
  return out;
}

/** The captured streams a probe connection may be: its local port, to the server's endpoint. */
function candidates(record: ConnectionRecord, byPort: ReadonlyMap<number, readonly CapturedConnection[]>): CapturedConnection[] {
  const { local, remote } = record;
  if (local === null || remote === null) return [];
  return (byPort.get(local.port) ?? []).filter((c) => sameEndpoint(c.server, remote) && sameAddress(c.client.address, local.address));
}

/**
 * ms to add to a capture time (epoch ms) to put it on the run's clock: the smallest of
 * (probe's stamp − packet's time) over every received event of the run's connections (the
 * connect's SYN-ACK, responses, FINs), as the event loop only ever stamps a received packet
 * late; the smallest delay is the closest to none. Null when no connection was found in the capture.
 */
function clockOffset(records: readonly ConnectionRecord[], byPort: ReadonlyMap<number, readonly CapturedConnection[]>, originMs: number): number | null {
  const offsets: number[] = [];
  for (const record of records) {
    const found = candidates(record, byPort);
    if (found.length !== 1) continue;
    const at = new Map<string, number>();
    const wireEvents = found[0]?.events ?? [];
    for (const [i, key] of keysOf(wireEvents).entries()) {
      if (key !== null && !at.has(key)) at.set(key, originMs + (wireEvents[i] as ConnEvent).t);
    }
    const keys = keysOf(record.events);
    for (const [i, e] of record.events.entries()) {
      const key = keys[i] ?? null;
      const t = key === null ? undefined : at.get(key);
      if (t !== undefined && received(e)) offsets.push(e.t - t);
    }
  }
  if (offsets.length === 0) return null;
  offsets.sort((a, b) => a - b);
  const median = offsets[Math.floor(offsets.length / 2)] as number;
  return offsets.find((o) => o >= median - OFFSET_OUTLIER_MS) ?? median;
}

/**
 * The record with each event at its packet's time (on the run's clock), or null when an event
 * the metrics rest on has no packet. Events with no packet of their own (a deadline, an EPIPE
 * on a write the kernel refused, TLS) keep the event loop's time.
 */
function retimeRecord(
  record: ConnectionRecord,
  found: readonly CapturedConnection[],
  originMs: number,
  offset: number,
): { record: ConnectionRecord; lagMaxMs: number | null } | { unmatched: string } {
  if (!record.events.some((e) => e.kind === 'connect')) return { record, lagMaxMs: null };
  const probeConnect = record.events.find((e) => e.kind === 'connect')?.t ?? 0;
  const recordKeys = keysOf(record.events);
  const wanted = recordKeys.filter((k, i) => required(record.events[i] as ConnEvent) && k !== null);
  // A port used twice in one capture (by another run's connections, too): the stream that
  // has the events the probe recorded, and of those the one whose connect is nearest the probe's.
  const missing = (c: CapturedConnection): number => {
    const keys = new Set(keysOf(c.events));
    return wanted.filter((k) => !keys.has(k)).length;
  };
  const distance = (c: CapturedConnection): number => {
    const t = c.events.find((e) => e.kind === 'connect')?.t;
    return t === undefined ? Number.POSITIVE_INFINITY : Math.abs(originMs + t + offset - probeConnect);
  };
  const wire = [...found].sort((a, b) => missing(a) - missing(b) || distance(a) - distance(b))[0];
  if (wire === undefined) return { unmatched: `no TCP stream from local port ${record.local?.port ?? '?'}` };
  const at = new Map<string, number>();
  for (const [i, key] of keysOf(wire.events).entries()) {
    if (key !== null && !at.has(key)) at.set(key, toMicros(originMs + (wire.events[i] as ConnEvent).t + offset));
  }
  let lagMaxMs: number | null = null;
  let reset = false;
  const events: ConnEvent[] = [];
  for (const [i, e] of record.events.entries()) {
    const key = recordKeys[i] ?? null;
    const t = key === null ? undefined : at.get(key);
    // After an error (the server's RST) a write fails in the kernel (EPIPE): no packet carries it.
    const unsent = e.kind === 'request' && reset;
    if (e.kind === 'error') reset = true;
    if (t === undefined) {
      if ((required(e) && !unsent) || key === 'reset') return { unmatched: `no packet for its ${key ?? e.kind} in ${wire.id}` };
      // No packet (the probe's close after an RST, a deadline): its own time, but never before
      // the event the probe recorded ahead of it (the offset is estimated, the order is not).
      events.push({ ...e, t: Math.max(e.t, events.at(-1)?.t ?? e.t) });
      continue;
    }
    if (received(e)) lagMaxMs = Math.max(lagMaxMs ?? 0, e.t - t);
    // The packet's time is the kernel's: nothing of the event loop's lateness is left in it.
    const { late: _late, ...timed } = e;
    events.push({ ...timed, t } as ConnEvent);
  }
  // The server's RST that the probe's socket never reported: after the server's FIN Node no
  // longer reads, so an RST answering a request written then only shows at the next write.
  const wireReset = wire.events.find((e) => keyOf(e) === 'reset');
  const resetAt = at.get('reset');
  if (!reset && wireReset?.kind === 'error' && resetAt !== undefined) {
    events.push({
      kind: 'error',
      t: resetAt,
      code: 'ECONNRESET',
      syscall: null,
      message: 'RST from the server, seen in the capture (the socket did not report it)',
    });
  }
  // In the wire's order: a request the probe wrote before it had read the server's FIN, but
  // that left after the FIN had arrived, was written on a closed connection (as analyze reads it).
  // Except the probe's close in answer to the server's end of stream, which follows that end
  // whatever order the two FINs took: over TLS the stream ends at the server's close_notify,
  // and under load the probe's FIN can leave before the server's own (seen: 1.8 ms before, the
  // run then reading the client as the closer where analyze read the server).
  const peerFinAt = events.find((e) => e.kind === 'peer-fin')?.t;
  const orderAt = (e: ConnEvent): number =>
    e.kind === 'local-close' && e.reason === 'after-peer-fin' && peerFinAt !== undefined ? Math.max(e.t, peerFinAt) : e.t;
  const ordered = events
    .map((e, i) => ({ e, i, at: orderAt(e) }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map((x) => x.e);
  const eventLoop = { idleMs: record.end.idleMs, idleErrorMs: record.end.idleErrorMs };
  return { record: { ...record, events: ordered, end: classifyClose(ordered), eventLoop }, lagMaxMs };
}

/**
 * Events whose time a metric rests on: without the packet behind each, a connection keeps the
 * event loop's times. Of HTTP/2 frames, the server's GOAWAYs (the idle timeout ends at the first).
 */
function required(e: ConnEvent): boolean {
  return REQUIRED.has(e.kind) || (e.kind === 'h2-frame' && e.dir === 'in' && e.frame.type === 'GOAWAY');
}

/**
 * Each event's key (keyOf); an HTTP/2 frame's key is its direction, type, stream and flags
 * with its ordinal among the frames of that key, so the nth such frame the probe recorded
 * pairs with the nth the capture shows.
 */
function keysOf(events: readonly ConnEvent[]): (string | null)[] {
  const seen = new Map<string, number>();
  return events.map((e) => {
    if (e.kind !== 'h2-frame') return keyOf(e);
    const key = `h2 ${e.dir} ${e.frame.type} ${e.frame.streamId} ${e.frame.flags.join(',')}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return `${key} #${n}`;
  });
}

/** What pairs a probe event with a capture event: its kind and request index; null for kinds the capture does not show. */
function keyOf(e: ConnEvent): string | null {
  switch (e.kind) {
    case 'connect':
    case 'peer-fin':
    case 'local-close':
    case 'closed':
      return e.kind;
    case 'request':
    case 'response-head':
    case 'response-complete':
      return `${e.kind}#${e.index}`;
    case 'error':
      // The server's RST; an error of the probe's own socket (EPIPE) has no packet.
      return e.code === 'ECONNRESET' ? 'reset' : null;
    default:
      return null;
  }
}

/**
 * Events the probe stamps as a packet arrives (late by its event loop's lag), not when it
 * sends one. Not an RST: after the server's FIN the socket no longer reads, and the kernel
 * reports the RST only at the probe's next write or close, however idle its loop.
 */
function received(e: ConnEvent): boolean {
  return (
    (e.kind === 'h2-frame' && e.dir === 'in') || e.kind === 'connect' || e.kind === 'response-head' || e.kind === 'response-complete' || e.kind === 'peer-fin'
  );
}

/** To the microsecond, as the run's clock and the capture's event times are (wire/clock.ts, wire/captureTimeline.ts). */
function toMicros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && sameAddress(a.address, b.address);
}

/** Node reports an IPv4 peer of a dual-stack socket as ::ffff:a.b.c.d; tshark as a.b.c.d. */
function sameAddress(a: string, b: string): boolean {
  const plain = (x: string): string => (x.startsWith('::ffff:') ? x.slice(7) : x);
  return plain(a) === plain(b);
}
