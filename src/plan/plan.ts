import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RunConfig } from '../options/runConfig.js';
import { chooseClient } from './client.js';
import type { ClientChoice } from './client.js';
import { resolveGates } from './gates.js';
import type { Gate } from './gates.js';
import { parseHops } from './hops.js';
import type { Hop } from './hops.js';
import type { Scenario } from './scenario.js';
import { selectScenarios } from './selectScenarios.js';
import { applyResolves, parseResolve, parseTarget } from './target.js';
import type { Resolve, Target } from './target.js';
import { METRICS } from '../model/metrics.js';
import { UsageError } from '../model/errors.js';
import { readCaCertificates } from './trust.js';

/** What the configuration resolves to before anything is probed; every bad input is found here (InputError, exit 2). */
export interface RunPlan {
  readonly config: RunConfig;
  readonly scenarios: readonly Scenario[];
  readonly gates: readonly Gate[];
  readonly client: ClientChoice | null;
  /** --hop, from the client inward; empty without it. */
  readonly hops: readonly Hop[];
  /** --cacert's certificates (and NODE_EXTRA_CA_CERTS's); null: Node's default list. */
  readonly ca: readonly string[] | null;
  readonly resolves: readonly Resolve[];
  /** One per URL (one per hop with --hop); empty: the embedded lab server, which the CLI starts (see labTargets). */
  readonly targets: readonly Target[];
}

/** Resolves the configuration: scenarios, hops, gates, client, CAs, targets. */
export async function makePlan(config: RunConfig): Promise<RunPlan> {
  let scenarios = await selectScenarios(config.scenarios, false);
  const hops = config.hops.length === 0 ? [] : parseHops(config.hops);
  if (hops.length > 0 && config.url !== null) throw new UsageError('give either a URL or --hop name=URL …, not both');
  // The hop rule compares idle timeouts: every hop runs idle-timeout (before gates resolve against the list).
  const idle = METRICS.idleTimeout.scenarios[0];
  if (hops.length > 0 && !scenarios.some((s) => s.id === idle)) scenarios = [...(await selectScenarios([idle], false)), ...scenarios];
  const gates = resolveGates(config.expect, config.behind, scenarios, config.maxIdleMs);
  const client = chooseClient(config.client, config.clientIdleMs);
  const ca = readCaCertificates(config.caFile, config.extraCaFile);
  if (config.capture?.file != null) checkCaptureFile(config.capture.file);
  const resolves = config.resolve.map(parseResolve);
  const urls = hops.length > 0 ? hops.map((h) => h.url) : config.url === null ? [] : [config.url];
  const targets = urls.length === 0 ? [] : applyResolves(urls.map(parseTarget), resolves);
  return { config, scenarios, gates, client, hops, ca, resolves, targets };
}

/** --capture FILE: a file that can be created where it says (the capture program writes it; a bad path is found before probing). */
function checkCaptureFile(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--capture ${file}: no directory ${dir} to write the capture in`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`--capture ${file}: is a directory; give a file name (e.g. run.pcapng)`);
}

/** The target list for the embedded lab server at `url` (run with no URL). */
export function labTargets(plan: RunPlan, url: string): Target[] {
  return applyResolves([parseTarget(url)], plan.resolves);
}
