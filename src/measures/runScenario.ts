import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Aborted, ProbeError, abortReason } from '../model/errors.js';
import type { AbortReason } from '../model/errors.js';
import type {
  ConnectionRecord,
  Finding,
  MetricValue,
  ProtocolChoice,
  ProtocolId,
  RaceReport,
  RaceTrial,
  ScenarioMeasurement,
  SocketTableChoice,
  TimekeeperChoice,
} from '../model/result.js';
import type { Scenario, Step } from '../plan/scenario.js';
import { connectHost } from '../plan/target.js';
import type { Target } from '../plan/target.js';
import { classifyClose } from '../timeline/classifyClose.js';
import { h2IdleTimeout, h2IdleTimeoutError } from '../timeline/h2.js';
import { idleBeforeLastRequest, idleSince, idleStart, lateBeforeRequest, mayReuse, unframedBody } from '../timeline/queries.js';
import { UNCERTAIN_ERROR_MS } from '../model/metrics.js';
import type { TimedStarts } from './timedStarts.js';
import { idleSampleOf } from './h2Metrics.js';
import { outcomeOf } from '../timeline/outcome.js';
import { resetSeen } from '../timeline/signals.js';
import { timeWaitOf } from '../timeline/timeWait.js';
import { formatDuration, roundMs } from '../util/duration.js';
import type { Clock } from '../wire/clock.js';
import { ProbeConnection, recorded } from '../wire/connection.js';
import { H2Connection } from '../wire/h2Connection.js';
import type { ConnectOptions, ExchangeDeadlines, ExchangeOutcome, RecordedOutcome } from '../wire/connection.js';
import { isLocalAddress } from '../wire/localAddress.js';
import { settledRowsAll } from '../wire/procNetTcp.js';
import type { SeenRows } from '../wire/procNetTcp.js';
import type { Compaction } from '../wire/eventLog.js';
import type { ConnEvent, Endpoint } from '../model/events.js';
import type { SocketTable } from '../wire/socketTable.js';
import type { Timekeeper } from '../wire/timekeeper.js';
import { firstRequestError } from './firstRequestError.js';
import { measure, strayBytesFindings, unframedFindings } from './metrics.js';
import type { PingStop, RepeatStop, Trace } from './metrics.js';
import { summarizeRace } from './race.js';

/** What the scenarios of a run share: where and how to probe, and the bounds (the run configuration's names). */
export interface ProbeSettings extends ExchangeDeadlines {
  readonly target: Target;
  readonly insecure: boolean;
  /** CA certificates (PEM) to trust besides Node's bundled roots; null: Node's default list. */
  readonly ca: readonly string[] | null;
  readonly connectTimeoutMs: number;
  readonly maxIdleMs: number;
  readonly maxRequests: number;
  readonly scenarioTimeoutMs: number;
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly userAgent: string;
  /** Aborted to stop the scenarios, with an AbortReason: they then report what they measured. */
  readonly stop?: AbortSignal;
  /** Which socket table to read (--socket-table); auto when absent. */
  readonly socketTable?: SocketTableChoice;
  /** Which timed samples the timekeeper stamps (--timekeeper); auto when absent. */
  readonly timekeeper?: TimekeeperChoice;
  /** Which protocols to probe (--protocol); auto when absent. */
  readonly protocol?: ProtocolChoice;
  /** Receives every TLS connection's session keys (`run --capture` decrypts its capture with them); absent: not logged. */
  readonly tlsKeylog?: (line: Buffer) => void;
  /** How many exchanges each connection's events keep in full at each end (wire/eventLog.ts); absent: the default. Not a flag: tests set it low. */
  readonly compaction?: Compaction | null;
}

/** Everything a scenario needs from the run. */
export interface RunContext extends ProbeSettings {
  readonly clock: Clock;
  /** When the run's timed idle periods begin, kept apart (timedStarts.ts). */
  readonly timedStarts: TimedStarts;
  /** The socket table the run reads (opened once from `socketTable`). */
  readonly table: SocketTable;
  /** The thread that stamps timed samples (wire/timekeeper.ts), and which: `again` (samples taken again after a stamp over LOADED_LATE_MS late), `all` (every one, from the first), `none`. */
  readonly stamper: { readonly timekeeper: Timekeeper; readonly samples: 'again' | 'all' | 'none' };
  /**
   * Called with each scenario's measurement and a function that measures it again with its
   * connections' times replaced (`run --capture`: the wire's times, measures/wireTiming.ts).
   */
  readonly onTrace?: (measured: ScenarioMeasurement, remeasure: (retime: Retime) => ScenarioMeasurement) => void;
}

/** Spacing of the race's first trials (see runRace). */
const RACE_STAGGER_MS = 5;
/** How long after the calibration response the race's trials start at the earliest, so that T is known (the calibration's close seen) before any trial must send. */
const RACE_LEAD_MS = 30;

/** A connection of either protocol: the steps and the timeline read both alike. */
type WireConnection = ProbeConnection | H2Connection;

interface LiveConnection {
  readonly label: string;
  readonly conn: WireConnection;
}

/** Runs one scenario on its own connections and returns what it measured; never throws. Judging is verdict/'s. */
export async function runScenario(scenario: Scenario, ctx: RunContext): Promise<ScenarioMeasurement> {
  const startedAtMs = ctx.clock.now();
  const live: LiveConnection[] = [];
  const exchanges: { label: string; connection: string; outcome: RecordedOutcome }[] = [];
  const abort = new AbortController();
  // A race step sleeps on up to 64 connections at once, each listening to this signal.
  setMaxListeners(100, abort.signal);
  const state: StepState = {
    ctx,
    live,
    exchanges,
    signal: abort.signal,
    race: null,
    repeats: [],
    pings: [],
    protocol: scenario.protocol,
    settling: new Map(),
    opened: new Map(),
    timedLabels: timedLabels(scenario.steps),
  };
  let error: ProbeError | null = null;
  const deadline = setTimeout(() => abort.abort({ kind: 'scenario-deadline', limitMs: ctx.scenarioTimeoutMs } satisfies AbortReason), ctx.scenarioTimeoutMs);
  const onStop = (): void => abort.abort(abortReason(ctx.stop));
  if (ctx.stop?.aborted === true) onStop();
  ctx.stop?.addEventListener('abort', onStop, { once: true });
  // The race makes --scenario-timeout interrupt any step (a wait-close, a slow request):
  // the cleanup below then closes the connections, which ends whatever was still pending.
  const aborted = new Promise<never>((_, reject) =>
    abort.signal.addEventListener('abort', () => reject(new Aborted(abortReason(abort.signal))), { once: true }),
  );
  aborted.catch(() => undefined);
  try {
    await Promise.race([runSteps(scenario.steps, state), aborted]);
    // A sample measured again after the last step that looked at its label (a `timed` request last).
    await Promise.race([Promise.all(state.settling.values()), aborted]);
  } catch (err) {
    error = stopError(err, scenario, ctx, startedAtMs, abortReason(abort.signal));
  } finally {
    clearTimeout(deadline);
    ctx.stop?.removeEventListener('abort', onStop);
    abort.abort(abortReason(abort.signal)); // steps still running after a timeout stop at their next step
  }
  await Promise.all(live.map(({ conn }) => conn.close(error === null ? 'fin' : 'rst', 'cleanup')));
  const connections = await finishRecords(live, ctx.table);
  const trace: Trace = { connections, exchanges, race: raceOf(state.race, connections, null), repeats: state.repeats, pings: state.pings };
  const measured = measureTrace(scenario, trace, ctx, error, startedAtMs, Math.round(ctx.clock.now() - startedAtMs));
  ctx.onTrace?.(measured, (retime) => {
    // The same connections with other times (a packet capture's): classified, raced and measured again.
    const retimed = connections.map(({ label, record }) => ({ label, record: retime(record) }));
    const again: Trace = { connections: retimed, exchanges, race: raceOf(state.race, retimed, connections), repeats: state.repeats, pings: state.pings };
    return measureTrace(scenario, again, ctx, error, startedAtMs, measured.durationMs);
  });
  return measured;
}

/**
 * Replaces a connection's events (their times) and classifies its close again; the socket
 * table's TIME_WAIT finding stays (it is not a time).
 */
export type Retime = (record: ConnectionRecord) => ConnectionRecord;

/**
 * The race report from the race step's state: T from its calibration connection, each trial's
 * idle time from its events. Measured again on other times (a capture's), T is the shortest of
 * the calibration's samples (one taken again after a late stamp is one more), as the scenario's
 * idleTimeoutMs reads them.
 */
function raceOf(
  race: StepState['race'],
  connections: readonly { readonly label: string; readonly record: ConnectionRecord }[],
  retimedFrom: readonly { readonly record: ConnectionRecord }[] | null,
): RaceReport | null {
  if (race === null) return null;
  const byId = new Map(connections.map((c) => [c.record.id, c.record]));
  let T = race.idleTimeoutMs;
  let calibration = race.calibration === null ? undefined : byId.get(race.calibration);
  let trials: readonly RaceTrial[] = race.trials;
  if (retimedFrom !== null) {
    const label = connections.find((c) => c.record.id === race.calibration)?.label;
    calibration = idleSampleOf(connections.filter((c) => c.label === label).map((c) => c.record)) ?? calibration;
    if (T !== null && calibration !== undefined) T = h2IdleTimeout(calibration.events, calibration.end) ?? T;
    trials = trials.map((t) => {
      const events = byId.get(t.connection)?.events;
      const idle = events === undefined ? null : idleBeforeLastRequest(events);
      return idle === null || events === undefined ? t : { ...t, idleMs: roundMs(idle), idleErrorMs: lateBeforeRequest(events) };
    });
  }
  return summarizeRace(
    T,
    [...trials].sort((a, b) => a.offsetMs - b.offsetMs),
    calibration === undefined ? 0 : (h2IdleTimeoutError(calibration.events, calibration.end) ?? 0),
  );
}

/** One finding naming the timing metrics whose error bound exceeds UNCERTAIN_ERROR_MS, if any. */
function uncertainFindings(metrics: Readonly<Record<string, MetricValue>>, errorMs: Readonly<Record<string, number>>): Finding[] {
  const uncertain = Object.entries(errorMs).filter(([name, error]) => error > UNCERTAIN_ERROR_MS && metrics[name] !== null);
  if (uncertain.length === 0) return [];
  const worst = Math.max(...uncertain.map(([, error]) => error));
  const text =
    `${uncertain.map(([name, error]) => `${name} ±${formatDuration(error)}`).join(', ')}: uncertain, the probe's event loop was held up when it stamped ` +
    `${uncertain.length === 1 ? 'its' : 'their'} ends (a busy machine), so ${uncertain.length === 1 ? 'it' : 'they'} may be off by up to ${formatDuration(worst)}; ` +
    "run again on a quieter machine, or with --capture for the wire's times";
  return [{ text, evidence: [] }];
}

/** A scenario's metrics and findings from its trace (the run's own times, or a capture's). */
function measureTrace(
  scenario: Scenario,
  trace: Trace,
  ctx: RunContext,
  error: ProbeError | null,
  startedAtMs: number,
  durationMs: number,
): ScenarioMeasurement {
  const measureCtx = { maxIdleMs: ctx.maxIdleMs, maxRequests: ctx.maxRequests };
  const metrics: Record<string, MetricValue> = {};
  const errorMs: Record<string, number> = {};
  const findings: Finding[] = [];
  // A scenario cut short (timeout, Ctrl-C) keeps its metrics and timelines, but findings such
  // as "no close within --max-idle" would claim what was never waited for.
  const cutShort = error?.code === 'interrupted' || error?.code === 'scenario-timeout';
  for (const [name, spec] of Object.entries(scenario.metrics)) {
    const measured = measure(spec, trace, measureCtx);
    metrics[name] = measured.value;
    if (measured.errorMs !== undefined && measured.value !== null) errorMs[name] = measured.errorMs;
    if (measured.finding !== null && !cutShort && !findings.some((f) => f.text === measured.finding?.text)) findings.push(measured.finding);
  }
  const records = trace.connections.map((c) => c.record);
  findings.push(...strayBytesFindings(records), ...unframedFindings(records), ...uncertainFindings(metrics, errorMs));
  return {
    id: scenario.id,
    title: scenario.title,
    source: scenario.source,
    protocol: scenario.protocol,
    headline: scenario.headline,
    startedAtMs,
    durationMs,
    metrics,
    errorMs,
    findings,
    error: error?.toInfo() ?? null,
    connections: records,
    race: trace.race,
  };
}

/** The error a scenario that did not finish reports: stopped (by whom), its own deadline, or what its steps threw. */
function stopError(err: unknown, scenario: Scenario, ctx: RunContext, startedAtMs: number, reason: AbortReason | null): ProbeError {
  if (reason?.kind === 'scenario-deadline') {
    return new ProbeError('scenario-timeout', `scenario "${scenario.id}" did not finish within ${formatDuration(ctx.scenarioTimeoutMs)}`);
  }
  if (reason !== null || err instanceof Aborted) {
    const by = reason?.kind === 'hop-failed' ? `stopped because hop ${reason.hop} could not be probed` : 'interrupted';
    return new ProbeError('interrupted', `${by} after ${formatDuration(ctx.clock.now() - startedAtMs)}; what was measured until then is shown`);
  }
  if (err instanceof ProbeError) return err;
  return new ProbeError('connect-failed', err instanceof Error ? err.message : String(err));
}

interface StepState {
  readonly ctx: RunContext;
  readonly live: LiveConnection[];
  readonly exchanges: { label: string; connection: string; outcome: RecordedOutcome }[];
  readonly signal: AbortSignal;
  /** Filled by a race step; `calibration` is the id of the connection T was measured on. */
  race: { idleTimeoutMs: number | null; calibration: string | null; trials: RaceTrial[] } | null;
  readonly repeats: RepeatStop[];
  readonly pings: PingStop[];
  /** The scenario's protocol: what `open` connects with. */
  readonly protocol: ProtocolId;
  /** Connections whose idle period a `timed` request is measuring again on a new connection (settleIdleStart): later steps on their label wait for it. */
  readonly settling: Map<WireConnection, Promise<void>>;
  /** How many connections each label's `open` steps have opened. */
  readonly opened: Map<string, number>;
  /** Labels that `timed` requests measure idle periods on. */
  readonly timedLabels: ReadonlySet<string>;
}

/** The labels of the connections `timed` requests are sent on. */
function timedLabels(steps: readonly Step[], labels = new Set<string>()): Set<string> {
  for (const step of steps) {
    if (step.type === 'request' && step.timed) labels.add(step.on);
    if (step.type === 'repeat') timedLabels(step.steps, labels);
  }
  return labels;
}

async function runSteps(steps: readonly Step[], state: StepState): Promise<void> {
  for (const step of steps) {
    if (state.signal.aborted) throw new Aborted(abortReason(state.signal));
    await runStep(step, state);
  }
}

/**
 * One step. A request, the step a loop repeats, runs in a small async function of its own:
 * an async function saves its whole register file on entry, and the other steps' locals made
 * that 1–2 KB per request (a sampling heap profile put runStep first in a request loop).
 */
function runStep(step: Step, state: StepState): Promise<void> {
  return step.type === 'request' ? runRequest(step, state) : runOtherStep(step, state);
}

async function runRequest(step: Extract<Step, { type: 'request' }>, state: StepState): Promise<void> {
  const conn = await settledConnection(state, step.on);
  if (conn.events.some(isRequest)) await beforeReuse();
  await requestNow(step, state, conn);
}

/**
 * The request step once the connection has settled (runRequest, or a repeat round that has
 * just yielded). Not async: the exchange's own promise is awaited by the caller, one promise
 * and one resumption fewer per request of a loop.
 */
function requestNow(step: Extract<Step, { type: 'request' }>, state: StepState, conn: WireConnection): Promise<unknown> | undefined {
  if (step.ifOpen && !mayReuse(conn.recentEvents)) return undefined;
  const exchanged = exchange(state, step.on, conn, step);
  return step.timed ? exchanged.then(() => startSettling(step, state, conn)) : exchanged;
}

/** A `timed` request answered: its sample is measured again beside the next steps when its response was stamped late (settleIdleStart). */
function startSettling(step: Extract<Step, { type: 'request' }>, state: StepState, conn: WireConnection): void {
  // Stopped (Ctrl-C, --scenario-timeout) while it waits: the scenario's own stop reports that.
  const settled = settleIdleStart(step, state, conn).catch((err: unknown) => {
    if (!state.signal.aborted) throw err;
  });
  state.settling.set(conn, settled);
}

/** How many times a `timed` sample is taken again when its response was stamped late. */
const IDLE_START_TRIES = 2;
/** How long the event loop must have run without a stall before a `timed` sample is taken again, ms. */
const QUIET_MS = 20;
/** The longest a `timed` sample waits for the loop to run quiet, ms: then it is taken anyway. */
const QUIET_WAIT_MAX_MS = 300;
/** How often the wait for a quiet loop looks, ms. */
const QUIET_POLL_MS = 5;

/**
 * A measured idle period begins at a response: when the event loop stamped that response more
 * than UNCERTAIN_ERROR_MS late (busy with the probe's own start-up burst, or the process not
 * scheduled on a loaded machine), the idle time read later would be off by as much. Measures
 * it again: once the loop has run quiet for QUIET_MS (unless the timekeeper takes the sample,
 * onTimekeeper), and at a start of its own (TimedStarts), opens another connection with the same label just after this one and sends the same request
 * on it, so the idle period starts on a sure stamp. A new connection rather than another request
 * on this one: a server's request cap must not end the sample. The late sample stays (its
 * close is still seen, and the measures set it aside as uncertain). Runs beside the scenario's
 * next steps, so samples keep their spacing.
 */
async function settleIdleStart(step: Extract<Step, { type: 'request' }>, state: StepState, first: WireConnection): Promise<void> {
  const { clock, timedStarts } = state.ctx;
  let conn = first;
  for (let tries = 0; ; tries++) {
    const start = idleStart(conn.events);
    if (start.late <= UNCERTAIN_ERROR_MS || !mayReuse(conn.events) || tries === IDLE_START_TRIES) {
      timedStarts.began(start.t);
      return;
    }
    // On the timekeeper the sample's stamps do not wait for this loop: no need for it to run quiet first.
    const onThread = onTimekeeper(state, start.late);
    for (let waited = 0; !onThread && clock.quietFor() < QUIET_MS && waited < QUIET_WAIT_MAX_MS; waited += QUIET_POLL_MS) {
      await sleep(QUIET_POLL_MS, undefined, { signal: state.signal });
    }
    await timedStarts.next(state.signal);
    try {
      conn = await openConnection(state, step.on, `${first.id}~${tries + 1}`, conn, onThread);
      if ((await exchange(state, step.on, conn, step)).kind !== 'response') return;
    } catch (err) {
      // The sample cannot be taken again (the server refused another connection): the late one stands, said uncertain.
      if (err instanceof ProbeError) return;
      throw err;
    }
  }
}

/**
 * A response stamped this late did not wait for the probe's own work alone: on a quiet machine
 * the start-up burst of every scenario connecting at once holds the first samples' responses
 * 8–18 ms; with eight suites at once on two cores they waited 40–300 ms.
 */
const LOADED_LATE_MS = 30;

/**
 * Whether the sample taken again after a response stamped `late` ms late goes to the timekeeper:
 * always when it takes every sample; on `again`, when the stamp was late enough to mean a loaded
 * machine (a quiet one keeps its memory: the thread adds about 8 MiB, and the event loop, quiet
 * again by then, stamps the sample well).
 */
function onTimekeeper(state: StepState, late: number): boolean {
  const { samples } = state.ctx.stamper;
  return samples === 'all' || (samples === 'again' && late > LOADED_LATE_MS);
}

/**
 * The newest connection with the label, once it is not being measured again (settleIdleStart):
 * its sample taken again lands just after it, so the newest may then be that new connection.
 * The label's older connections being measured again do not hold up a step on the newest.
 */
async function settledConnection(state: StepState, label: string): Promise<WireConnection> {
  let conn = connection(state, label);
  for (let settling = state.settling.get(conn); settling !== undefined; settling = state.settling.get(conn)) {
    await settling;
    const newest = connection(state, label);
    if (newest === conn) break;
    conn = newest;
  }
  return conn;
}

/** Once every connection with the label is in place: those being measured again, with their new samples. */
async function settledLabel(state: StepState, label: string): Promise<void> {
  await Promise.all(state.live.filter((l) => l.label === label).map((l) => state.settling.get(l.conn)));
}

function isRequest(e: ConnEvent): boolean {
  return e.kind === 'request';
}

async function runOtherStep(step: Step, state: StepState): Promise<void> {
  const { ctx } = state;
  switch (step.type) {
    case 'open': {
      // Counted by the scenario's own opens: a sample taken again (settleIdleStart) is named after its first.
      const n = (state.opened.get(step.as) ?? 0) + 1;
      state.opened.set(step.as, n);
      await openConnection(state, step.as, n === 1 ? step.as : `${step.as}#${n}`);
      return;
    }
    case 'request':
      await runRequest(step, state);
      return;
    case 'race':
      await runRace(step, state);
      return;
    case 'short':
      await runShort(step, state);
      return;
    case 'wait':
      await sleep(resolveDuration(step.ms, ctx), undefined, { signal: state.signal });
      return;
    case 'wait-close': {
      // Every open connection with that label, at once (idle-timeout samples several).
      const max = resolveDuration(step.max, ctx);
      await settledLabel(state, step.on);
      await Promise.all(
        state.live
          .filter((l) => l.label === step.on)
          .map(async ({ conn }) => {
            if (step.then === 'keep-open') conn.keepHalfOpen();
            if (step.ifClosing && mayReuse(conn.events)) return;
            // `max` bounds the idle time, counted from the connection's last response: waits on
            // connections that went idle together overlap instead of adding up.
            await conn.waitForPeerClose(Math.max(0, idleSince(conn.events) + max - ctx.clock.now()));
          }),
      );
      if (step.extra > 0) await sleep(step.extra, undefined, { signal: state.signal });
      return;
    }
    case 'close':
      await (await settledConnection(state, step.on)).close(step.how, 'step');
      return;
    case 'repeat':
      await runRepeat(step, state);
      return;
    case 'burst': {
      const conn = h2Connection(state, step.on, 'burst');
      const limit = conn.settings.get('MAX_CONCURRENT_STREAMS');
      const count = Math.min(limit ?? step.max, step.max) + 1;
      // Every HEADERS in one write: the server must see them at once to meet its limit.
      await conn.corked(() => Promise.all(Array.from({ length: count }, () => exchange(state, step.on, conn, {}))));
      return;
    }
    case 'ping':
      await runPing(step, state);
      return;
    case 'expect':
      return; // checked when the scenario ends, over the final metrics
  }
}

/**
 * The repeat step, in an async function of its own with few locals (as runRequest): it
 * awaits twice per round, and runOtherStep's large frame made each round allocate about 1 KB.
 */
async function runRepeat(step: Extract<Step, { type: 'repeat' }>, state: StepState): Promise<void> {
  const { ctx } = state;
  const max = step.max === '$maxRequests' ? ctx.maxRequests : step.max;
  const began = ctx.clock.now();
  const stop = (reason: RepeatStop['reason'], rounds: number): void => {
    state.repeats.push({ on: step.on, reason, rounds, elapsedMs: ctx.clock.now() - began, budgetMs: step.budget });
  };
  // The usual loop body, one request, runs without runSteps' own async frame and iterator.
  const only = step.steps.length === 1 && step.steps[0]?.type === 'request' ? step.steps[0] : null;
  for (let i = 0; i < max; i++) {
    const conn = connection(state, step.on);
    await beforeReuse();
    // Read back from the newest event: the events not yet folded say the same (wire/eventLog.ts).
    if (!mayReuse(conn.recentEvents)) return stop('closed', i);
    if (step.budget !== null && ctx.clock.now() - began >= step.budget) return stop('budget', i);
    if (only === null) await runSteps(step.steps, state);
    else {
      if (state.signal.aborted) throw new Aborted(abortReason(state.signal));
      // The round has just yielded to the check phase: a second yield would cost a whole loop turn.
      await requestNow(only, state, connection(state, only.on));
    }
  }
  stop('max', max);
}

/**
 * Yields once before a request on a connection that already carried one, so a FIN, RST or
 * stray bytes that arrived with the last response are seen before the next write, as a
 * client pool sees them (undici yields to the check phase before reusing a socket).
 */
function beforeReuse(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Opens a connection with the label: the newest of the label, or just after `after` (a sample
 * measured again: the scenario's own newest stays newest). `timed`: the timekeeper holds its
 * socket, so that the stamps its idle time rests on are not held up by this event loop's work
 * (wire/timekeeper.ts); by default, every connection a `timed` request measures on when the
 * timekeeper takes all samples.
 */
async function openConnection(
  state: StepState,
  label: string,
  id: string,
  after: WireConnection | null = null,
  timed = state.ctx.stamper.samples === 'all' && state.timedLabels.has(label),
): Promise<WireConnection> {
  const options = timed ? { ...connectOptions(state.ctx), timekeeper: state.ctx.stamper.timekeeper } : connectOptions(state.ctx);
  const conn =
    state.protocol === 'h2'
      ? await H2Connection.open(id, options, state.ctx.clock, state.ctx.firstByteTimeoutMs)
      : await ProbeConnection.open(id, options, state.ctx.clock);
  if (state.signal.aborted) {
    // The scenario ended (timeout, Ctrl-C) while this connect was in flight: its cleanup has
    // already run, so this socket would be left open and keep the process alive.
    await conn.close('rst', 'cleanup');
    throw new Aborted(abortReason(state.signal));
  }
  const at = after === null ? -1 : state.live.findIndex((l) => l.conn === after);
  if (at < 0) state.live.push({ label, conn });
  else state.live.splice(at + 1, 0, { label, conn });
  return conn;
}

type RequestOverrides = Partial<Pick<Extract<Step, { type: 'request' }>, 'method' | 'path' | 'version' | 'connection' | 'headers'>>;

/** One request on `conn`, recorded; the first request on a connection must be answered (or the scenario cannot run). */
async function exchange(state: StepState, label: string, conn: WireConnection, step: RequestOverrides): Promise<ExchangeOutcome> {
  const { ctx } = state;
  const outcome = await sendRequest(ctx, conn, step);
  state.exchanges.push({ label, connection: conn.id, outcome: recorded(outcome) });
  // An unframed body that never ended is a finding (unframedFindings), not a target that cannot be probed.
  const error = outcome.index === 1 && unframedBody(conn.events) === undefined ? firstRequestError(outcome, ctx.target) : null;
  if (error !== null) throw error;
  return outcome;
}

/**
 * Writes the request a step describes on `conn`. Apart from exchange: an async function keeps
 * its whole register file across each await, and building the request took most of it.
 */
function sendRequest(ctx: RunContext, conn: WireConnection, step: RequestOverrides): Promise<ExchangeOutcome> {
  const connectionHeader = step.connection ?? 'none';
  const method = step.method ?? ctx.method;
  const path = step.path ?? ctx.target.path;
  // The context's own list when the step adds none: the connections reuse a request's encoding while its headers are the same list.
  const headers = step.headers === undefined || step.headers.length === 0 ? ctx.headers : [...ctx.headers, ...step.headers];
  if (conn instanceof H2Connection) {
    return conn.send({ method, path, authority: ctx.target.hostHeader, scheme: ctx.target.tls ? 'https' : 'http', headers, userAgent: ctx.userAgent }, ctx);
  }
  return conn.send(
    {
      method,
      path,
      version: step.version ?? '1.1',
      host: ctx.target.hostHeader,
      connection: connectionHeader === 'none' ? null : connectionHeader,
      headers,
      userAgent: ctx.userAgent,
    },
    ctx,
  );
}

/**
 * The race step. T is the idle timeout of the calibration connection (`after`); each trial
 * opens a connection, sends a request, keeps the connection even after the server's FIN (as
 * a pool that does not watch idle sockets would) and sends again T + offset after its first
 * response: trials past T show what such a client gets, trials before T show the failures no
 * client check prevents. The trials open while the calibration connection still idles, each
 * at calibration response + RACE_LEAD_MS + max(0, −offset) + its stagger, so every second
 * request falls due just after T is known: the step ends about T after the calibration
 * response instead of 2 T (a calibration already closed by an earlier step works too).
 */
async function runRace(step: Extract<Step, { type: 'race' }>, state: StepState): Promise<void> {
  const calibration = await settledConnection(state, step.after);
  const trials: RaceTrial[] = [];
  state.race = { idleTimeoutMs: null, calibration: calibration.id, trials };
  const origin = idleSince(calibration.events);
  const max = resolveDuration(step.max, state.ctx);
  // HTTP/2: T ends at the server's GOAWAY (h2IdleTimeout reads an HTTP/1 connection's close as idleTimeoutOf does).
  const ended = calibration instanceof H2Connection ? calibration.waitForGoaway(max) : calibration.waitForPeerClose(max);
  const calibrated = ended.then(() => h2IdleTimeout(calibration.events, classifyClose(calibration.events)));
  const plan: { offsetMs: number; id: string }[] = [];
  for (let r = 1; r <= step.repeat; r++) {
    for (const offsetMs of step.offsets) plan.push({ offsetMs, id: `${step.as}@T${offsetMs < 0 ? '-' : '+'}${Math.abs(offsetMs)}ms#${r}` });
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length && !state.signal.aborted) {
      const slot = next++;
      const trial = plan[slot] as (typeof plan)[number];
      // Spread the first wave a little: the server's closes (and our writes) then do not all
      // land in the same millisecond, where handling one delays the others.
      const stagger = slot < step.parallel ? slot * RACE_STAGGER_MS : 0;
      const startAt = origin + RACE_LEAD_MS + Math.max(0, -trial.offsetMs) + stagger;
      await sleep(Math.max(0, startAt - state.ctx.clock.now()), undefined, { signal: state.signal });
      const conn = await openConnection(state, step.as, trial.id);
      conn.keepHalfOpen();
      const first = await exchange(state, step.as, conn, {});
      if (first.kind !== 'response' || !first.keepAlive) continue; // nothing to race on
      const idleTimeoutMs = await calibrated;
      if (idleTimeoutMs === null) return; // no idle close to race against: the cleanup closes the trials
      const answeredAt = idleSince(conn.events);
      const sendAt = answeredAt + idleTimeoutMs + trial.offsetMs;
      await sleep(Math.max(0, sendAt - state.ctx.clock.now()), undefined, { signal: state.signal });
      const closeSeenBeforeWrite = conn.peerClosed || conn.isClosed || (conn instanceof H2Connection && conn.goingAway);
      const outcome = await exchange(state, step.as, conn, {});
      // The real idle time, from the response to the request as written (timers run late).
      const idleMs = roundMs(idleBeforeLastRequest(conn.events) ?? sendAt - answeredAt);
      // Over HTTP/2 a response is `answered`, beside refused-stream, above-last-stream-id and connection-lost.
      const got = outcomeOf(outcome);
      trials.push({
        offsetMs: trial.offsetMs,
        connection: conn.id,
        idleMs,
        // Its idle time ends at the request as written (exact) and begins at a response as stamped.
        idleErrorMs: lateBeforeRequest(conn.events),
        closeSeenBeforeWrite,
        outcome: conn instanceof H2Connection && got === 'ok' ? 'answered' : got,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(step.parallel, plan.length) }, worker));
  state.race.idleTimeoutMs = await calibrated;
}

/**
 * The short step: `count` requests one after another, each on a new connection. With
 * `then: close` each close runs while the next connection is made: it waits for the server's
 * FIN (after "Connection: close" the server closes first), which a server that drops
 * silently never sends, so waiting in turn would cost count × the close's grace time. With
 * `then: abandon` each connection is left open and idle, as a client that drops its pool
 * does; the server's idle closes are then awaited together, each at most --max-idle after
 * its response, so the step lasts the requests plus one idle timeout (not count × it). The probe
 * closes those the server kept (the measures report that the server did not close them).
 */
async function runShort(step: Extract<Step, { type: 'short' }>, state: StepState): Promise<void> {
  const closing: Promise<void>[] = [];
  const abandoned: WireConnection[] = [];
  try {
    for (let i = 1; i <= step.count; i++) {
      if (state.signal.aborted) throw new Aborted(abortReason(state.signal));
      const conn = await openConnection(state, step.as, `${step.as}#${i}`);
      await exchange(state, step.as, conn, { connection: step.connection });
      if (step.then === 'abandon') abandoned.push(conn);
      else closing.push(conn.close('fin', 'step'));
      // A body that never ends costs the body deadline on every connection: one shows it.
      if (unframedBody(conn.events) !== undefined) break;
    }
  } finally {
    await Promise.all(closing);
  }
  if (abandoned.length === 0) return;
  const maxMs = state.ctx.maxIdleMs;
  await Promise.all(abandoned.map((conn) => conn.waitForPeerClose(Math.max(0, idleSince(conn.events) + maxMs - state.ctx.clock.now()))));
  await Promise.all(abandoned.map((conn) => conn.close('fin', 'step')));
}

/**
 * The ping step: PINGs every `every` ms on one HTTP/2 connection, unanswered ones included
 * (their ACKs, or their absence, are on the timeline), until one of the bounds the step gives.
 */
async function runPing(step: Extract<Step, { type: 'ping' }>, state: StepState): Promise<void> {
  const conn = h2Connection(state, step.on, 'ping');
  const watched = step.whileOpen === null ? null : connection(state, step.whileOpen);
  const ended = (c: WireConnection): boolean => c.peerClosed || c.isClosed || (c instanceof H2Connection && c.goingAway);
  const { clock } = state.ctx;
  const began = clock.now();
  const max = resolveDuration(step.max, state.ctx);
  let sent = 0;
  let watchedEndedAt: number | null = null;
  const stop = (reason: PingStop['reason']): void => void state.pings.push({ on: step.on, reason, sent });
  for (;;) {
    if (ended(conn)) return stop('ended');
    if (step.count !== null && sent >= step.count) return stop('count');
    if (clock.now() - began >= max) return stop('max');
    if (watched !== null) {
      if (watchedEndedAt === null && ended(watched)) watchedEndedAt = clock.now();
      if (watchedEndedAt !== null && clock.now() - watchedEndedAt >= step.extra) return stop('watched-ended');
    }
    void conn.ping(Math.max(1000, 4 * step.every));
    sent += 1;
    await sleep(step.every, undefined, { signal: state.signal });
  }
}

/** The connection a step that only HTTP/2 has (burst, ping) works on; the loader allows those steps only in `protocol: h2` scenarios. */
function h2Connection(state: StepState, label: string, step: string): H2Connection {
  const conn = connection(state, label);
  if (!(conn instanceof H2Connection)) throw new Error(`the ${step} step needs an HTTP/2 connection`);
  return conn;
}

function connection(state: StepState, label: string): WireConnection {
  // The newest with that label, found without copying the list (this runs on every request).
  for (let i = state.live.length - 1; i >= 0; i--) {
    const live = state.live[i] as LiveConnection;
    if (live.label === label) return live.conn;
  }
  throw new Error(`no connection "${label}"`); // the loader rejects this earlier
}

/** How every connection of the run reaches the target (the preflight's too). */
export function connectOptions(
  ctx: Pick<RunContext, 'target' | 'insecure' | 'ca' | 'connectTimeoutMs' | 'table' | 'tlsKeylog' | 'compaction'>,
): ConnectOptions {
  const { target } = ctx;
  return {
    host: connectHost(target),
    serverName: target.host,
    port: target.port,
    tls: target.tls,
    insecure: ctx.insecure,
    ca: ctx.ca,
    connectTimeoutMs: ctx.connectTimeoutMs,
    table: ctx.table,
    keylog: ctx.tlsKeylog ?? null,
    ...(ctx.compaction === undefined ? {} : { compaction: ctx.compaction }),
  };
}

function resolveDuration(ref: number | '$maxIdle', ctx: RunContext): number {
  return ref === '$maxIdle' ? ctx.maxIdleMs : ref;
}

/** Every connection's record, the socket table read once per poll for each server port's connections (settledRowsAll). */
async function finishRecords(live: readonly LiveConnection[], table: SocketTable): Promise<{ label: string; record: ConnectionRecord }[]> {
  const byPort = new Map<number, { conn: WireConnection; local: Endpoint; remote: Endpoint }[]>();
  for (const { conn } of live) {
    const { local, remote } = conn;
    if (local === null || remote === null || !isLocalAddress(remote.address)) continue;
    byPort.set(remote.port, [...(byPort.get(remote.port) ?? []), { conn, local, remote }]);
  }
  const seenOf = new Map<WireConnection, SeenRows | null>();
  for (const group of byPort.values()) {
    const rows = await settledRowsAll(group, table.read);
    for (const [i, { conn }] of group.entries()) seenOf.set(conn, rows[i] ?? null);
  }
  return live.map(({ label, conn }) => finishRecord(label, conn, seenOf.get(conn) ?? null, table.source));
}

function finishRecord(
  label: string,
  conn: WireConnection,
  seen: SeenRows | null,
  source: SocketTable['source'],
): {
  label: string;
  record: ConnectionRecord;
} {
  const end = classifyClose(conn.events);
  const { local, remote } = conn;
  const targetIsLocal = remote !== null && isLocalAddress(remote.address);
  const timeWait = timeWaitOf(local !== null && remote !== null, end, targetIsLocal, seen === null ? null : { ...seen, source }, resetSeen(conn.events));
  return {
    label,
    record: { id: conn.id, local, remote, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut, events: conn.events, end, timeWait },
  };
}
