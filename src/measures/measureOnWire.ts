import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MissingToolError } from '../model/errors.js';
import type { MeasuredRun } from '../model/result.js';
import type { Scenario } from '../plan/scenario.js';
import { connectHost } from '../plan/target.js';
import type { Target } from '../plan/target.js';
import { startRecording } from '../wire/captureRecorder.js';
import type { Recording } from '../wire/captureRecorder.js';
import { probeTargets } from './measureTargets.js';
import type { MeasureOptions } from './measureTargets.js';
import type { ProbeOptions } from './runProbe.js';
import { applyWireTimes, readWire, withoutWire } from './wireTiming.js';
import type { Remeasurable } from './wireTiming.js';

/**
 * `run --capture`: records the run's connections with dumpcap while the targets are probed,
 * then measures every scenario again on the packets' times (measureTargets loads this module
 * only then). `capture.file` keeps the capture; null: a temporary file.
 */
export async function measureOnWire(
  targets: readonly Target[],
  scenarios: readonly Scenario[],
  settings: Omit<ProbeOptions, 'target' | 'stop' | 'onScenarioDone' | 'onTrace'>,
  options: MeasureOptions,
  capture: { readonly file: string | null },
): Promise<MeasuredRun[]> {
  const dir = capture.file === null ? mkdtempSync(path.join(tmpdir(), 'keepalive-probe-capture-')) : null;
  try {
    const file = capture.file ?? path.join(dir as string, 'run.pcapng');
    // The run's longest possible duration: the concurrent scenarios, then each exclusive one, each within its deadline.
    const runMaxMs = (1 + scenarios.filter((s) => s.exclusive).length) * settings.scenarioTimeoutMs + settings.connectTimeoutMs + settings.firstByteTimeoutMs;
    const recording = await startRecording(
      targets.map((t) => ({ host: connectHost(t), port: t.port })),
      file,
      runMaxMs,
    );
    if ('unavailable' in recording) return withoutWire(await probeTargets(targets, scenarios, settings, options, null), recording.unavailable, null);
    const traced: Remeasurable[][] = targets.map(() => []);
    // Over TLS the capture shows HTTP only with the session keys: the probe logs its own,
    // beside the capture when it is kept (`FILE.keylog`, for analyze --tls-keylog).
    const keylog = targets.some((t) => t.tls) ? `${file}.keylog` : null;
    const keys = keylog === null ? null : createWriteStream(keylog, { mode: 0o600 });
    // A key log that cannot be written leaves the TLS connections untimed (evidence.wire.reason), not a crash.
    keys?.on('error', () => undefined);
    let runs: MeasuredRun[];
    try {
      const logged = keys === null ? settings : { ...settings, tlsKeylog: (line: Buffer) => void keys.write(line) };
      runs = await probeTargets(targets, scenarios, logged, options, traced);
    } finally {
      await recording.stop();
      if (keys !== null) await new Promise((resolve) => keys.end(resolve));
    }
    return await timeOnWire(runs, traced, recording, capture.file, keylog, targets);
  } finally {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

/** The runs measured again on the capture's times; when it cannot be read, as they are, saying why. */
async function timeOnWire(
  runs: MeasuredRun[],
  traced: Remeasurable[][],
  recording: Recording,
  saved: string | null,
  keylog: string | null,
  targets: readonly Target[],
): Promise<MeasuredRun[]> {
  try {
    return applyWireTimes(runs, traced, await readWire(recording.file, keylog, targets), recording, saved, saved === null ? null : keylog);
  } catch (err) {
    const why = err instanceof MissingToolError ? `${err.message}: ${err.hint}` : err instanceof Error ? err.message : String(err);
    return withoutWire(runs, `the capture could not be read: ${why}`, recording);
  }
}
