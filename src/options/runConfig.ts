import type { ProtocolChoice, RunOptionsReport, SocketTableChoice, TimekeeperChoice } from '../model/result.js';

/**
 * The run's configuration: the command line (and environment) converted once, with the
 * names the JSON report uses (`options` in docs/json-report.md). Every layer below the CLI
 * reads these names; no flag name travels further than runConfigFrom.
 */
export interface RunConfig extends RunOptionsReport {
  /** The URL to probe; null: the embedded lab server (or the --hop targets). */
  readonly url: string | null;
  /** --scenario: built-in ids or scenario files; empty: every built-in. */
  readonly scenarios: readonly string[];
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly insecure: boolean;
  /** --cacert. */
  readonly caFile: string | null;
  /** NODE_EXTRA_CA_CERTS, which an explicit CA list would otherwise drop (see plan/trust.ts). */
  readonly extraCaFile: string | null;
  /** --resolve host:port:address entries, as written. */
  readonly resolve: readonly string[];
  /** --expect expressions, as written. */
  readonly expect: readonly string[];
  /** --behind presets. */
  readonly behind: readonly string[];
  /** --client. */
  readonly client: string | null;
  /** --client-idle, ms. */
  readonly clientIdleMs: number | null;
  /** --hop name=URL, as written, from the client inward. */
  readonly hops: readonly string[];
  /** --socket-table: where socket states are read. */
  readonly socketTable: SocketTableChoice;
  /** --timekeeper: which timed samples a thread of their own stamps. */
  readonly timekeeper: TimekeeperChoice;
  /** --capture: capture the probe's connections and time them on the wire; `file` keeps the capture (null: not kept). Null without the flag. */
  readonly capture: { readonly file: string | null } | null;
}

/** The defaults of `run`: commander shows them in --help, runConfigFrom fills them in. */
export const RUN_DEFAULTS = {
  maxIdleMs: 90_000,
  maxRequests: 1000,
  connectTimeoutMs: 5000,
  firstByteTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 30_000,
  method: 'GET',
} as const;

/** Room for the non-idle parts of a scenario (requests, the close, TIME_WAIT polling) beyond --max-idle. */
export const SCENARIO_SLACK_MS = 120_000;

/** The options of `run` as commander parses them (camel-cased flag names). */
export interface RunFlags {
  readonly scenario?: readonly string[];
  readonly maxIdle: number;
  readonly maxRequests: number;
  readonly connectTimeout: number;
  readonly responseTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly scenarioTimeout?: number;
  readonly method: string;
  readonly header?: readonly (readonly [string, string])[];
  readonly insecure?: boolean;
  readonly cacert?: string;
  readonly resolve?: readonly string[];
  readonly expect?: readonly string[];
  readonly behind?: readonly string[];
  readonly client?: string;
  readonly clientIdle?: number;
  readonly hop?: readonly string[];
  readonly socketTable?: SocketTableChoice;
  readonly timekeeper?: TimekeeperChoice;
  readonly protocol?: ProtocolChoice;
  /** `--capture` alone is true; `--capture FILE` the file. */
  readonly capture?: string | true;
}

/** The one conversion from flags (and the environment) to the run's configuration. */
export function runConfigFrom(url: string | undefined, flags: RunFlags, env: Readonly<Record<string, string | undefined>>): RunConfig {
  const extra = env.NODE_EXTRA_CA_CERTS;
  return {
    url: url ?? null,
    scenarios: flags.scenario ?? [],
    maxIdleMs: flags.maxIdle,
    maxRequests: flags.maxRequests,
    connectTimeoutMs: flags.connectTimeout,
    firstByteTimeoutMs: flags.responseTimeout,
    headersTimeoutMs: flags.headersTimeout,
    bodyTimeoutMs: flags.bodyTimeout,
    scenarioTimeoutMs: flags.scenarioTimeout ?? flags.maxIdle + SCENARIO_SLACK_MS,
    method: flags.method,
    headers: flags.header ?? [],
    insecure: flags.insecure === true,
    caFile: flags.cacert ?? null,
    extraCaFile: extra === undefined || extra === '' ? null : extra,
    resolve: flags.resolve ?? [],
    expect: flags.expect ?? [],
    behind: flags.behind ?? [],
    client: flags.client ?? null,
    clientIdleMs: flags.clientIdle ?? null,
    hops: flags.hop ?? [],
    socketTable: flags.socketTable ?? 'auto',
    timekeeper: flags.timekeeper ?? 'auto',
    protocol: flags.protocol ?? 'auto',
    capture: flags.capture === undefined ? null : { file: flags.capture === true || flags.capture === '' ? null : flags.capture },
  };
}
