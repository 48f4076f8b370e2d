import { isAnswered } from '../timeline/outcome.js';
import type { ConnectionRecord, RaceReport, RunResult, ScenarioResult, ScenarioStatus } from '../model/result.js';
import { byOffset } from '../measures/race.js';
import type { ConnEvent } from '../model/events.js';
import { eventMark } from '../timeline/classifyClose.js';
import type { EventMark } from '../timeline/classifyClose.js';
import { phases } from '../timeline/queries.js';
import { formatDuration, roundMs } from '../util/duration.js';
import { exitCodeFor } from '../verdict/exitCode.js';
import { clientRow, describeEvent, h2ClientRow, errorText, evidenceNote, formatMeasured, formatMetric, hopChain, keyFigure, offsetLabel } from './format.js';
import { sanitize } from '../util/sanitize.js';
import { escapeXml, xmlText } from './xml.js';

/**
 * The --html report: one self-contained file (inline CSS and SVG, no script, no external
 * asset; a Content-Security-Policy forbids loading anything) with the summary and, per
 * scenario, an SVG timeline of every connection drawn to scale: a lane per connection,
 * requests and responses as marks, idle gaps as dashed spans, the close as FIN or RST with
 * the side that sent it, and errors in red.
 *
 * Every string that can come from the server goes through `xmlText()`: control and bidi
 * characters made visible (as in the terminal), then markup escaped.
 *
 * Stable hooks for tests and user styling: section.scenario[data-scenario][data-status],
 * g.lane[data-connection][data-closed-by][data-signal], and inside a lane
 * g.mark[data-kind][data-t] (kind: connect, request, response, fin, rst, error, timeout,
 * unsolicited) and rect.idle[data-ms].
 */
export function renderHtml(result: RunResult): string {
  const code = exitCodeFor(result);
  const body = [
    `<header><h1>keepalive-probe report</h1>${targetLine(result)}</header>`,
    ...(result.error === null ? [] : [`<p class="error-box">could not probe the target: ${escapeXml(errorText(result.error))}</p>`]),
    summary(result, code),
    ...result.scenarios.map((s) => scenarioSection(s)),
    ...(result.clients.length > 0 ? [clientsTable(result)] : []),
    ...(result.h2Clients.length > 0 ? [h2ClientsTable(result)] : []),
    `<footer>keepalive-probe ${xmlText(result.tool.version)} · exit code ${code} · times late by at most ${formatDuration(result.loopDelayMaxMs)} (the probe's event-loop delay) · machine-readable: --json (docs/json-report.md)</footer>`,
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>keepalive-probe — ${xmlText(result.target.url)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function targetLine(result: RunResult): string {
  const t = result.target;
  const server = t.server === null ? 'no Server header' : `Server: ${xmlText(t.server)}`;
  const lab = t.lab === null ? '' : ' · the embedded lab server';
  const bounds = `idle wait bound ${formatDuration(result.options.maxIdleMs)}, ${result.options.maxRequests} requests`;
  const hops = result.hops.length === 0 ? '' : `<p class="hops">Hops, from the client inward: ${escapeXml(hopChain(result))}</p>`;
  const via = t.connectAddress === null ? '' : ` via ${xmlText(t.connectAddress)}`;
  const evidence = evidenceNote(result);
  return `${hops}<p class="target"><strong>${xmlText(t.url)}</strong>${via} (${server}${lab}) · started ${xmlText(result.startedAt)} · ${formatDuration(result.durationMs)} · ${bounds}</p>${evidence === null ? '' : `<p class="evidence">${xmlText(evidence)}</p>`}`;
}

function summary(result: RunResult, code: number): string {
  const rows = result.scenarios.map(
    (s) =>
      `<tr data-scenario="${xmlText(s.id)}" data-status="${s.status}"><td><a href="#scenario-${xmlText(s.id)}">${xmlText(s.id)}</a></td>` +
      `<td>${badge(s.status)}</td><td>${escapeXml(keyFigure(s))}</td><td>${formatDuration(s.durationMs)}</td></tr>`,
  );
  const counts = (['pass', 'warn', 'fail', 'error'] as const).map((st) => `${result.scenarios.filter((s) => s.status === st).length} ${st}`).join(', ');
  return [
    '<table class="summary"><thead><tr><th>scenario</th><th>result</th><th>key figure</th><th>took</th></tr></thead><tbody>',
    ...rows,
    `</tbody></table><p class="counts">${result.scenarios.length} scenarios: ${counts} (exit code ${code})</p>`,
  ].join('\n');
}

function clientsTable(result: RunResult): string {
  const rows = result.clients.map((v) => {
    const cells = clientRow(v)
      .map((cell) => `<td>${xmlText(cell)}</td>`)
      .join('');
    return `<tr data-client="${xmlText(v.client)}" data-stale-reuse="${v.staleReuse}"${v.yours ? ' class="yours"' : ''}>${cells}<td>${v.fix === null ? '' : `<code>${xmlText(v.fix, 400)}</code>`}</td></tr>`;
  });
  return [
    '<section class="clients"><h2>Clients against this server</h2>',
    '<table class="clients"><thead><tr><th>client</th><th>idle limit</th><th>Keep-Alive hint</th><th>reuses a dead connection</th><th>retries</th><th>fix</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table><p class="counts">Sources and rules: docs/clients.md</p></section>',
  ].join('\n');
}

function h2ClientsTable(result: RunResult): string {
  const rows = result.h2Clients.map((v) => {
    const cells = [...h2ClientRow(v), v.errors.join(' / ')].map((cell) => `<td>${xmlText(cell, 400)}</td>`).join('');
    return `<tr data-client="${xmlText(v.client)}" data-race="${v.race}"${v.yours ? ' class="yours"' : ''}>${cells}<td>${v.fix === null ? '' : `<code>${xmlText(v.fix, 400)}</code>`}</td></tr>`;
  });
  return [
    '<section class="clients h2-clients"><h2>HTTP/2 clients against this server</h2>',
    '<table class="clients"><thead><tr><th>client</th><th>idle limit</th><th>ends an idle connection first</th><th>a request racing the end</th><th>it then shows</th><th>fix</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table><p class="counts">Sources and rules: docs/clients.md (HTTP/2)</p></section>',
  ].join('\n');
}

function badge(status: ScenarioStatus): string {
  return `<span class="status status-${status}">${status.toUpperCase()}</span>`;
}

function scenarioSection(s: ScenarioResult): string {
  const parts = [`<section class="scenario" id="scenario-${xmlText(s.id)}" data-scenario="${xmlText(s.id)}" data-status="${s.status}">`];
  parts.push(`<h2>${xmlText(s.id)} — ${xmlText(s.title)} ${badge(s.status)} <small>${formatDuration(s.durationMs)}</small></h2>`);
  if (s.error !== null) parts.push(`<p class="error-box">could not run: ${xmlText(s.error.message, 400)} [${xmlText(s.error.code)}]</p>`);
  const metrics = Object.entries(s.metrics);
  if (metrics.length > 0) {
    parts.push(`<dl class="metrics">${metrics.map(([k]) => `<div><dt>${xmlText(k)}</dt><dd>${escapeXml(formatMeasured(s, k))}</dd></div>`).join('')}</dl>`);
  }
  const items = [
    ...s.findings.map((f) => `<li class="finding">${xmlText(f.text, 400)}</li>`),
    ...s.expectations
      .filter((e) => !e.ok || e.origin === 'cli')
      .map(
        (e) =>
          `<li class="expectation ${e.ok ? 'ok' : e.severity}">${e.ok ? '✓' : e.severity === 'fail' ? '✗' : '!'} ${xmlText(e.message, 400)} ` +
          `(expected <code>${xmlText(e.expression)}</code>, measured ${escapeXml(formatMetric(e.metric, e.measured))})</li>`,
      ),
  ];
  if (items.length > 0) parts.push(`<ul class="findings">${items.join('')}</ul>`);
  if (s.race !== null && s.race.trials.length > 0) parts.push(raceTable(s.race));
  if (s.connections.length > 0) parts.push(timelineSvg(s), LEGEND);
  if (s.advice.length > 0) parts.push(`<h3>What to do</h3><ul class="advice">${s.advice.map((a) => `<li>${xmlText(a, 1000)}</li>`).join('')}</ul>`);
  parts.push('</section>');
  return parts.join('\n');
}

/** One row per planned offset: each trial's outcome and its real idle time; failures in red. */
function raceTable(race: RaceReport): string {
  const rows = [...byOffset(race.trials)].map(([offset, trials]) => {
    const cells = trials
      .map(
        (t) =>
          `<span class="trial ${isAnswered(t.outcome) ? 'ok' : 'failed'}" data-outcome="${xmlText(t.outcome)}" data-idle-ms="${t.idleMs}">${xmlText(t.outcome)}${t.closeSeenBeforeWrite ? '*' : ''} <small>${t.idleMs.toFixed(1)} ms</small></span>`,
      )
      .join(' ');
    return `<tr data-offset-ms="${offset}"><td>${xmlText(offsetLabel(offset))}</td><td>${cells}</td></tr>`;
  });
  return [
    `<table class="race"><caption>Requests written T + offset after the previous response (T = ${race.idleTimeoutMs?.toFixed(1) ?? '?'} ms); * = the server's close had already arrived</caption>`,
    '<thead><tr><th>offset</th><th>outcome (real idle time)</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
  ].join('\n');
}

// Geometry of the timeline, in SVG user units (the SVG scales to the page width).
const WIDTH = 1000;
const LABEL_W = 150;
const PAD_R = 60;
const AXIS_H = 26;
const LANE_H = 52;
const PLOT_W = WIDTH - LABEL_W - PAD_R;

/** One scenario's connections on a shared time axis (ms since the scenario started). */
function timelineSvg(s: ScenarioResult): string {
  const times = s.connections.flatMap((c) => c.events.map((e) => e.t));
  const t0 = Math.min(s.startedAtMs, ...times);
  const span = Math.max(1, Math.max(...times) - t0);
  const x = (t: number): number => roundMs(LABEL_W + ((t - t0) / span) * PLOT_W);
  const height = AXIS_H + LANE_H * s.connections.length + 8;
  const lanes = s.connections.map((c, i) => lane(c, AXIS_H + i * LANE_H, x));
  return [
    `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${xmlText(`timeline of ${s.id}: ${s.connections.length} connection(s) over ${formatDuration(span)}`)}">`,
    axis(span, height, x, t0),
    ...lanes,
    '</svg>',
  ].join('\n');
}

/** Tick marks at a round interval so that about 6 fit. */
function axis(span: number, height: number, x: (t: number) => number, t0: number): string {
  const step = niceStep(span / 6);
  const ticks: string[] = [];
  for (let ms = 0; ms <= span + 1e-9; ms += step) {
    const px = x(t0 + ms);
    ticks.push(
      `<line class="tick" x1="${px}" y1="${AXIS_H - 6}" x2="${px}" y2="${height}"/><text class="tick-label" x="${px}" y="${AXIS_H - 10}">${formatDuration(ms)}</text>`,
    );
  }
  return `<g class="axis">${ticks.join('')}</g>`;
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 0.001)));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

function lane(conn: ConnectionRecord, top: number, x: (t: number) => number): string {
  const mid = top + LANE_H / 2;
  const first = conn.events[0]?.t ?? 0;
  const last = conn.events.at(-1)?.t ?? first;
  const closedBy = conn.end.closedBy;
  const signal = conn.end.signal ?? 'none';
  const label = `${conn.id}${conn.local === null ? '' : ` :${conn.local.port}`}`;
  const parts = [
    `<g class="lane" data-connection="${xmlText(conn.id)}" data-closed-by="${closedBy}" data-signal="${signal}" data-end="${conn.end.kind}">`,
    `<title>${xmlText(`connection ${conn.id}: ${conn.end.summary}; TIME_WAIT: ${conn.timeWait.side}`, 600)}</title>`,
    `<text class="lane-label" x="6" y="${mid + 4}">${xmlText(label, 40)}</text>`,
    `<line class="life" x1="${x(first)}" y1="${mid}" x2="${x(last)}" y2="${mid}"/>`,
    ...spans(conn, mid, x),
    ...marks(conn, mid, x),
    '</g>',
  ];
  return parts.join('\n');
}

/** Busy spans (request to response end) and idle gaps (response end to the next request or the close). */
function spans(conn: ConnectionRecord, mid: number, x: (t: number) => number): string[] {
  const elided = conn.events.filter((e) => e.kind === 'elided');
  return phases(conn.events).map((p) =>
    p.kind === 'idle'
      ? idleRect(p.from, p.to, mid, x)
      : p.kind === 'elided'
        ? elidedRect(
            p.from,
            p.to,
            mid,
            x,
            elided.find((e) => e.t === p.from),
          )
        : `<rect class="busy" x="${x(p.from)}" y="${mid - 5}" width="${Math.max(2, x(p.to) - x(p.from))}" height="10"/>`,
  );
}

/** Exchanges counted, not kept (a long connection's middle): one hatched span, its counts in the caption and the tooltip. */
function elidedRect(from: number, to: number, mid: number, x: (t: number) => number, e: ConnEvent | undefined): string {
  const w = x(to) - x(from);
  const n = e?.kind === 'elided' ? e.counts.responses : 0;
  const words = `${n} exchanges over ${formatDuration(to - from)}, counted, not kept`;
  const label = w > 90 ? `<text class="idle-label" x="${roundMs(x(from) + w / 2)}" y="${mid - 8}">… ${n} exchanges</text>` : '';
  return `<rect class="elided" data-responses="${n}" x="${x(from)}" y="${mid - 5}" width="${roundMs(Math.max(2, w))}" height="10"><title>${escapeXml(words)}</title></rect>${label}`;
}

function idleRect(from: number, to: number, mid: number, x: (t: number) => number): string {
  const ms = to - from;
  const w = x(to) - x(from);
  const label = w > 70 ? `<text class="idle-label" x="${roundMs(x(from) + w / 2)}" y="${mid - 8}">idle ${formatDuration(ms)}</text>` : '';
  return `<rect class="idle" data-ms="${roundMs(ms)}" x="${x(from)}" y="${mid - 1.5}" width="${roundMs(Math.max(0, w))}" height="3"><title>idle ${formatDuration(ms)}</title></rect>${label}`;
}

/** A lane's marks; captions go below the lane (the client's own closes above), moving to the other row when one is already there. */
function marks(conn: ConnectionRecord, mid: number, x: (t: number) => number): string[] {
  const placed: { readonly px: number; readonly y: number }[] = [];
  const rows = { below: mid + 25, above: mid - 16 };
  const captionY = (px: number, prefer: 'below' | 'above'): number | null => {
    const order = prefer === 'below' ? [rows.below, rows.above] : [rows.above, rows.below];
    const y = order.find((row) => !placed.some((p) => p.y === row && Math.abs(p.px - px) < CAPTION_W));
    if (y !== undefined) placed.push({ px, y });
    return y ?? null;
  };
  return conn.events.map((e) => mark(e, conn, mid, x, captionY)).filter((m): m is string => m !== null);
}

/** Room a caption needs along the axis, in SVG units. */
const CAPTION_W = 80;

function mark(
  e: ConnEvent,
  conn: ConnectionRecord,
  mid: number,
  x: (t: number) => number,
  captionY: (px: number, prefer: 'below' | 'above') => number | null,
): string | null {
  const kind = eventMark(e, conn.end);
  if (kind === null) return null;
  const px = x(e.t);
  const origin = conn.events[0]?.t ?? e.t;
  const title = `+${formatDuration(e.t - origin)} ${describeEvent(e, conn) ?? e.kind}`;
  const shape = SHAPES[kind](px, mid);
  const caption = CAPTIONS[kind]?.(e) ?? '';
  const y = caption === '' ? null : captionY(px, e.kind === 'local-close' ? 'above' : 'below');
  const label = y === null ? '' : `<text class="mark-label" x="${px}" y="${y}">${escapeXml(caption)}</text>`;
  return `<g class="mark ${kind}" data-kind="${kind}" data-t="${roundMs(e.t)}"><title>${escapeXml(title)}</title>${shape}${label}</g>`;
}

const SHAPES: Record<EventMark, (px: number, mid: number) => string> = {
  connect: (px, mid) => `<circle cx="${px}" cy="${mid}" r="4"/>`,
  // Client → server above the lane, server → client below it.
  request: (px, mid) => `<path d="M${px - 5} ${mid - 15} L${px + 5} ${mid - 15} L${px} ${mid - 6} Z"/>`,
  response: (px, mid) => `<path d="M${px - 5} ${mid + 15} L${px + 5} ${mid + 15} L${px} ${mid + 6} Z"/>`,
  fin: (px, mid) => `<rect x="${px - 2}" y="${mid - 12}" width="4" height="24"/>`,
  rst: (px, mid) => `<path d="M${px - 6} ${mid - 6} L${px + 6} ${mid + 6} M${px + 6} ${mid - 6} L${px - 6} ${mid + 6}"/>`,
  error: (px, mid) => `<circle cx="${px}" cy="${mid}" r="7"/>`,
  timeout: (px, mid) => `<circle cx="${px}" cy="${mid}" r="7"/>`,
  unsolicited: (px, mid) => `<circle cx="${px}" cy="${mid}" r="5"/>`,
  goaway: (px, mid) => `<path d="M${px} ${mid - 8} L${px + 7} ${mid} L${px} ${mid + 8} L${px - 7} ${mid} Z"/>`,
};

/** Short words under a mark: who closed and how, or the error code. */
const CAPTIONS: Partial<Record<EventMark, (e: ConnEvent) => string>> = {
  fin: (e) => (e.kind === 'peer-fin' ? 'FIN ← server' : 'FIN → client'),
  rst: (e) => (e.kind === 'local-close' ? 'RST → client' : 'RST ← server'),
  error: (e) => (e.kind === 'error' ? sanitize(e.code, 24) : 'protocol error'),
  timeout: (e) => (e.kind === 'timeout' ? `${e.deadline} timeout` : ''),
  goaway: (e) => (e.kind === 'h2-frame' ? `GOAWAY ${sanitize(e.frame.errorCode ?? '', 24)} ← server` : ''),
};

const LEGEND =
  '<p class="legend"><span class="k req">▼ request</span> <span class="k resp">▲ response</span> <span class="k busy">▬ in flight</span> ' +
  '<span class="k idle">┄ idle (to scale)</span> <span class="k fin">▮ FIN</span> <span class="k rst">✕ RST</span> <span class="k err">● error</span> <span class="k goaway">◆ GOAWAY (HTTP/2)</span> · hover a mark for details</p>';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 4px}
.target{margin:0 0 14px;color:#475066}
table.summary,table.clients{border-collapse:collapse;margin:8px 0}table.summary th,table.summary td,table.clients th,table.clients td{border:1px solid #d5d9e2;padding:4px 10px;text-align:left}
table.summary th,table.clients th{background:#f2f4f8}table.clients{font-size:13px;max-width:100%}table.clients td:nth-child(-n+5){white-space:nowrap}table.clients code{overflow-wrap:anywhere;font-size:12px}.counts{color:#475066}
.status{font-size:12px;font-weight:600;padding:1px 7px;border-radius:9px;color:#fff}
.status-pass{background:#2e8540}.status-warn{background:#b7791f}.status-fail,.status-error{background:#c53030}
section.scenario{border:1px solid #d5d9e2;border-radius:8px;padding:14px 16px;margin:18px 0}
section.scenario small{color:#6b7385;font-weight:400}
.error-box{background:#fde8e8;border-left:4px solid #c53030;padding:6px 10px}
dl.metrics{display:flex;flex-wrap:wrap;gap:6px 18px;margin:6px 0}dl.metrics div{display:flex;gap:6px}dt{color:#6b7385}dd{margin:0;font-weight:600}
ul.findings{margin:6px 0;padding-left:20px}li.expectation.fail{color:#c53030}li.expectation.warn{color:#9c5d00}li.expectation.ok{color:#2e8540}
svg.timeline{display:block;margin:10px 0 4px;background:#fbfcfe;border:1px solid #e3e6ee;border-radius:6px}
.tick{stroke:#e3e6ee;stroke-width:1}.tick-label{font-size:11px;fill:#6b7385;text-anchor:middle}
.lane-label{font:12px ui-monospace,monospace;fill:#1d2330}.life{stroke:#9aa3b5;stroke-width:1}
.busy{fill:#3b6fd8;opacity:.35}.elided{fill:#3b6fd8;opacity:.15;stroke:#3b6fd8;stroke-dasharray:3 2}.idle{fill:#9aa3b5}.idle-label{font-size:11px;fill:#6b7385;text-anchor:middle}
.mark.connect circle{fill:#1d2330}.mark.request path{fill:#3b6fd8}.mark.response path{fill:#2e8540}
.mark.goaway path{fill:#2b6cb0}.mark.fin rect{fill:#b7791f}.mark.rst path{stroke:#c53030;stroke-width:3}
.mark.error circle,.mark.timeout circle{fill:#c53030;stroke:#fff;stroke-width:1.5}.mark.unsolicited circle{fill:#805ad5}
.mark-label{font-size:11px;text-anchor:middle;fill:#1d2330}.mark.error .mark-label,.mark.rst .mark-label,.mark.timeout .mark-label{fill:#c53030;font-weight:600}
.legend{font-size:12px;color:#475066;margin:0 0 8px}.k{margin-right:8px}.req{color:#3b6fd8}.resp{color:#2e8540}.fin{color:#b7791f}.rst,.err{color:#c53030}
table.race{border-collapse:collapse;margin:8px 0;font-size:13px}table.race td,table.race th{border:1px solid #e3e6ee;padding:2px 8px;text-align:left}
table.race caption{text-align:left;color:#475066;padding:2px 0}.trial{margin-right:10px}.trial.ok{color:#2e8540}.trial.failed{color:#c53030;font-weight:600}
tr.yours{font-weight:600;background:#eef3fd}
ul.advice{padding-left:20px}footer{color:#6b7385;margin:24px 0}code{font-family:ui-monospace,monospace}
`.trim();
