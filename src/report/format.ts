import type { ClientVerdict, ConnectionRecord, H2ClientVerdict, MetricValue, ProbeErrorInfo, RaceReport, RunResult, ScenarioResult } from '../model/result.js';
import { byOffset } from '../measures/race.js';
import type { ConnEvent, H2FrameInfo } from '../model/events.js';
import { UNCERTAIN_ERROR_MS, unitOfName } from '../model/metrics.js';
import { errorMeaning } from '../timeline/classifyClose.js';
import { formatDuration } from '../util/duration.js';
import { sanitize } from '../util/sanitize.js';

// Words shared by the terminal and HTML reports. Server-provided text is already passed
// through sanitize here; the HTML report escapes markup on top.

/** An error as one line, with what to do about it when the error says: `message [code]; hint`, escaped for a terminal. */
export function errorText(error: ProbeErrorInfo): string {
  return `${sanitize(error.message, 400)} [${sanitize(error.code)}]${error.hint === null ? '' : `; ${error.hint}`}`;
}

/** The scenario's headline metric, or its error, in a few words. */
export function keyFigure(s: ScenarioResult): string {
  if (s.error !== null) return sanitize(s.error.code);
  const [name] = headlineOf(s);
  return name === null ? '' : `${name} ${formatMeasured(s, name)}`;
}

/** A scenario's metric for people, with its error bound when that makes it uncertain (above UNCERTAIN_ERROR_MS): "2.00 s ±12 ms (uncertain)". */
export function formatMeasured(s: Pick<ScenarioResult, 'metrics' | 'errorMs'>, name: string): string {
  const text = formatMetric(name, s.metrics[name] ?? null);
  const error = uncertainBy(s, name);
  return error === null ? text : `${text} ±${formatDuration(error)} (uncertain)`;
}

/** A metric's error bound when it exceeds UNCERTAIN_ERROR_MS, else null. */
export function uncertainBy(s: Pick<ScenarioResult, 'metrics' | 'errorMs'>, name: string): number | null {
  const error = s.errorMs[name];
  return error !== undefined && error > UNCERTAIN_ERROR_MS && s.metrics[name] !== null ? error : null;
}

function headlineOf(s: ScenarioResult): [string | null, MetricValue] {
  const name = s.headline ?? Object.keys(s.metrics)[0] ?? null;
  return name === null ? [null, null] : [name, s.metrics[name] ?? null];
}

/** Formats a metric for people by its unit (model/metrics.ts): ms as durations, s in seconds, booleans as yes/no. */
export function formatMetric(name: string, value: MetricValue): string {
  if (value === null) return 'none';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const unit = unitOfName(name);
  if (typeof value === 'number' && unit === 'ms') return Math.abs(value) < 10 && !Number.isInteger(value) ? `${value.toFixed(2)} ms` : formatDuration(value);
  if (typeof value === 'number' && unit === 's') return `${value} s`;
  return sanitize(String(value));
}

/** One event in a few words, e.g. "← 200 HTTP/1.1 keep-alive". */
export function describeEvent(e: ConnEvent, conn: ConnectionRecord): string | null {
  switch (e.kind) {
    case 'connect':
      return `connect :${e.local.port}`;
    case 'tls':
      return `TLS ${e.protocol ?? ''}${e.alpn === null ? '' : ` (ALPN ${e.alpn})`}`;
    case 'request':
      return `→ ${e.method} ${sanitize(e.path)} HTTP/${e.version}${e.connection === null ? '' : ` (Connection: ${sanitize(e.connection)})`}`;
    case 'response-head': {
      const extras = [
        e.connectionHeader === null ? null : `Connection: ${e.connectionHeader}`,
        e.keepAliveHeader === null ? null : `Keep-Alive: ${e.keepAliveHeader}`,
      ]
        .filter((x): x is string => x !== null)
        .map((x) => sanitize(x));
      const info = e.informational.length > 0 ? ` after ${e.informational.join(', ')}` : '';
      return `← ${e.status} HTTP/${e.version} ${e.keepAlive ? 'keep-alive' : 'not persistent'}${info}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}`;
    }
    case 'response-complete':
      return `← response #${e.index} complete (${e.bodyBytes} B body)`;
    case 'unsolicited':
      return `← ${e.bytes} B nobody asked for: "${sanitize(e.preview)}"`;
    case 'peer-fin':
      return `← FIN${conn.end.kind !== 'client-close' && conn.end.evidence.includes(e.t) ? ` (${conn.end.summary})` : ''}`;
    case 'error': {
      const meaning = errorMeaning(e);
      return `✗ ${e.code}${e.syscall === null ? '' : ` on ${e.syscall}`}${meaning === null ? '' : ` (${meaning})`}`;
    }
    case 'protocol-error':
      return `✗ ${sanitize(e.message)}`;
    case 'timeout':
      return `✗ ${e.deadline} deadline (${formatDuration(e.limitMs)}) expired`;
    case 'local-close':
      return `→ ${e.how.toUpperCase()} (probe closed: ${e.reason})`;
    case 'closed':
      return 'closed';
    case 'h2-frame':
      return `${e.dir === 'in' ? '←' : '→'} ${describeFrame(e.frame)}`;
    case 'elided': {
      const { counts: n } = e;
      const frames = n.frames === 0 ? '' : `, ${n.frames} HTTP/2 frames`;
      return `… requests #${n.firstIndex}–#${n.lastIndex}: ${n.responses} responses over ${formatDuration(e.to - e.t)}, each kept alive (${n.events} events counted, not kept${frames})`;
    }
  }
}

/** An HTTP/2 frame in a few words: "GOAWAY last-stream 3 NO_ERROR \"max_idle\"", "SETTINGS MAX_CONCURRENT_STREAMS=100". */
function describeFrame(f: H2FrameInfo): string {
  const parts = [sanitize(f.type)];
  if (f.streamId !== 0) parts.push(`stream ${f.streamId}`);
  if (f.lastStreamId !== null) parts.push(`last-stream ${f.lastStreamId}`);
  if (f.errorCode !== null) parts.push(sanitize(f.errorCode));
  if (f.debug !== null && f.debug !== '') parts.push(`"${sanitize(f.debug)}"`);
  if (f.settings !== null) parts.push(...Object.entries(f.settings).map(([name, value]) => `${sanitize(name)}=${value}`));
  if (f.flags.length > 0) parts.push(`[${f.flags.join(' ')}]`);
  return parts.join(' ');
}

/** Which protocols the target speaks, in one line ("Protocols: HTTP/1.1, HTTP/2 (h2c)."), or null when the run could not tell. */
export function protocolLine(result: RunResult): string | null {
  const { protocols, h2Refusal, tls } = result.target;
  if (protocols.length === 0) return null;
  const names = protocols.map((p) => (p === 'h2' ? `HTTP/2 (${tls ? 'ALPN h2' : 'h2c'})` : 'HTTP/1.1'));
  const not = h2Refusal === null ? '' : `; not HTTP/2: ${sanitize(h2Refusal, 200)}`;
  return `Protocols: ${names.join(', ')}${not}.`;
}

/** The race as one line per offset: "T-20 ms   ok, ok" (outcomes of the trials at that offset; * = the server's close had arrived before the write). */
export function raceLines(race: RaceReport): string[] {
  const lines: string[] = [];
  for (const [offset, trials] of byOffset(race.trials)) {
    const label = offsetLabel(offset);
    const outcomes = trials.map((t) => `${t.outcome}${t.closeSeenBeforeWrite ? '*' : ''} (${t.idleMs.toFixed(1)} ms idle)`);
    lines.push(`${label.padEnd(12)} ${outcomes.join(', ')}`);
  }
  return lines;
}

/** A race offset as read in the reports: `T-500 ms`, `T+0 ms`. */
export function offsetLabel(offsetMs: number): string {
  return `T${offsetMs < 0 ? '-' : '+'}${formatDuration(Math.abs(offsetMs))}`;
}

/** A client verdict's columns in words: client, idle limit, Keep-Alive hint, stale reuse, retries. */
export function clientRow(v: ClientVerdict): [string, string, string, string, string] {
  const idle = v.idleMs === 'unconfirmed' ? 'unconfirmed' : v.idleMs === null ? 'none' : v.idleMs === 0 ? 'never reuses' : formatDuration(v.idleMs);
  const from = v.idleFrom === 'default' ? '' : v.idleFrom === 'client-idle' ? ' (--client-idle)' : ' (from Keep-Alive)';
  const hint = v.honoursKeepAliveHeader === 'unconfirmed' ? 'unconfirmed' : v.honoursKeepAliveHeader ? 'honoured' : 'ignored';
  return [
    `${v.yours ? '▶ ' : ''}${v.client}`,
    `${idle}${from}`,
    hint,
    STALE_WORDS[v.staleReuse],
    v.retriesStale === 'unconfirmed' ? 'unconfirmed' : v.retriesStale,
  ];
}

const STALE_WORDS: Record<ClientVerdict['staleReuse'], string> = {
  no: 'no: drops idle connections in time',
  race: 'only when a request races the close',
  'every-reuse': 'yes: every reuse after the close fails',
  unknown: 'unknown',
};

/** An HTTP/2 client verdict as a table row: client, idle limit, who ends an idle connection first, and what a request racing the server's end meets. */
export function h2ClientRow(v: H2ClientVerdict): [string, string, string, string] {
  const idle = v.idleMs === 'unconfirmed' ? 'unconfirmed' : v.idleMs === null ? 'none' : formatDuration(v.idleMs);
  const first =
    v.endsFirst === 'client'
      ? 'the client'
      : v.endsFirst === 'server'
        ? `the server (${v.serverEnds === 'goaway' ? 'GOAWAY' : 'close, no GOAWAY'})`
        : 'unknown';
  return [`${v.yours ? '▶ ' : ''}${v.client}`, idle, first, H2_RACE_WORDS[v.race]];
}

/** What a request sent as the server ends the connection meets, in words (docs/json-report.md h2Clients). */
export const H2_RACE_WORDS: Record<H2ClientVerdict['race'], string> = {
  none: 'no race: the client closes first',
  resent: 'resent by the client',
  'resent-if-replayable': 'resent if its body can be replayed',
  fails: 'fails',
  unknown: 'unknown',
};

/** The hops in one line, from the client inward: "lb (idle 3 s) → app (idle 1 s)". */
export function hopChain(result: RunResult): string {
  return result.hops
    .map(
      (h) =>
        `${h.name} ${sanitize(h.url)}${h.connectAddress === null ? '' : ` via ${h.connectAddress}`} (${h.idleTimeoutMs === null ? `no idle close within ${formatDuration(result.options.maxIdleMs)}` : `idle ${formatDuration(h.idleTimeoutMs)}`})`,
    )
    .join(' → ');
}

/**
 * What the run had to infer for want of a socket table, in one sentence for every report;
 * null with /proc/net/tcp (nothing inferred on this host).
 */
/** `run --capture`: where the timings come from, in one line; null without --capture. */
export function wireNote(result: RunResult): string | null {
  const wire = result.evidence.wire;
  if (wire === undefined) return null;
  if (wire.source === 'event-loop') return `Timing: the event loop's, not the wire's: ${sanitize(wire.reason ?? 'no capture')}.`;
  const scenarios = result.scenarios.filter((s) => s.wire !== undefined).length;
  const lag = wire.eventLoopLagMaxMs === null ? '' : `; the event loop stamped received packets up to ${wire.eventLoopLagMaxMs} ms late`;
  const kept = wire.file === null ? '' : ` Capture saved: ${sanitize(wire.file)}.`;
  const partial = wire.reason === null ? '' : ` ${sanitize(wire.reason)}.`;
  return `Timing: on the wire (${sanitize(wire.tool ?? 'capture')} on ${sanitize(wire.interface ?? '?')}, ${wire.packets} packets): ${wire.wireTimed} of ${wire.connections} connections timed by their packets, ${scenarios} scenario${scenarios === 1 ? '' : 's'} measured from them${lag}.${partial}${kept}`;
}

export function evidenceNote(result: RunResult): string | null {
  const capture = result.evidence.capture;
  if (capture !== undefined) {
    const tls =
      capture.tlsHidden === 0
        ? ''
        : ` ${capture.tlsHidden} TLS connection${capture.tlsHidden === 1 ? '' : 's'}: HTTP layer not visible (give --tls-keylog), TCP verdicts only.`;
    return `Evidence: packet capture ${sanitize(capture.file)} read by ${sanitize(capture.tshark)}${capture.filter === null ? '' : ` (filter: ${sanitize(capture.filter)})`}: ${capture.packets} packets, ${capture.connections} TCP connections (${capture.httpConnections} with HTTP/1.x${capture.h2Connections === 0 ? '' : `, ${capture.h2Connections} with HTTP/2`}), ${formatDuration(capture.spanMs)}; times are the capture's, TIME_WAIT is inferred from who sent the first FIN; ${capture.connectionsKept} connections kept whole, the rest counted.${tls}`;
  }
  switch (result.evidence.socketTable) {
    case 'proc-net-tcp':
      return null;
    case 'netstat':
      return "Evidence: sockets read with netstat -an (no /proc/net/tcp): TIME_WAIT is read, but an RST right behind a response may read as a FIN, and an RST answering a request written after the server's FIN goes unseen.";
    case 'none':
      return "Evidence: no socket table (no /proc/net/tcp, no netstat -an it can read): which side holds TIME_WAIT is inferred from who closed first, an RST right behind a response may read as a FIN, and an RST answering a request written after the server's FIN goes unseen.";
  }
}
