import { H2_CLIENTS } from '../catalog/clientProfiles.js';
import type { H2Client } from '../catalog/clientProfiles.js';
import { safeIdleMs } from '../measures/race.js';
import type { H2ClientVerdict, MetricValue, ScenarioMeasurement } from '../model/result.js';
import { settingFix } from './clients.js';

/** What `h2-idle-timeout` (and `h2-race`, when it ran) measured about how the server ends an idle HTTP/2 connection. */
export interface H2ServerFacts {
  /** T: last response → the first GOAWAY, or → the close when there was none. */
  readonly idleTimeoutMs: number;
  /** Whether a GOAWAY came before the close (`goawayErrorCode` not null). */
  readonly goaway: boolean;
  /** Whether the close was an RST (`closeKind` `rst`): curl resends after an RST, not after a FIN. */
  readonly reset: boolean;
  /** h2-race's failure window (its upper bound), ms; 0 when it did not run. */
  readonly windowMs: number;
}

/**
 * The facts, read from the HTTP/2 scenarios' metrics by name (scenarios/h2-idle-timeout.yaml,
 * h2-race.yaml; the registry in model/metrics.ts holds the HTTP/1 ones, as h2Advice.ts reads
 * these); null when h2-idle-timeout did not run or measured no T.
 */
export function h2ServerFacts(scenarios: readonly ScenarioMeasurement[]): H2ServerFacts | null {
  const idle = scenarios.find((s) => s.id === 'h2-idle-timeout' && s.error === null);
  const T = idle?.metrics.idleTimeoutMs;
  if (idle === undefined || typeof T !== 'number') return null;
  const race = scenarios.find((s) => s.id === 'h2-race' && s.error === null)?.metrics ?? {};
  const num = (m: Readonly<Record<string, MetricValue>>, name: string): number | null => (typeof m[name] === 'number' ? (m[name] as number) : null);
  return {
    idleTimeoutMs: T,
    goaway: typeof idle.metrics.goawayErrorCode === 'string',
    reset: idle.metrics.closeKind === 'rst',
    windowMs: num(race, 'failureWindowUpperMs') ?? num(race, 'failureWindowMs') ?? 0,
  };
}

/**
 * Every client with known HTTP/2 behaviour (docs/clients.md "HTTP/2") against the measured
 * server, the user's --client first: who ends an idle connection first, and what a request
 * sent as the server ends it meets. Empty without facts.
 */
export function predictH2Clients(facts: H2ServerFacts | null, yours: string | null): H2ClientVerdict[] {
  if (facts === null) return [];
  return H2_CLIENTS.map((c) => h2Verdict(c, facts, c.name === yours)).sort((a, b) => Number(b.yours) - Number(a.yours));
}

function h2Verdict(c: H2Client, facts: H2ServerFacts, yours: boolean): H2ClientVerdict {
  const { idleMs, setting } = c.h2;
  const safe = safeIdleMs(facts.idleTimeoutMs, facts.windowMs);
  const endsFirst: H2ClientVerdict['endsFirst'] =
    idleMs === 'unconfirmed' ? 'unknown' : idleMs !== null && safe !== null && idleMs <= safe ? 'client' : 'server';
  const race = endsFirst === 'client' ? 'none' : raceOutcome(c, facts);
  const fails = race === 'fails' || race === 'resent-if-replayable';
  return {
    client: c.name,
    label: c.label,
    yours,
    idleMs,
    endsFirst,
    serverEnds: facts.goaway ? 'goaway' : 'close',
    race,
    errors: fails ? (facts.goaway ? c.h2.goawayErrors : c.h2.lostErrors) : [],
    // Only a client that outlives T and can then show an error has something to change.
    fix: endsFirst === 'server' && race !== 'resent' && setting !== null && safe !== null ? settingFix(setting, safe) : null,
  };
}

/** A request sent as the server ends the connection: resent by the client, or failed (docs/clients.md "HTTP/2"). */
function raceOutcome(c: H2Client, facts: H2ServerFacts): H2ClientVerdict['race'] {
  const retry = facts.goaway ? c.h2.retriesUnprocessed : c.h2.retriesLost;
  switch (retry) {
    case 'always':
      return 'resent';
    case 'replayable':
      return 'resent-if-replayable';
    case 'after-rst':
      return facts.reset ? 'resent' : 'fails';
    case 'none':
      return 'fails';
    default:
      return 'unknown';
  }
}
