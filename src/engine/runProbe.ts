import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LabProfileReport, RunResult, ScenarioResult } from '../model/result.js';
import type { Scenario } from '../scenario/model.js';
import { headerValue } from '../http/keepAliveHeader.js';
import { VERSION } from '../version.js';
import { readHostFacts } from '../scenario/advice.js';
import { predictClients, serverFacts } from '../clients/predict.js';
import type { ClientChoice } from '../clients/predict.js';
import { startClock } from './clock.js';
import { ProbeConnection } from './connection.js';
import { firstRequestError } from './firstRequestError.js';
import { ProbeError } from './probeError.js';
import { connectOptions, runScenario } from './runScenario.js';
import type { RunContext } from './runScenario.js';
import { isLocalAddress } from './target.js';
import { roundMs } from '../util/duration.js';

/** Run options without the clock and the host facts, which the run reads itself. */
export type ProbeOptions = Omit<RunContext, 'clock' | 'host'> & {
  readonly lab: LabProfileReport | null;
  /** Called when a scenario finishes (progress on a TTY). */
  readonly onScenarioDone?: (result: ScenarioResult) => void;
  /** The client the user runs (--client, --client-idle), judged first. */
  readonly client?: ClientChoice | null;
};

/**
 * Probes the target: one preflight request (to fail fast, with one clear error, when the
 * target cannot be probed at all, and to learn its Server header), then every scenario
 * concurrently, each on its own connections, so a run takes about as long as its slowest
 * scenario; `exclusive` scenarios run after them, one at a time. When the preflight fails,
 * no scenario runs and the result carries the error.
 */
export async function runProbe(scenarios: readonly Scenario[], options: ProbeOptions): Promise<RunResult> {
  const loopDelay = watchLoopDelay();
  try {
    return await probe(scenarios, options, loopDelay);
  } finally {
    loopDelay.stop(); // also when a bug throws: the monitor's timer must not outlive the run
  }
}

async function probe(scenarios: readonly Scenario[], options: ProbeOptions, loopDelay: { stop(): number }): Promise<RunResult> {
  const startedAt = new Date();
  const clock = startClock();
  const ctx: RunContext = { ...options, clock, host: readHostFacts() };
  let preflight: { server: string | null; local: boolean };
  let error: ProbeError | null = null;
  try {
    preflight = await preflightRequest(ctx);
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    // Interrupted before anything was measured: an empty report, still written (exit 130).
    // Not probeable at all: a report that says why, for the CI that reads it (exit 3).
    if (err.code !== 'interrupted') error = err;
    preflight = { server: null, local: false };
  }
  const run = async (scenario: Scenario): Promise<ScenarioResult> => {
    const result = await runScenario(scenario, ctx);
    options.onScenarioDone?.(result);
    return result;
  };
  const results = new Map<Scenario, ScenarioResult>();
  const interrupted = (): boolean => options.interrupt?.aborted === true;
  if (error === null && !interrupted()) await Promise.all(scenarios.filter((s) => !s.exclusive).map(async (s) => results.set(s, await run(s))));
  // Exclusive scenarios (a burst of connections, as short-connections opens) run alone afterwards,
  // so their sockets do not delay the event loop while other scenarios time idle closes.
  for (const s of scenarios.filter((x) => x.exclusive)) if (error === null && !interrupted()) results.set(s, await run(s));
  const scenarioResults = scenarios.map((s) => results.get(s)).filter((r): r is ScenarioResult => r !== undefined);
  const result: Omit<RunResult, 'clients' | 'hops'> = {
    schemaVersion: 1,
    tool: { name: 'keepalive-probe', version: VERSION },
    target: {
      url: options.target.url,
      host: options.target.host,
      port: options.target.port,
      connectAddress: options.target.connectAddress,
      tls: options.target.tls,
      server: preflight.server,
      lab: options.lab,
      local: preflight.local,
    },
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(clock.now()),
    loopDelayMaxMs: loopDelay.stop(),
    interrupted: options.interrupt?.aborted === true,
    error: error?.toInfo() ?? null,
    options: {
      maxIdleMs: options.maxIdleMs,
      maxRequests: options.maxRequests,
      connectTimeoutMs: options.connectTimeoutMs,
      firstByteTimeoutMs: options.deadlines.firstByteMs,
      headersTimeoutMs: options.deadlines.headersMs,
      bodyTimeoutMs: options.deadlines.bodyMs,
      scenarioTimeoutMs: options.scenarioTimeoutMs,
    },
    scenarios: scenarioResults,
  };
  // Nothing measured, nothing to judge the clients against.
  const clients = error === null ? predictClients(serverFacts({ ...result, clients: [], hops: [] }), options.client ?? null) : [];
  return { ...result, clients, hops: [] };
}

/** Sampling interval of the loop-delay monitor, ms: a finer one would wake the loop more often. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * Watches how late the event loop runs a timer due every LOOP_DELAY_RESOLUTION_MS
 * (perf_hooks.monitorEventLoopDelay records the interval between runs, in ns). stop() returns
 * the worst lateness in ms, to 0.1 ms: how late any event of the run may have been stamped.
 */
function watchLoopDelay(): { stop(): number } {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  histogram.enable();
  return {
    stop: () => {
      histogram.disable();
      const worst = histogram.count === 0 ? 0 : histogram.max / 1e6 - LOOP_DELAY_RESOLUTION_MS;
      return Math.max(0, roundMs(worst));
    },
  };
}

async function preflightRequest(ctx: RunContext): Promise<{ server: string | null; local: boolean }> {
  const { target } = ctx;
  const opening = ProbeConnection.open('preflight', connectOptions(ctx), ctx.clock);
  const conn = await interruptible(opening, ctx.interrupt).catch((err: unknown) => {
    // Interrupted while connecting: a connect that still completes is closed at once.
    if (err instanceof ProbeError && err.code === 'interrupted') opening.then((c) => c.close('rst', 'cleanup'), () => undefined);
    throw err;
  });
  // Ctrl-C ends the wait for the answer at once: the RST makes the pending request resolve.
  const stop = (): void => void conn.close('rst', 'cleanup');
  ctx.interrupt?.addEventListener('abort', stop, { once: true });
  try {
    const outcome = await conn.send(
      { method: ctx.method, path: target.path, version: '1.1', host: target.hostHeader, connection: 'close', headers: ctx.headers, userAgent: ctx.userAgent },
      ctx.deadlines,
    );
    if (ctx.interrupt?.aborted === true) throw new ProbeError('interrupted', 'interrupted before the first response');
    const error = firstRequestError(outcome, target);
    if (error !== null || outcome.kind !== 'response') throw error;
    return { server: headerValue(outcome.head.headers, 'server'), local: conn.remote !== null && isLocalAddress(conn.remote.address) };
  } finally {
    ctx.interrupt?.removeEventListener('abort', stop);
    await conn.close('fin', 'cleanup');
  }
}

/** `work`, or a ProbeError('interrupted') as soon as the user interrupts it. */
function interruptible<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(new ProbeError('interrupted', 'interrupted before the first response'));
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}
