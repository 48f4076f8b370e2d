import { ProbeError, abortReason } from '../model/errors.js';
import type { LabProfileReport, MeasuredRun, ProtocolId, ScenarioMeasurement, TimekeeperChoice } from '../model/result.js';
import type { Scenario } from '../plan/scenario.js';
import { headerValue } from '../http/keepAliveHeader.js';
import { SERVER_TEXT_MAX, sanitize } from '../util/sanitize.js';
import { startClock } from '../wire/clock.js';
import type { RunClock } from '../wire/clock.js';
import { ProbeConnection } from '../wire/connection.js';
import { H2Connection } from '../wire/h2Connection.js';
import { isLocalAddress } from '../wire/localAddress.js';
import { roundMs } from '../util/duration.js';
import { openSocketTable } from '../wire/socketTable.js';
import { Timekeeper, machineBusy } from '../wire/timekeeper.js';
import { firstRequestError } from './firstRequestError.js';
import { TimedStarts } from './timedStarts.js';
import { connectOptions, runScenario } from './runScenario.js';
import type { ProbeSettings, RunContext } from './runScenario.js';

/** The run's settings and what the report says about the target besides what is measured. */
export type ProbeOptions = ProbeSettings & {
  readonly lab: LabProfileReport | null;
  /** Each scenario's measurement with the means to measure it again on other times (`run --capture`). */
  readonly onTrace?: RunContext['onTrace'];
  /** Called when a scenario finishes (progress on a TTY). */
  readonly onScenarioDone?: (measured: ScenarioMeasurement) => void;
};

/**
 * Probes one target: one preflight request (to fail fast, with one clear error, when the
 * target cannot be probed at all, and to learn its Server header), then every scenario
 * concurrently, each on its own connections, so a run takes about as long as its slowest
 * scenario; `exclusive` scenarios run after them, one at a time. When the preflight fails,
 * no scenario runs and the result carries the error. Nothing is judged here (verdict/).
 */
export async function runProbe(scenarios: readonly Scenario[], options: ProbeOptions): Promise<MeasuredRun> {
  const clock = startClock();
  const timekeeper = new Timekeeper((hrMs) => clock.at(hrMs));
  try {
    return await probe(scenarios, options, clock, timekeeper);
  } finally {
    clock.stop(); // also when a bug throws: the clock's timer and the timekeeper's thread must not outlive the run
    await timekeeper.stop();
  }
}

/** Which timed samples the timekeeper stamps (--timekeeper): on auto, every one when the machine is already busy. */
function timedSamples(choice: TimekeeperChoice): RunContext['stamper']['samples'] {
  if (choice === 'never') return 'none';
  return choice === 'always' || machineBusy() ? 'all' : 'again';
}

async function probe(selected: readonly Scenario[], options: ProbeOptions, clock: RunClock, timekeeper: Timekeeper): Promise<MeasuredRun> {
  let scenarios = selected;
  const startedAt = new Date();
  const table = await openSocketTable(options.socketTable ?? 'auto');
  const ctx: RunContext = {
    ...options,
    clock,
    table,
    timedStarts: new TimedStarts(clock),
    stamper: { timekeeper, samples: timedSamples(options.timekeeper ?? 'auto') },
  };
  let preflight: Preflight;
  let error: ProbeError | null = null;
  try {
    preflight = await preflightAll(ctx, new Set(scenarios.map((s) => s.protocol)));
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    // Stopped before anything was measured: an empty report, still written (exit 130).
    // Not probeable at all: a report that says why, for the CI that reads it (exit 3).
    if (err.code !== 'interrupted') error = err;
    preflight = { server: null, local: false, protocols: [], h2Refusal: null };
  }
  // Each scenario runs in the protocol it is written for, when the target speaks it (a run
  // stopped before the preflight knew keeps them all, reported as not started).
  const spoken = (s: Scenario): boolean => preflight.protocols.includes(s.protocol);
  if (preflight.protocols.length > 0) scenarios = scenarios.filter(spoken);
  const run = async (scenario: Scenario): Promise<ScenarioMeasurement> => {
    const measured = await runScenario(scenario, ctx);
    options.onScenarioDone?.(measured);
    return measured;
  };
  const results = new Map<Scenario, ScenarioMeasurement>();
  const stopped = (): boolean => options.stop?.aborted === true;
  if (error === null && !stopped()) await Promise.all(scenarios.filter((s) => !s.exclusive).map(async (s) => results.set(s, await run(s))));
  // Exclusive scenarios (a burst of connections, as short-connections opens) run alone afterwards,
  // so their sockets do not delay the event loop while other scenarios time idle closes.
  for (const s of scenarios.filter((x) => x.exclusive)) if (error === null && !stopped()) results.set(s, await run(s));
  const reason = abortReason(options.stop);
  const interruptedBy = reason?.kind === 'user-interrupt' ? reason.signal : null;
  // Every selected scenario is reported: one that never started (stopped first) as interrupted.
  const notStarted = (s: Scenario): ScenarioMeasurement => ({
    id: s.id,
    title: s.title,
    source: s.source,
    protocol: s.protocol,
    headline: s.headline,
    startedAtMs: roundMs(clock.now()),
    durationMs: 0,
    metrics: {},
    errorMs: {},
    findings: [],
    error: { code: 'interrupted', message: 'not started: the run was stopped first', errno: null, syscall: null, hint: null },
    connections: [],
    race: null,
  });
  return {
    target: {
      url: options.target.url,
      host: options.target.host,
      port: options.target.port,
      connectAddress: options.target.connectAddress,
      tls: options.target.tls,
      server: preflight.server,
      lab: options.lab,
      local: preflight.local,
      protocols: preflight.protocols,
      h2Refusal: preflight.h2Refusal,
    },
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(clock.now()),
    loopDelayMaxMs: clock.heldMaxMs(),
    interrupted: interruptedBy !== null,
    interruptedBy,
    error: error?.toInfo() ?? null,
    options: {
      protocol: options.protocol ?? 'auto',
      maxIdleMs: options.maxIdleMs,
      maxRequests: options.maxRequests,
      connectTimeoutMs: options.connectTimeoutMs,
      firstByteTimeoutMs: options.firstByteTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
      scenarioTimeoutMs: options.scenarioTimeoutMs,
    },
    evidence: { socketTable: table.source },
    // A target that could not be probed lists no scenario (its error says why).
    scenarios: error === null ? scenarios.map((s) => results.get(s) ?? notStarted(s)) : [],
  };
}

/** What the preflight learnt about the target. */
interface Preflight {
  readonly server: string | null;
  readonly local: boolean;
  readonly protocols: readonly ProtocolId[];
  readonly h2Refusal: string | null;
}

/** How long the HTTP/2 check waits for SETTINGS in answer to the preface: a server that speaks it answers at once. */
const H2_CHECK_MAX_MS = 3000;

/**
 * The preflight for each protocol that `--protocol` allows and a selected scenario speaks:
 * HTTP/1.1 first (its failure stops the run, as before HTTP/2 existed), then HTTP/2 (its
 * refusal only drops the HTTP/2 scenarios, unless they are all the run has).
 */
async function preflightAll(ctx: RunContext, wanted: ReadonlySet<ProtocolId>): Promise<Preflight> {
  const choice = ctx.protocol ?? 'auto';
  const checkH1 = choice !== 'h2' && (wanted.has('http/1.1') || !wanted.has('h2'));
  const checkH2 = choice !== 'http1' && (wanted.has('h2') || !checkH1);
  const h1 = checkH1 ? await preflightRequest(ctx) : null;
  if (!checkH2) return { ...(h1 as H1Preflight), protocols: ['http/1.1'], h2Refusal: null };
  try {
    const h2 = await preflightH2(ctx);
    return { server: h1?.server ?? h2.server, local: h2.local, protocols: h1 === null ? ['h2'] : ['http/1.1', 'h2'], h2Refusal: null };
  } catch (err) {
    if (h1 === null || !(err instanceof ProbeError) || err.code === 'interrupted') throw err;
    return { ...h1, protocols: ['http/1.1'], h2Refusal: err.message };
  }
}

type H1Preflight = Pick<Preflight, 'server' | 'local'>;

/** One HTTP/2 request on a connection of its own; throws ProbeError (h2-unsupported when the target does not speak HTTP/2). */
async function preflightH2(ctx: RunContext): Promise<H1Preflight> {
  const conn = await stoppable(H2Connection.open('preflight-h2', connectOptions(ctx), ctx.clock, Math.min(H2_CHECK_MAX_MS, ctx.firstByteTimeoutMs)), ctx.stop);
  try {
    const { target } = ctx;
    const outcome = await conn.send(
      {
        method: ctx.method,
        path: target.path,
        authority: target.hostHeader,
        scheme: target.tls ? 'https' : 'http',
        headers: ctx.headers,
        userAgent: ctx.userAgent,
      },
      ctx,
    );
    const error = firstRequestError(outcome, target);
    if (error !== null || outcome.kind !== 'response') throw error;
    const server = headerValue(outcome.headers, 'server');
    return { server: server === null ? null : sanitize(server, SERVER_TEXT_MAX), local: conn.remote !== null && isLocalAddress(conn.remote.address) };
  } finally {
    await conn.close('fin', 'cleanup');
  }
}

async function preflightRequest(ctx: RunContext): Promise<H1Preflight> {
  const { target } = ctx;
  const opening = ProbeConnection.open('preflight', connectOptions(ctx), ctx.clock);
  const conn = await stoppable(opening, ctx.stop).catch((err: unknown) => {
    // Stopped while connecting: a connect that still completes is closed at once.
    if (err instanceof ProbeError && err.code === 'interrupted')
      opening.then(
        (c) => c.close('rst', 'cleanup'),
        () => undefined,
      );
    throw err;
  });
  // Ctrl-C ends the wait for the answer at once: the RST makes the pending request resolve.
  const stop = (): void => void conn.close('rst', 'cleanup');
  ctx.stop?.addEventListener('abort', stop, { once: true });
  try {
    const outcome = await conn.send(
      { method: ctx.method, path: target.path, version: '1.1', host: target.hostHeader, connection: 'close', headers: ctx.headers, userAgent: ctx.userAgent },
      ctx,
    );
    if (ctx.stop?.aborted === true) throw new ProbeError('interrupted', 'interrupted before the first response');
    const error = firstRequestError(outcome, target);
    if (error !== null || outcome.kind !== 'response') throw error;
    const server = headerValue(outcome.headers, 'server');
    return { server: server === null ? null : sanitize(server, SERVER_TEXT_MAX), local: conn.remote !== null && isLocalAddress(conn.remote.address) };
  } finally {
    ctx.stop?.removeEventListener('abort', stop);
    await conn.close('fin', 'cleanup');
  }
}

/** `work`, or a ProbeError('interrupted') as soon as the run is stopped. */
function stoppable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(new ProbeError('interrupted', 'interrupted before the first response'));
    if (signal.aborted) stop();
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}
