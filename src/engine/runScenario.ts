import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectionRecord, ExpectationResult, Finding, MetricValue, ScenarioResult, ScenarioStatus } from '../model/result.js';
import type { Scenario, Step } from '../scenario/model.js';
import { measure } from '../scenario/measures.js';
import type { Trace } from '../scenario/measures.js';
import { holds, parseExpectation } from '../scenario/expectation.js';
import { adviceFor } from '../scenario/advice.js';
import { formatDuration } from '../util/duration.js';
import { classifyClose } from './classifyClose.js';
import { ProbeConnection } from './connection.js';
import type { ConnectOptions, ExchangeDeadlines, ExchangeOutcome } from './connection.js';
import type { Clock } from './clock.js';
import { ProbeError } from './probeError.js';
import { firstRequestError } from './firstRequestError.js';
import type { Target } from './target.js';
import { isLocalAddress } from './target.js';
import { observeTimeWait } from './timeWait.js';

/** Everything a scenario needs from the run. */
export interface RunContext {
  readonly target: Target;
  readonly clock: Clock;
  readonly insecure: boolean;
  readonly connectTimeoutMs: number;
  readonly deadlines: ExchangeDeadlines;
  readonly maxIdleMs: number;
  readonly maxRequests: number;
  readonly scenarioTimeoutMs: number;
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly userAgent: string;
  /** Aborted when the user interrupts the run (Ctrl-C): scenarios stop and report what they measured. */
  readonly interrupt?: AbortSignal;
}

interface LiveConnection {
  readonly label: string;
  readonly conn: ProbeConnection;
}

/** Runs one scenario on its own connections and returns its result; never throws. */
export async function runScenario(scenario: Scenario, ctx: RunContext): Promise<ScenarioResult> {
  const startedAtMs = ctx.clock.now();
  const live: LiveConnection[] = [];
  const exchanges: { label: string; connection: string; outcome: ExchangeOutcome }[] = [];
  const abort = new AbortController();
  let error: ProbeError | null = null;
  const deadline = setTimeout(() => abort.abort(), ctx.scenarioTimeoutMs);
  const onInterrupt = (): void => abort.abort();
  if (ctx.interrupt?.aborted === true) abort.abort();
  ctx.interrupt?.addEventListener('abort', onInterrupt, { once: true });
  // The race makes --scenario-timeout interrupt any step (a wait-close, a slow request):
  // the cleanup below then closes the connections, which ends whatever was still pending.
  const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
  aborted.catch(() => undefined);
  try {
    await Promise.race([runSteps(scenario.steps, { ctx, live, exchanges, signal: abort.signal }), aborted]);
  } catch (err) {
    error = ctx.interrupt?.aborted === true
      ? new ProbeError('interrupted', `interrupted after ${formatDuration(ctx.clock.now() - startedAtMs)}; what was measured until then is shown`)
      : abort.signal.aborted
        ? new ProbeError('scenario-timeout', `scenario "${scenario.id}" did not finish within ${formatDuration(ctx.scenarioTimeoutMs)}`)
        : err instanceof ProbeError
        ? err
          : new ProbeError('connect-failed', err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(deadline);
    ctx.interrupt?.removeEventListener('abort', onInterrupt);
    abort.abort(); // steps still running after a timeout stop at their next step
  }
  await Promise.all(live.map(({ conn }) => conn.close(error === null ? 'fin' : 'rst', 'cleanup')));
  const connections = await Promise.all(live.map(({ label, conn }) => finishRecord(label, conn)));
  const trace: Trace = { connections, exchanges };
  const measureCtx = { maxIdleMs: ctx.maxIdleMs, maxRequests: ctx.maxRequests };
  const metrics: Record<string, MetricValue> = {};
  const findings: Finding[] = [];
  for (const [name, spec] of Object.entries(scenario.metrics)) {
    const measured = measure(spec, trace, measureCtx);
    metrics[name] = measured.value;
    // A scenario cut short (timeout, Ctrl-C) keeps its metrics and timelines, but findings such
    // as "no close within --max-idle" would claim what was never waited for.
    const cutShort = error?.code === 'interrupted' || error?.code === 'scenario-timeout';
    if (measured.finding !== null && !cutShort && !findings.some((f) => f.text === measured.finding?.text)) findings.push(measured.finding);
  }
  const expectations = error === null ? evaluateExpectations(scenario.steps, metrics) : [];
  return {
    id: scenario.id,
    title: scenario.title,
    source: scenario.source,
    headline: scenario.headline,
    status: statusOf(error, expectations),
    startedAtMs,
    durationMs: Math.round(ctx.clock.now() - startedAtMs),
    metrics,
    findings,
    expectations,
    advice: error === null ? adviceFor(metrics) : [],
    error: error?.toInfo() ?? null,
    connections: connections.map((c) => c.record),
  };
}

interface StepState {
  readonly ctx: RunContext;
  readonly live: LiveConnection[];
  readonly exchanges: { label: string; connection: string; outcome: ExchangeOutcome }[];
  readonly signal: AbortSignal;
}

async function runSteps(steps: readonly Step[], state: StepState): Promise<void> {
  for (const step of steps) {
    if (state.signal.aborted) throw new Error('aborted');
    await runStep(step, state);
  }
}

async function runStep(step: Step, state: StepState): Promise<void> {
  const { ctx } = state;
  switch (step.type) {
    case 'open': {
      const n = state.live.filter((l) => l.label === step.as).length;
      const id = n === 0 ? step.as : `${step.as}#${n + 1}`;
      const conn = await ProbeConnection.open(id, connectOptions(ctx), ctx.clock);
      state.live.push({ label: step.as, conn });
      return;
    }
    case 'request': {
      const conn = connection(state, step.on);
      if (step.ifOpen && !isUsable(conn, state)) return;
      const outcome = await conn.send(
        {
          method: step.method ?? ctx.method,
          path: step.path ?? ctx.target.path,
          version: step.version,
          host: ctx.target.hostHeader,
          connection: step.connection === 'none' ? null : step.connection,
          headers: [...ctx.headers, ...step.headers],
          userAgent: ctx.userAgent,
        },
        ctx.deadlines,
      );
      state.exchanges.push({ label: step.on, connection: conn.id, outcome });
      const error = outcome.index === 1 ? firstRequestError(outcome, ctx.target) : null;
      if (error !== null) throw error;
      return;
    }
    case 'wait':
      await sleep(resolveDuration(step.ms, ctx), undefined, { signal: state.signal });
      return;
    case 'wait-close': {
      const conn = connection(state, step.on);
      if (step.then === 'keep-open') conn.keepHalfOpen();
      await conn.waitForPeerClose(resolveDuration(step.max, ctx));
      if (step.extra > 0) await sleep(step.extra, undefined, { signal: state.signal });
      return;
    }
    case 'close':
      await connection(state, step.on).close(step.how, 'step');
      return;
    case 'repeat': {
      const max = step.max === '$maxRequests' ? ctx.maxRequests : step.max;
      for (let i = 0; i < max; i++) {
        const conn = connection(state, step.on);
        // Yield once so a FIN or RST that arrived with the last response is seen before the
        // next write (undici does the same before reusing a socket).
        await new Promise((resolve) => setImmediate(resolve));
        if (!isUsable(conn, state)) return;
        await runSteps(step.steps, state);
      }
      return;
    }
    case 'expect':
      return; // checked when the scenario ends, over the final metrics
  }
}

/** Open, not half-closed by the peer, and its last response did not end persistence. */
function isUsable(conn: ProbeConnection, state: StepState): boolean {
  if (conn.peerClosed || conn.isClosed) return false;
  const last = [...state.exchanges].reverse().find((x) => x.connection === conn.id);
  return last === undefined || (last.outcome.kind === 'response' && last.outcome.keepAlive);
}

function connection(state: StepState, label: string): ProbeConnection {
  const found = [...state.live].reverse().find((l) => l.label === label);
  if (found === undefined) throw new Error(`no connection "${label}"`); // the loader rejects this earlier
  return found.conn;
}

function connectOptions(ctx: RunContext): ConnectOptions {
  return { host: ctx.target.host, port: ctx.target.port, tls: ctx.target.tls, insecure: ctx.insecure, connectTimeoutMs: ctx.connectTimeoutMs };
}

function resolveDuration(ref: number | '$maxIdle', ctx: RunContext): number {
  return ref === '$maxIdle' ? ctx.maxIdleMs : ref;
}

async function finishRecord(label: string, conn: ProbeConnection): Promise<{ label: string; record: ConnectionRecord }> {
  const end = classifyClose(conn.events);
  const local = conn.remote !== null && isLocalAddress(conn.remote.address);
  const resetSeen = conn.events.some((e) => e.kind === 'error' && (e.code === 'ECONNRESET' || e.code === 'EPIPE'));
  const timeWait = await observeTimeWait(conn.local, conn.remote, end, local, resetSeen);
  return {
    label,
    record: { id: conn.id, local: conn.local, remote: conn.remote, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut, events: conn.events, end, timeWait },
  };
}

function evaluateExpectations(steps: readonly Step[], metrics: Record<string, MetricValue>): ExpectationResult[] {
  const results: ExpectationResult[] = [];
  for (const step of steps) {
    if (step.type === 'repeat') results.push(...evaluateExpectations(step.steps, metrics));
    if (step.type !== 'expect') continue;
    const expectation = parseExpectation(step.that);
    const measured = metrics[expectation.metric];
    const ok = holds(expectation, measured ?? null);
    results.push({
      expression: step.that,
      metric: expectation.metric,
      origin: 'scenario',
      severity: step.severity,
      ok,
      measured,
      message: step.message ?? `expected ${step.that}, measured ${JSON.stringify(measured ?? null)}`,
    });
  }
  return results;
}

function statusOf(error: ProbeError | null, expectations: readonly ExpectationResult[]): ScenarioStatus {
  if (error !== null) return 'error';
  if (expectations.some((e) => !e.ok && e.severity === 'fail')) return 'fail';
  if (expectations.some((e) => !e.ok)) return 'warn';
  return 'pass';
}
