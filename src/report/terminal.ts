import { Chalk } from 'chalk';
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import { UNCERTAIN_ERROR_MS } from '../model/metrics.js';
import type { ClientVerdict, ConnectionRecord, H2ClientVerdict, RunResult, ScenarioResult, ScenarioStatus } from '../model/result.js';
import { formatDuration } from '../util/duration.js';
import { exitCodeFor } from '../verdict/exitCode.js';
import {
  H2_RACE_WORDS,
  clientRow,
  describeEvent,
  errorText,
  evidenceNote,
  formatMeasured,
  uncertainBy,
  formatMetric,
  h2ClientRow,
  hopChain,
  keyFigure,
  protocolLine,
  raceLines,
  wireNote,
} from './format.js';
import { sanitize } from '../util/sanitize.js';
import { timeWaitSourceText } from '../timeline/timeWait.js';

/** How the terminal report is drawn; decided once by the CLI from the stream, the environment and -v. */
export interface TerminalOptions {
  readonly color: boolean;
  /** Every timeline, the race table and the full clients table (-v); otherwise a report of a screen or two. */
  readonly verbose?: boolean;
}

/**
 * The human report: header, summary table, each scenario's metrics and findings (timelines
 * for those that failed or could not run), what to do (each piece of advice once), the
 * clients, and a one-line verdict. -v adds every timeline, the race table and the full
 * clients table.
 */
export function renderTerminal(result: RunResult, options: TerminalOptions): string {
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const verbose = options.verbose === true;
  const out: string[] = [header(result, c), '', summaryTable(result, c), ''];
  const shownFindings = new Set<string>();
  for (const scenario of result.scenarios) out.push(...scenarioSection(scenario, c, verbose, shownFindings));
  const advice = [...new Set(result.scenarios.flatMap((s) => s.advice))];
  if (advice.length > 0) out.push('', c.bold('what to do:'), ...advice.map((a) => `  → ${a}`));
  if (result.clients.length > 0) out.push('', clientsSection(result, c, verbose));
  // Right under the HTTP/1 clients (one block of client verdicts); apart from them in -v, where both are tables.
  if (result.h2Clients.length > 0) out.push(...(verbose || result.clients.length === 0 ? [''] : []), h2ClientsSection(result.h2Clients, c, verbose));
  const timing = timingNote(result);
  if (timing !== null) out.push('', `${c.yellow('!')} ${timing}`);
  out.push('', footer(result, c));
  return `${out.join('\n')}\n`;
}

/**
 * One line when the probe's own timing needs saying: timing figures whose error bound makes them
 * uncertain (marked ±), or a loop held up long enough to ask whether the figures are sure.
 */
function timingNote(result: RunResult): string | null {
  const errors = result.scenarios.flatMap((s) => Object.keys(s.errorMs).flatMap((name) => uncertainBy(s, name) ?? []));
  if (errors.length > 0) {
    // One line at 120 columns: the report of the demo fits 80 lines.
    return `${errors.length} timing figure${errors.length === 1 ? ' is' : 's are'} uncertain (±, up to ${formatDuration(Math.max(...errors))}): the probe was held up on a busy machine; rerun, or use --capture.`;
  }
  if (result.loopDelayMaxMs < LOOP_DELAY_WARN_MS) return null;
  return `The probe was held up to ${formatDuration(result.loopDelayMaxMs)} (busy machine), but no timing figure above is off by more than ${UNCERTAIN_ERROR_MS} ms.`;
}

/** Findings a scenario that did not pass shows in the default report (the first are the ones its status rests on); -v shows all. */
const FINDINGS_SHOWN = 1;

/** The width a scenario's metrics line keeps to in the default report (one line of a 120-column terminal); -v shows them all. */
const LINE_WIDTH = 118;

/** As many metrics as fit in `width` characters (at least one), and how many more -v shows. */
function fitted(all: readonly string[], width: number): string[] {
  const shown: string[] = [];
  let used = 0;
  for (const [i, m] of all.entries()) {
    const rest = all.length - i - 1;
    const tail = rest === 0 ? 0 : `  (${rest} more with -v)`.length;
    if (shown.length > 0 && used + 2 + m.length + tail > width) break;
    shown.push(m);
    used += (shown.length > 1 ? 2 : 0) + m.length;
  }
  return shown.length < all.length ? [...shown, `(${all.length - shown.length} more with -v)`] : shown;
}

/** Below this, a held-up loop is the start-up burst of an ordinary run (the demo on a quiet 2-core machine: 11-18 ms, the run clock's reading). */
const LOOP_DELAY_WARN_MS = 30;

function header(result: RunResult, c: ChalkInstance): string {
  const server = result.target.server === null ? 'no Server header' : `Server: ${sanitize(result.target.server)}`;
  const via = result.target.connectAddress === null ? '' : ` via ${result.target.connectAddress}`;
  const lines = [`${c.bold('keepalive-probe')} ${result.tool.version} → ${c.bold(sanitize(result.target.url))}${via} (${server})`];
  const lab = result.target.lab;
  if (lab !== null) {
    const cap = lab.maxRequests === 0 ? 'no request cap' : `closes after ${lab.maxRequests} requests${lab.announceLast ? '' : ' without warning'}`;
    const idle = lab.idleTimeoutMs === 0 ? 'no idle timeout' : `idle timeout ${formatDuration(lab.idleTimeoutMs)}`;
    lines.push(
      `Target: the embedded lab server (${idle}, ${cap}${lab.close === 'fin' ? '' : `, closes with ${lab.close.toUpperCase()}`}, HTTP/1.0 keep-alive ${lab.http10 === 'close' ? 'off' : 'on'}${lab.advertise ? ', Keep-Alive sent' : ''}).`,
      'Your server: keepalive-probe run <url>. The lab with other settings: keepalive-probe serve --help.',
    );
  }
  if (result.hops.length > 0) lines.push(`Hops, from the client inward: ${hopChain(result)}; each must idle longer than the one before it.`);
  // A capture waited for nothing: its span, in the evidence line, bounds what it can show.
  const bounds =
    result.evidence.capture === undefined
      ? `Bounds: idle wait ${formatDuration(result.options.maxIdleMs)} (--max-idle), ${result.options.maxRequests} requests (--max-requests).`
      : null;
  // Protocols and bounds share a line when it fits.
  const facts = [protocolLine(result), bounds].filter((x): x is string => x !== null);
  const joined = facts.join(' ');
  lines.push(...(joined.length <= LINE_WIDTH ? [joined].filter((x) => x !== '') : facts));
  const evidence = evidenceNote(result);
  if (evidence !== null) lines.push(c.yellow(evidence));
  const wire = wireNote(result);
  if (wire !== null) lines.push(result.evidence.wire?.source === 'wire' && result.evidence.wire.reason === null ? wire : c.yellow(wire));
  lines.push(...capturePeers(result));
  if (result.error !== null) lines.push(`${c.red('could not probe the target:')} ${errorText(result.error)}`);
  return lines.join('\n');
}

/** Rows of a capture's summary shown in the header (all in JSON: evidence.capture.peers). */
const PEERS_SHOWN = 5;

/** A capture's traffic by client address and server endpoint, one line each (the busiest first). */
function capturePeers(result: RunResult): string[] {
  const peers = result.evidence.capture?.peers ?? [];
  const lines = peers.slice(0, PEERS_SHOWN).map((p) => {
    const idle =
      p.idleCloseMinMs === null
        ? 'no idle close'
        : `idle closes ${formatDuration(p.idleCloseMinMs)}/${formatDuration(p.idleCloseMedianMs ?? p.idleCloseMinMs)}/${formatDuration(p.idleCloseMaxMs ?? p.idleCloseMinMs)} (min/median/max)`;
    const stale = p.staleRequests === 0 ? '' : `, ${p.staleRequests} stale (${p.staleAnsweredByRst} RST, ${p.staleUnanswered} unanswered)`;
    return `  ${sanitize(p.client)} → ${sanitize(p.server)}: ${p.connections} connections, ${p.requests} requests (${p.reusedRequests} reused), ${idle}, first close by server ${p.serverClosedFirst} / client ${p.clientClosedFirst}, ${p.resets} ended by RST${stale}`;
  });
  if (peers.length > PEERS_SHOWN) lines.push(`  … ${peers.length - PEERS_SHOWN} more in the JSON report (evidence.capture.peers)`);
  return lines;
}

function summaryTable(result: RunResult, c: ChalkInstance): string {
  const table = new Table({ head: ['scenario', 'result', 'key figure', 'took'].map((h) => c.bold(h)), style: TABLE_STYLE });
  for (const s of result.scenarios) table.push([s.id, paintStatus(s.status, c), keyFigure(s), formatDuration(s.durationMs)]);
  return table.toString();
}

/**
 * One scenario: status and metrics on one line; when it did not pass, its findings (each
 * once in the whole report); its expectations that did not hold or came from the command
 * line; the timelines when it failed or could not run. -v shows every finding and timeline.
 */
function scenarioSection(s: ScenarioResult, c: ChalkInstance, verbose: boolean, shown: Set<string>): string[] {
  const all = Object.keys(s.metrics).map((k) => `${k}=${formatMeasured(s, k)}`);
  const lead = `${s.id} ${s.status.toUpperCase()} (${formatDuration(s.durationMs)}): `;
  const metrics = verbose ? all : fitted(all, LINE_WIDTH - lead.length);
  const lines = [`${c.bold(s.id)} ${paintStatus(s.status, c)} (${formatDuration(s.durationMs)})${metrics.length > 0 ? `: ${metrics.join('  ')}` : ''}`];
  if (s.error !== null) lines.push(`  ${c.red('could not run:')} ${sanitize(s.error.message, 400)}`);
  // A passing scenario's metrics say it; its findings (the evidence) are in -v, JSON and HTML.
  const findings = (verbose || s.status !== 'pass' ? s.findings : []).filter((f) => !shown.has(f.text));
  const listed = verbose ? findings : findings.slice(0, FINDINGS_SHOWN);
  for (const f of listed) {
    shown.add(f.text);
    lines.push(`  • ${sanitize(f.text, 400)}`);
  }
  const more = findings.length - listed.length;
  if (more > 0) lines.push(`  ${c.dim(`(${more} more finding${more === 1 ? '' : 's'} with -v)`)}`);
  // Failed expectations, and the user's own gates whatever their outcome.
  for (const e of s.expectations.filter((x) => !x.ok || x.origin === 'cli')) {
    const mark = e.ok ? c.green('✓') : e.severity === 'fail' ? c.red('✗') : c.yellow('!');
    lines.push(`  ${mark} ${sanitize(e.message, 400)} (expected ${sanitize(e.expression)}, measured ${formatMetric(e.metric, e.measured)})`);
  }
  const failed = s.status === 'fail' || s.status === 'error';
  if (s.race !== null && s.race.trials.length > 0 && (verbose || failed)) {
    lines.push(`  ${c.bold('race')} (request written T + offset after the previous response; * = the server's close had already arrived):`);
    for (const line of raceLines(s.race)) lines.push(`    ${line}`);
  }
  if (verbose || failed) {
    // Race trials are many and alike: the table above stands for them (JSON and HTML keep every timeline).
    const trialIds = new Set(s.race?.trials.map((t) => t.connection) ?? []);
    const timelines = s.connections.filter((conn) => !trialIds.has(conn.id));
    for (const conn of timelines) lines.push(...timeline(conn, c, verbose));
    if (timelines.length < s.connections.length)
      lines.push(`  ${c.dim(`(${s.connections.length - timelines.length} race connections: timelines in --json and --html)`)}`);
  }
  return lines;
}

/** Which clients reuse a dead connection against this server (the full table with -v), and the fix for the user's client. */
function clientsSection(result: RunResult, c: ChalkInstance, verbose: boolean): string {
  const named = result.clients.some((v) => v.yours);
  const hint = named ? '' : '; --client <name> for your setting';
  const lines = [`${c.bold('clients')} against this server (docs/clients.md${verbose ? '' : '; every column with -v'}${hint}):`];
  if (verbose) {
    const table = new Table({
      head: ['client', 'idle limit', 'Keep-Alive hint', 'reuses a dead connection', 'retries'].map((h) => c.bold(h)),
      style: TABLE_STYLE,
    });
    for (const v of result.clients) table.push(clientRow(v));
    lines.push(table.toString());
  } else {
    for (const [verdict, words] of Object.entries(STALE_GROUPS) as [ClientVerdict['staleReuse'], string][]) {
      const names = result.clients.filter((v) => v.staleReuse === verdict).map((v) => v.client);
      if (names.length > 0) lines.push(`  ${words}: ${names.join(', ')}`);
    }
  }
  const yours = result.clients.find((v) => v.yours);
  if (yours !== undefined) {
    if (yours.errors.length > 0) lines.push(`  ${yours.client} then shows: ${yours.errors.join(' / ')}`);
    lines.push(
      `  → ${yours.client}: ${yours.fix ?? (yours.staleReuse === 'no' ? 'nothing to change: it drops idle connections before the server does' : 'no setting can be derived: see docs/clients.md')}`,
    );
  }
  return lines.join('\n');
}

/** What each HTTP/2 client meets when the server ends an idle connection (the full table with -v), and the fix for the user's client. */
function h2ClientsSection(verdicts: readonly H2ClientVerdict[], c: ChalkInstance, verbose: boolean): string {
  const head = `${c.bold('HTTP/2 clients')} against this server (docs/clients.md#http2${verbose ? '' : '; every column with -v'})`;
  const lines = verbose ? [`${head}:`] : [];
  if (verbose) {
    const table = new Table({
      head: ['client', 'idle limit', 'ends an idle connection first', 'a request racing the end'].map((h) => c.bold(h)),
      style: TABLE_STYLE,
    });
    for (const v of verdicts) table.push(h2ClientRow(v));
    lines.push(table.toString());
  } else {
    // One line: the groups side by side (the HTTP/1 table above already takes the room).
    const end = verdicts[0]?.serverEnds === 'close' ? 'close (no GOAWAY)' : 'GOAWAY';
    const groups = (['fails', 'resent-if-replayable', 'resent', 'none', 'unknown'] as const).flatMap((race) => {
      const names = verdicts.filter((v) => v.race === race).map((v) => v.client);
      return names.length > 0 ? [`${H2_RACE_WORDS[race]}: ${names.join(', ')}`] : [];
    });
    lines.push(`${head}, a request racing its ${end}: ${groups.join('; ')}`);
  }
  const yours = verdicts.find((v) => v.yours);
  if (yours !== undefined) {
    if (yours.errors.length > 0) lines.push(`  ${yours.client} then shows: ${yours.errors.join(' / ')}`);
    if (yours.fix !== null) lines.push(`  → ${yours.client} (HTTP/2): ${yours.fix}`);
  }
  return lines.join('\n');
}

/** The clients summary's lines, worst first. */
const STALE_GROUPS: Record<ClientVerdict['staleReuse'], string> = {
  'every-reuse': 'reuse a dead connection on every reuse after the close',
  race: 'fail only when a request races the close',
  no: 'drop idle connections in time',
  unknown: 'unknown',
};

/**
 * cli-table3 colours its head (red) and border (grey) itself, and draws a rule between rows;
 * the report's one colour engine is chalk, so the table gets none of its own and compact rows.
 */
const TABLE_STYLE = { head: [], border: [], compact: true };

function paintStatus(status: ScenarioStatus, c: ChalkInstance): string {
  const text = status.toUpperCase();
  switch (status) {
    case 'pass':
      return c.green(text);
    case 'warn':
      return c.yellow(text);
    default:
      return c.red(text);
  }
}

/** Event lines of one timeline in the default report: the first and the last (an HTTP/2 connection records every frame). */
const TIMELINE_HEAD = 16;
const TIMELINE_TAIL = 8;

/** One connection's life, one line per event, times relative to its first event; without -v a long one shows its start and its end. */
function timeline(conn: ConnectionRecord, c: ChalkInstance, verbose: boolean): string[] {
  const origin = conn.events[0]?.t ?? 0;
  const remote = conn.remote === null ? '' : ` → ${conn.remote.address}:${conn.remote.port}`;
  const lines = [`  ${c.cyan(`connection ${conn.id}`)} (local :${conn.local?.port ?? '?'}${remote}, ${conn.bytesOut} B out, ${conn.bytesIn} B in)`];
  const events = conn.events.flatMap((event) => {
    const text = describeEvent(event, conn);
    return text === null ? [] : [`    ${`+${formatOffset(event.t - origin)}`.padEnd(10)} ${text}`];
  });
  const cut = !verbose && events.length > TIMELINE_HEAD + TIMELINE_TAIL + 1;
  if (!cut) lines.push(...events);
  else
    lines.push(
      ...events.slice(0, TIMELINE_HEAD),
      `    ${''.padEnd(10)} ${c.dim(`… ${events.length - TIMELINE_HEAD - TIMELINE_TAIL} more events (the rest with -v, --json, --html)`)}`,
      ...events.slice(-TIMELINE_TAIL),
    );
  const tw = conn.timeWait;
  const source = timeWaitSourceText(tw.source);
  lines.push(`    ${''.padEnd(10)} ${c.dim(`end: ${conn.end.summary}; TIME_WAIT: ${tw.side} (${source})`)}`);
  return lines;
}

function formatOffset(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

function footer(result: RunResult, c: ChalkInstance): string {
  const count = (status: ScenarioStatus): number => result.scenarios.filter((s) => s.status === status).length;
  const parts = [`${count('pass')} pass`, `${count('warn')} warn`, `${count('fail')} fail`, `${count('error')} error`];
  return c.bold(`${result.scenarios.length} scenarios in ${formatDuration(result.durationMs)}: ${parts.join(', ')} (exit code ${exitCodeFor(result)})`);
}
