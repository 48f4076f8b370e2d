import { METRICS, readMetric } from '../model/metrics.js';
import type { MetricEntry, MetricUnit, ValueOf } from '../model/metrics.js';
import type { ClientVerdict, ScenarioMeasurement } from '../model/result.js';
import { closesImmediately, safeIdleMs } from '../measures/race.js';
import { hintEffect } from './keepAliveHint.js';
import { formatDuration } from '../util/duration.js';
import { CLIENT_PROFILES } from '../catalog/clientProfiles.js';
import type { ClientChoice } from '../plan/client.js';
import type { ClientProfile } from '../catalog/clientProfiles.js';

/** What the run measured about the server that decides a client's fate. */
export interface ServerFacts {
  /** T: the measured idle timeout; null when no idle close was seen. */
  readonly idleTimeoutMs: number | null;
  /** The `Keep-Alive` header the server sends, as sent (each client parses it its own way); null when it sends none. */
  readonly keepAliveHeader: string | null;
  /** The same for a request that says `Connection: keep-alive`; undefined when that form was not measured. */
  readonly keepAliveHeaderAsked?: string | null;
  /** How the server closed an idle connection (`fin`, `rst`), when it did. */
  readonly closeKind: string | null;
  /** timeout-mismatch's serverClose: `silent-drop` means no FIN ever announces the close. */
  readonly serverClose: string | null;
  /** stale-race's window (its upper bound), ms. */
  readonly windowMs: number | null;
  /** --max-idle: with a silent drop, the close happened within this. */
  readonly maxIdleMs: number;
}

/**
 * What the run measured about the server, read through the metric registry: each fact from
 * the first of the entry's scenarios that ran and measured it.
 */
export function serverFacts(scenarios: readonly ScenarioMeasurement[], maxIdleMs: number): ServerFacts {
  const find = <U extends MetricUnit>(e: MetricEntry<U>): ValueOf<U> | null => {
    for (const id of e.scenarios) {
      const value = readMetricOf(
        scenarios.find((s) => s.id === id),
        e,
      );
      if (value !== null) return value;
    }
    return null;
  };
  return {
    idleTimeoutMs: find(METRICS.idleTimeout),
    keepAliveHeader: find(METRICS.advertisedKeepAlive),
    keepAliveHeaderAsked: measured(scenarios, METRICS.advertisedKeepAliveAsked) ? find(METRICS.advertisedKeepAliveAsked) : undefined,
    closeKind: find(METRICS.closeKind),
    serverClose: find(METRICS.serverClose),
    windowMs: find(METRICS.failureWindowUpper) ?? find(METRICS.failureWindow),
    maxIdleMs,
  };
}

/** Whether a scenario that provides the metric ran and has it (null included: "none sent" is a measurement). */
function measured(scenarios: readonly ScenarioMeasurement[], e: MetricEntry): boolean {
  return scenarios.some((s) => e.scenarios.includes(s.id) && s.error === null && e.name in s.metrics);
}

function readMetricOf<U extends MetricUnit>(s: ScenarioMeasurement | undefined, e: MetricEntry<U>): ValueOf<U> | null {
  return s === undefined ? null : readMetric(s.metrics, e);
}

/**
 * Every built-in profile against the measured server, the user's client first when given
 * (docs/clients.md explains the rules). Empty when there is nothing to judge by: no idle
 * close measured and no silent drop seen.
 */
export function predictClients(facts: ServerFacts, choice: ClientChoice | null): ClientVerdict[] {
  if (facts.idleTimeoutMs === null && facts.serverClose !== 'silent-drop') return [];
  const verdicts = CLIENT_PROFILES.map((p) => verdict(p, facts, choice?.profile === p ? choice.idleMs : null, choice?.profile === p));
  if (choice !== null && choice.profile === null) verdicts.unshift(verdict(null, facts, choice.idleMs, true));
  return verdicts.sort((a, b) => Number(b.yours) - Number(a.yours));
}

function verdict(p: ClientProfile | null, facts: ServerFacts, idleOverride: number | null, yours: boolean): ClientVerdict {
  const T = facts.idleTimeoutMs;
  const base = idleOverride ?? (p === null ? null : p.idleMs);
  let idle: number | null | 'unconfirmed' = base;
  let idleFrom: ClientVerdict['idleFrom'] = idleOverride !== null ? 'client-idle' : 'default';
  // The hint this client gets: the one the server sends to its request form.
  const header = p?.sendsKeepAlive === true && facts.keepAliveHeaderAsked !== undefined ? facts.keepAliveHeaderAsked : facts.keepAliveHeader;
  const hint = hintEffect(p?.hintRule ?? null, header);
  if (hint.kind === 'no-reuse' || hint.kind === 'unconfirmed') {
    // 0: the client never puts such a connection back in its pool.
    idle = hint.kind === 'no-reuse' ? 0 : 'unconfirmed';
    idleFrom = 'keep-alive-hint';
  } else if (hint.kind === 'limit' && base !== 'unconfirmed') {
    // A hint that only shortens applies below the client's own limit (Node: only when that limit is set).
    if (p?.hintMode === 'replaces' || (typeof base === 'number' && hint.ms < base)) {
      idle = hint.ms;
      idleFrom = 'keep-alive-hint';
    }
  }
  const notices = p === null ? 'unconfirmed' : p.noticesIdleClose;
  const silent = facts.serverClose === 'silent-drop';
  const reuse = staleReuse(idle, T, facts, notices, silent, p?.staleCheckAfterMs ?? 0);
  const safe = T === null ? null : safeIdleMs(T, facts.windowMs ?? 0);
  const needsFix = reuse !== 'no' && reuse !== 'unknown' && p !== null && T !== null;
  return {
    client: p?.name ?? 'custom',
    label: p?.label ?? 'your client (--client-idle)',
    yours,
    idleMs: idle,
    idleFrom,
    honoursKeepAliveHeader: p === null ? 'unconfirmed' : p.honoursKeepAliveHeader,
    noticesIdleClose: notices,
    retriesStale: p === null ? 'unconfirmed' : p.retriesStale,
    staleReuse: reuse,
    errors: reuse === 'every-reuse' || reuse === 'race' ? (p?.staleErrors ?? []) : [],
    fix: needsFix ? (closesImmediately(T) ? NO_REUSE_FIX : safe === null ? NO_SAFE_LIMIT_FIX : settingFix(p.setting, safe)) : null,
  };
}

/** When the race window takes half of the idle timeout or more: no idle limit keeps clear of it. */
const NO_SAFE_LIMIT_FIX =
  "no idle limit keeps clear of this server's race window (half its idle timeout or more, which grows with the round trip): retry idempotent requests once on a new connection, or make the server idle longer";

/** For a server that closes right after each response: no idle limit is short enough (and 0 means "never expire" to Node and Go). */
const NO_REUSE_FIX =
  'do not reuse connections to this server: it closes each one right after the response without saying so; turn keep-alive off for this host (or send "Connection: close"), or retry idempotent requests once on a new connection';

/**
 * - no: the client drops idle connections before the server's margin below T;
 * - race: only a request sent as the server closes can fail (the client notices a FIN on an
 *   idle connection, or its limit sits within the margin below T);
 * - every-reuse: it keeps connections past the close and does not notice it (or the close is
 *   silent), so any reuse after T fails;
 * A pool that notices a FIN on an idle socket notices an RST there too.
 * - unknown: a default that no source confirms, or no T to compare with.
 */
/** How much earlier than a client's stale check the server must close for reuses to meet dead connections every time. */
const STALE_CHECK_MARGIN_MS = 100;

function staleReuse(
  idle: number | null | 'unconfirmed',
  T: number | null,
  facts: ServerFacts,
  notices: boolean | 'unconfirmed',
  silent: boolean,
  checkAfterMs: number,
): ClientVerdict['staleReuse'] {
  if (idle === 'unconfirmed') return 'unknown';
  if (T === null) {
    // A silent drop within --max-idle: a client keeping connections longer meets it.
    if (silent) return idle === null || idle > facts.maxIdleMs ? 'every-reuse' : 'unknown';
    return 'unknown';
  }
  const safe = safeIdleMs(T, facts.windowMs ?? 0);
  if (idle === 0 || (idle !== null && safe !== null && idle <= safe)) return 'no';
  if (idle !== null && idle < T) return 'race';
  if (silent) return 'every-reuse'; // nothing announces the close before the next request
  // A FIN or an RST on an idle socket is what a watching pool notices; without either measured
  // (a run without idle-timeout or stale-race), there is nothing to judge by.
  if (facts.closeKind === null || notices === 'unconfirmed') return 'unknown';
  // A client that checks only connections idle checkAfterMs or longer reuses the ones the
  // server closed between T and then without looking (equal, within the measurement error,
  // is the race itself).
  if (notices && checkAfterMs > T + STALE_CHECK_MARGIN_MS) return 'every-reuse';
  return notices ? 'race' : 'every-reuse';
}

/** The fix sentence: a client setting (HTTP/1 or HTTP/2, docs/clients.md) set to `safeMs` or less, in the setting's unit. */
export function settingFix(setting: ClientProfile['setting'], safeMs: number): string {
  if (setting.unit === 's') {
    const seconds = Math.floor(safeMs / 1000);
    // A setting in whole seconds cannot hold a limit under 1 s: name the limit, not a wrong value.
    if (seconds === 0) return `set ${setting.name} to at most ${formatDuration(safeMs)}: below the 1 s its example takes (docs/clients.md shows the setting)`;
    return `set ${setting.name} to ${seconds} s or less: ${setting.example.replaceAll('{s}', String(seconds))}`;
  }
  return `set ${setting.name} to ${formatDuration(safeMs)} or less: ${setting.example.replaceAll('{ms}', String(safeMs))}`;
}
