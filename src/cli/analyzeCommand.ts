import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureCapture } from '../measures/measureCapture.js';
import { Aborted, abortReason } from '../model/errors.js';
import { makeAnalyzePlan } from '../plan/analyzePlan.js';
import { exitCodeFor, signalExit } from '../verdict/exitCode.js';
import { judge } from '../verdict/judge.js';
import { closeOutputs, openOutputs, writeOutputs } from './outputs.js';
import type { OutputFlags } from './outputs.js';
import { stopOnSignals } from './signals.js';
import { useColor } from './terminalStyle.js';
import type { ColorChoice } from './terminalStyle.js';

/** Flags of `keepalive-probe analyze`, as commander parsed them. */
export interface AnalyzeFlags extends OutputFlags {
  readonly port?: readonly number[];
  readonly host?: readonly string[];
  readonly stream?: readonly number[];
  readonly tlsKeylog?: string;
  readonly expect?: readonly string[];
  readonly client?: string;
  readonly clientIdle?: number;
  readonly color: ColorChoice;
}

/**
 * `keepalive-probe analyze <capture>`: plan → tshark → measure → judge → write → exit code, as
 * `run` does. A signal stops tshark (no report: the capture was not read to its end) and exits
 * 128 + its number; the temporary directory a large capture is split in goes on every exit,
 * a second signal's immediate one included.
 */
export async function analyzeCommand(file: string, flags: AnalyzeFlags): Promise<number> {
  const plan = makeAnalyzePlan({
    file,
    ports: flags.port ?? [],
    hosts: flags.host ?? [],
    streams: flags.stream ?? [],
    tlsKeylog: flags.tlsKeylog ?? null,
    expect: flags.expect ?? [],
    client: flags.client ?? null,
    clientIdleMs: flags.clientIdle ?? null,
  });
  const outputs = openOutputs(flags);
  // A small capture needs no temporary directory: when none can be made here, a large one says why (wire/tshark.ts, TempSpaceError).
  const tempRoot = madeTempDir();
  const removeTemp = (): void => {
    if (tempRoot !== undefined) rmSync(tempRoot, { recursive: true, force: true });
  };
  process.once('exit', removeTemp);
  const interrupt = stopOnSignals('stopping: no report is written');
  try {
    const read = { file: plan.file, select: plan.select, tlsKeylog: plan.tlsKeylog, tempRoot, signal: interrupt.signal };
    const run = await measureCapture(read, new Set(plan.gates.map((g) => g.scenario)));
    const { result } = judge([run], { scenarios: plan.scenarios, gates: plan.gates, hops: [], client: plan.client, host: { ephemeralPorts: null } });
    writeOutputs(outputs, result, (stream) => useColor(flags.color, stream.isTTY === true, process.env));
    return exitCodeFor(result);
  } catch (err) {
    closeOutputs(outputs);
    const reason = abortReason(interrupt.signal);
    if (err instanceof Aborted && reason?.kind === 'user-interrupt') return signalExit(reason.signal);
    throw err;
  } finally {
    interrupt.dispose();
    removeTemp();
    process.off('exit', removeTemp);
  }
}

/** A new directory under TMPDIR for the split of a large capture; undefined when none can be made (then readCapture tries, and says why). */
function madeTempDir(): string | undefined {
  try {
    return mkdtempSync(path.join(tmpdir(), 'kap-analyze-'));
  } catch {
    return undefined;
  }
}
