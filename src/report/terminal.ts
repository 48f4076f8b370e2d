import { Chalk } from 'chalk';
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { ConnectionRecord, MetricValue, RunResult, ScenarioResult, ScenarioStatus } from '../model/result.js';
import type { ConnEvent } from '../model/timeline.js';
import { formatDuration } from '../util/duration.js';
import { exitCodeFor } from './exitCode.js';
import { escapeForTerminal } from './sanitize.js';

/** How the terminal report is drawn; decided once by the CLI from the stream and environment. */
export interface TerminalOptions {
  readonly color: boolean;
}

/** The human report: header, summary table, then per scenario its findings, timelines and advice. */
export function renderTerminal(result: RunResult, options: TerminalOptions): string {
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const out: string[] = [];
  out.push(header(result, c), '');
  out.push(summaryTable(result, options.color), '');
  for (const scenario of result.scenarios) out.push(scenarioSection(scenario, c), '');
  out.push(footer(result, c));
  return `${out.join('\n')}\n`;
}

function header(result: RunResult, c: ChalkInstance): string {
  const server = result.target.server === null ? 'no Server header' : `Server: ${escapeForTerminal(result.target.server)}`;
  const lines = [`${c.bold('keepalive-probe')} ${result.tool.version} → ${c.bold(escapeForTerminal(result.target.url))} (${server})`];
  const lab = result.target.lab;
  if (lab !== null) {
    const cap = lab.maxRequests === 0 ? 'no request cap' : `closes after ${lab.maxRequests} requests${lab.announceLast ? '' : ' without warning'}`;
    const idle = lab.idleTimeoutMs === 0 ? 'no idle timeout' : `idle timeout ${formatDuration(lab.idleTimeoutMs)}`;
    lines.push(
      `Target: the embedded lab server (${idle}, ${cap}, HTTP/1.0 keep-alive ${lab.http10 === 'close' ? 'refused' : 'honoured'}, closes with ${lab.close.toUpperCase()}${lab.advertise ? ', advertises Keep-Alive' : ''}).`,
      'Run "keepalive-probe run <url>" to probe your own server; "keepalive-probe serve --help" to run the lab with other settings.',
    );
  }
  lines.push(`Bounds: idle wait ${formatDuration(result.options.maxIdleMs)} (--max-idle), ${result.options.maxRequests} requests (--max-requests).`);
  return lines.join('\n');
}

function summaryTable(result: RunResult, color: boolean): string {
  // cli-table3 colours its head and border by default; no colour means none at all.
  const style = color ? {} : { head: [], border: [] };
  const table = new Table({ head: ['scenario', 'result', 'key figure', 'took'], style });
  for (const s of result.scenarios) {
    table.push([s.id, s.status, keyFigure(s), formatDuration(s.durationMs)]);
  }
  return table.toString();
}

/** The scenario's headline metric, or its error, in a few words. */
function keyFigure(s: ScenarioResult): string {
  if (s.error !== null) return escapeForTerminal(s.error.code);
  const [name, value] = headlineOf(s);
  return name === null ? '' : `${name} ${formatMetric(name, value)}`;
}

function headlineOf(s: ScenarioResult): [string | null, MetricValue] {
  const name = s.headline ?? Object.keys(s.metrics)[0] ?? null;
  return name === null ? [null, null] : [name, s.metrics[name] ?? null];
}

/** Formats a metric for people: *Ms values as durations, *S values in seconds, booleans as yes/no. */
export function formatMetric(name: string, value: MetricValue): string {
  if (value === null) return 'none';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number' && name.endsWith('Ms')) return formatDuration(value);
  if (typeof value === 'number' && name.endsWith('S')) return `${value} s`;
  return escapeForTerminal(String(value));
}

function scenarioSection(s: ScenarioResult, c: ChalkInstance): string {
  const lines = [`${c.bold(`${s.id}`)} — ${escapeForTerminal(s.title)} ${paintStatus(s.status, c)} (${formatDuration(s.durationMs)})`];
  if (s.error !== null) lines.push(`  ${c.red('could not run:')} ${escapeForTerminal(s.error.message, 400)}`);
  const metrics = Object.entries(s.metrics).map(([k, v]) => `${k}=${formatMetric(k, v)}`);
  if (metrics.length > 0) lines.push(`  ${c.dim('metrics:')} ${metrics.join('  ')}`);
  for (const f of s.findings) lines.push(`  • ${escapeForTerminal(f.text, 400)}`);
  // Failed expectations, and the user's own gates whatever their outcome.
  for (const e of s.expectations.filter((x) => !x.ok || x.origin === 'cli')) {
    const mark = e.ok ? c.green('✓') : e.severity === 'fail' ? c.red('✗') : c.yellow('!');
    lines.push(`  ${mark} ${escapeForTerminal(e.message, 400)} (expected ${escapeForTerminal(e.expression)}, measured ${formatMetric(e.metric, e.measured ?? null)})`);
  }
  for (const conn of s.connections) lines.push(...timeline(conn, c));
  if (s.advice.length > 0) {
    lines.push(`  ${c.bold('what to do:')}`);
    for (const a of s.advice) lines.push(`  → ${a}`);
  }
  return lines.join('\n');
}

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

/** One connection's life, one line per event, times relative to its first event. */
function timeline(conn: ConnectionRecord, c: ChalkInstance): string[] {
  const origin = conn.events[0]?.t ?? 0;
  const remote = conn.remote === null ? '' : ` → ${conn.remote.address}:${conn.remote.port}`;
  const lines = [`  ${c.cyan(`connection ${conn.id}`)} (local :${conn.local?.port ?? '?'}${remote}, ${conn.bytesOut} B out, ${conn.bytesIn} B in)`];
  for (const event of conn.events) {
    const text = describeEvent(event, conn);
    if (text !== null) lines.push(`    ${`+${formatOffset(event.t - origin)}`.padEnd(10)} ${text}`);
  }
  const tw = conn.timeWait;
  const source = tw.source === 'proc-net-tcp' ? 'seen in /proc/net/tcp' : 'inferred';
  lines.push(`    ${''.padEnd(10)} ${c.dim(`end: ${conn.end.summary}; TIME_WAIT: ${tw.side} (${source})`)}`);
  return lines;
}

function describeEvent(e: ConnEvent, conn: ConnectionRecord): string | null {
  switch (e.kind) {
    case 'connect':
      return `connect :${e.local.port}`;
    case 'tls':
      return `TLS ${e.protocol ?? ''}${e.alpn === null ? '' : ` (ALPN ${e.alpn})`}`;
    case 'request':
      return `→ ${e.method} ${escapeForTerminal(e.path)} HTTP/${e.version}${e.connection === null ? '' : ` (Connection: ${escapeForTerminal(e.connection)})`}`;
    case 'response-head': {
      const extras = [e.connectionHeader === null ? null : `Connection: ${e.connectionHeader}`, e.keepAliveHeader === null ? null : `Keep-Alive: ${e.keepAliveHeader}`]
        .filter((x): x is string => x !== null)
        .map((x) => escapeForTerminal(x));
      const info = e.informational.length > 0 ? ` after ${e.informational.join(', ')}` : '';
      return `← ${e.status} HTTP/${e.version} ${e.keepAlive ? 'keep-alive' : 'not persistent'}${info}${extras.length > 0 ? ` (${extras.join('; ')})` : ''}`;
    }
    case 'response-complete':
      return `← response #${e.index} complete (${e.bodyBytes} B body)`;
    case 'unsolicited':
      return `← ${e.bytes} B nobody asked for: "${escapeForTerminal(e.preview, 64)}"`;
    case 'peer-fin':
      return `← FIN${conn.end.kind !== 'client-close' && conn.end.evidence.includes(e.t) ? ` (${conn.end.summary})` : ''}`;
    case 'error':
      return `✗ ${e.code}${e.syscall === null ? '' : ` on ${e.syscall}`}${e.code === 'ECONNRESET' ? ' (RST from the server)' : ''}`;
    case 'protocol-error':
      return `✗ ${escapeForTerminal(e.message, 200)}`;
    case 'timeout':
      return `✗ ${e.deadline} deadline (${formatDuration(e.limitMs)}) expired`;
    case 'local-close':
      return `→ ${e.how.toUpperCase()} (probe closed: ${e.reason})`;
    case 'closed':
      return 'closed';
  }
}

function formatOffset(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

function footer(result: RunResult, c: ChalkInstance): string {
  const count = (status: ScenarioStatus): number => result.scenarios.filter((s) => s.status === status).length;
  const parts = [`${count('pass')} pass`, `${count('warn')} warn`, `${count('fail')} fail`, `${count('error')} error`];
  return c.bold(`${result.scenarios.length} scenarios in ${formatDuration(result.durationMs)}: ${parts.join(', ')} (exit code ${exitCodeFor(result)})`);
}
