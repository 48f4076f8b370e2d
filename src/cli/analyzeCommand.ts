import { measureCapture } from '../measures/measureCapture.js';
import { makeAnalyzePlan } from '../plan/analyzePlan.js';
import { exitCodeFor } from '../verdict/exitCode.js';
import { judge } from '../verdict/judge.js';
import { closeOutputs, openOutputs, writeOutputs } from './outputs.js';
import type { OutputFlags } from './outputs.js';
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

/** `keepalive-probe analyze <capture>`: plan → tshark → measure → judge → write → exit code, as `run` does. */
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
  try {
    const run = await measureCapture({ file: plan.file, filter: plan.filter, tlsKeylog: plan.tlsKeylog }, new Set(plan.gates.map((g) => g.scenario)));
    const { result } = judge([run], { scenarios: plan.scenarios, gates: plan.gates, hops: [], client: plan.client, host: { ephemeralPorts: null } });
    writeOutputs(outputs, result, (stream) => useColor(flags.color, stream.isTTY === true, process.env));
    return exitCodeFor(result);
  } catch (err) {
    closeOutputs(outputs);
    throw err;
  }
}
