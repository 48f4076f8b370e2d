import { randomBytes } from 'node:crypto';
import { closeSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RunResult } from '../model/result.js';
import { renderHtml } from '../report/html.js';
import { renderJson } from '../report/json.js';
import { renderJunit } from '../report/junit.js';
import { renderTerminal } from '../report/terminal.js';
import { UsageError } from '../model/errors.js';

/**
 * Where one report goes: stdout, or a file. A file report is written to a temporary file
 * beside it, created before probing starts (so a bad path fails at once), and renamed into
 * place when complete: a run killed at any moment leaves the previous report whole.
 */
type Sink =
  | { readonly kind: 'stdout' }
  | { readonly kind: 'file'; readonly path: string; readonly temp: string; readonly fd: number; open: boolean; done: boolean }
  /** Something that is not a regular file (/dev/null, a FIFO, /dev/stderr): written in place, never replaced. */
  | { readonly kind: 'device'; readonly path: string; readonly fd: number };

type Format = 'json' | 'junit' | 'html';

const RENDER: Record<Format, (result: RunResult) => string> = { json: renderJson, junit: renderJunit, html: renderHtml };

/** The reports a run writes. The terminal report takes stdout unless a report asked for it, then stderr. */
export interface Outputs {
  readonly reports: readonly { readonly format: Format; readonly sink: Sink }[];
  readonly terminal: 'stdout' | 'stderr' | 'none';
  /** -v: the terminal report in full. */
  readonly verbose: boolean;
}

/** The report options as commander parsed them (`--json` alone means stdout). */
export interface OutputFlags {
  readonly json?: string | boolean;
  readonly junit?: string;
  readonly html?: string;
  readonly quiet?: boolean;
  readonly verbose?: boolean;
}

/**
 * Opens every output file before anything is probed, so a bad path fails at once (exit 2)
 * instead of after a minute of waiting for an idle timeout.
 */
export function openOutputs(flags: OutputFlags): Outputs {
  const wanted: [Format, string | undefined][] = [
    ['json', flags.json === true ? '-' : flags.json === false ? undefined : flags.json],
    ['junit', flags.junit],
    ['html', flags.html],
  ];
  const toStdout = wanted.filter(([, target]) => target === '-').map(([format]) => `--${format}`);
  if (toStdout.length > 1) throw new UsageError(`${toStdout.join(' and ')} cannot all write to stdout: give all but one of them a file`);
  const reports: { format: Format; sink: Sink }[] = [];
  try {
    for (const [format, target] of wanted) if (target !== undefined) reports.push({ format, sink: sink(target, `--${format}`) });
  } catch (err) {
    closeOutputs({ reports, terminal: 'none', verbose: false });
    throw err;
  }
  const terminal = flags.quiet === true ? 'none' : toStdout.length > 0 ? 'stderr' : 'stdout';
  return { reports, terminal, verbose: flags.verbose === true };
}

/** Temporary files not yet renamed into place, removed if the process exits first (a second Ctrl-C). */
const pending = new Set<Extract<Sink, { kind: 'file' }>>();
process.on('exit', () => {
  for (const s of pending) abandon(s);
});

function sink(target: string, option: string): Sink {
  if (target === '-') return { kind: 'stdout' };
  const fail = (why: string): never => {
    throw new UsageError(`cannot write ${option} ${target}: ${why}`);
  };
  try {
    const existing = statSync(target, { throwIfNoEntry: false });
    if (existing?.isDirectory() === true) fail('it is a directory');
    // Renaming a temporary file onto /dev/null (as root) would replace the device with a file.
    if (existing !== undefined && !existing.isFile()) return { kind: 'device', path: target, fd: openSync(target, 'w') };
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const s: Extract<Sink, { kind: 'file' }> = { kind: 'file', path: target, temp, fd: openSync(temp, 'wx'), open: true, done: false };
    pending.add(s);
    return s;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err as NodeJS.ErrnoException;
    return fail(e.code ?? e.message);
  }
}

/** Renders and writes each report; `color` decides for the terminal report's stream. */
export function writeOutputs(outputs: Outputs, result: RunResult, color: (stream: NodeJS.WriteStream) => boolean): void {
  // Render all before writing any: a renderer that throws leaves every file to closeOutputs.
  const rendered = outputs.reports.map(({ format, sink: target }) => ({ target, text: RENDER[format](result) }));
  for (const { target, text } of rendered) write(target, text);
  if (outputs.terminal === 'none') return;
  const stream = outputs.terminal === 'stdout' ? process.stdout : process.stderr;
  stream.write(renderTerminal(result, { color: color(stream), verbose: outputs.verbose }));
}

/** Abandons the files without writing (the run could not start): the temporary files go, any previous reports stay. */
export function closeOutputs(outputs: Outputs): void {
  for (const { sink: s } of outputs.reports) {
    if (s.kind === 'file') abandon(s);
    if (s.kind === 'device') closeSync(s.fd);
  }
}

function abandon(target: Extract<Sink, { kind: 'file' }>): void {
  pending.delete(target);
  if (target.open) {
    target.open = false;
    closeSync(target.fd);
  }
  if (!target.done) {
    try {
      unlinkSync(target.temp);
    } catch {
      // already gone
    }
  }
}

function write(target: Sink, text: string): void {
  if (target.kind === 'stdout') {
    process.stdout.write(text);
    return;
  }
  if (target.kind === 'device') {
    try {
      writeSync(target.fd, text);
    } finally {
      closeSync(target.fd);
    }
    return;
  }
  try {
    writeSync(target.fd, text);
    target.open = false;
    closeSync(target.fd);
    renameSync(target.temp, target.path);
    target.done = true;
  } finally {
    abandon(target);
  }
}
