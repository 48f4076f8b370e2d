import { closeSync, openSync, writeSync } from 'node:fs';
import type { RunResult } from '../model/result.js';
import { renderJson } from '../report/json.js';
import { renderJunit } from '../report/junit.js';
import { renderTerminal } from '../report/terminal.js';
import { UsageError } from './io.js';

/** Where one report goes: stdout, or a file opened before probing starts. */
type Sink = { readonly kind: 'stdout' } | { readonly kind: 'file'; readonly path: string; readonly fd: number };

/** The reports a run writes; the terminal report takes stdout unless a machine format does. */
export interface Outputs {
  readonly json: Sink | null;
  readonly junit: Sink | null;
  readonly terminal: boolean;
}

/**
 * Opens every output file before anything is probed, so a bad path fails at once (exit 2)
 * instead of after a minute of waiting for an idle timeout.
 */
export function openOutputs(json: string | boolean | undefined, junit: string | undefined): Outputs {
  const jsonSink = json === undefined || json === false ? null : sink(json === true ? '-' : json, '--json');
  const junitSink = junit === undefined ? null : sink(junit, '--junit');
  if (jsonSink?.kind === 'stdout' && junitSink?.kind === 'stdout') {
    throw new UsageError('--json and --junit cannot both write to stdout: give one of them a file');
  }
  return { json: jsonSink, junit: junitSink, terminal: jsonSink?.kind !== 'stdout' && junitSink?.kind !== 'stdout' };
}

function sink(target: string, option: string): Sink {
  if (target === '-') return { kind: 'stdout' };
  try {
    return { kind: 'file', path: target, fd: openSync(target, 'w') };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot write ${option} ${target}: ${e.code ?? e.message}`);
  }
}

/** Renders and writes each report. */
export function writeOutputs(outputs: Outputs, result: RunResult, color: boolean): void {
  if (outputs.json !== null) write(outputs.json, renderJson(result));
  if (outputs.junit !== null) write(outputs.junit, renderJunit(result));
  if (outputs.terminal) process.stdout.write(renderTerminal(result, { color }));
}

/** Closes the files without writing (the run could not start). */
export function closeOutputs(outputs: Outputs): void {
  for (const s of [outputs.json, outputs.junit]) if (s?.kind === 'file') closeSync(s.fd);
}

function write(target: Sink, text: string): void {
  if (target.kind === 'stdout') {
    process.stdout.write(text);
    return;
  }
  writeSync(target.fd, text);
  closeSync(target.fd);
}
