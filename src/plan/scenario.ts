import type { HttpVersion } from '../model/events.js';
import type { ProtocolId } from '../model/result.js';

/**
 * A scenario as written in scenarios/*.yaml, after validation against scenarios/schema.json
 * (plan/loadScenario.ts; docs/scenarios.md). Bounds may name a run option (`$maxIdle`, `$maxRequests`) so the
 * same file adapts to `--max-idle` and `--max-requests`.
 */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  /** The file it came from. */
  readonly source: string;
  readonly steps: readonly Step[];
  /** Metric name → how to derive it from the trace. */
  readonly metrics: Readonly<Record<string, MetricSpec>>;
  /** The metric shown as the scenario's key figure in the summary table. */
  readonly headline: string | null;
  /** Runs after the concurrent scenarios, alone (a burst of connections would disturb their timing). */
  readonly exclusive: boolean;
  /**
   * `keep-alive`: it measures kept-alive connections (idle time, reuse after idling, the cap).
   * Against a server that keeps none alive its own expectations and advice do not apply.
   */
  readonly needs: 'keep-alive' | null;
  /** The protocol its connections speak: HTTP/1.x, or HTTP/2 (run only against a target that speaks it). */
  readonly protocol: ProtocolId;
}

/** A duration in ms, or the name of a run option that holds one. */
export type DurationRef = number | '$maxIdle';
/** A count, or the name of a run option that holds one. */
export type CountRef = number | '$maxRequests';

/** One step of the script. `line` points back into the scenario file. */
export type Step =
  | { readonly type: 'open'; readonly line: number; readonly as: string }
  | {
      readonly type: 'request';
      readonly line: number;
      readonly on: string;
      readonly version: HttpVersion;
      readonly method: string | null;
      readonly path: string | null;
      /** `none` sends no Connection header. */
      readonly connection: 'keep-alive' | 'close' | 'none';
      readonly headers: readonly (readonly [string, string])[];
      /** Skip the request when the connection is closed or its last response said it would not persist. */
      readonly ifOpen: boolean;
      /**
       * The idle time after this response is a measurement: when the response was stamped late
       * (the event loop busy or the process not scheduled, wire/clock.ts), the request is sent
       * again on the connection once the loop runs quiet, so the idle period starts on a sure stamp.
       */
      readonly timed: boolean;
    }
  | { readonly type: 'wait'; readonly line: number; readonly ms: DurationRef }
  | {
      readonly type: 'wait-close';
      readonly line: number;
      readonly on: string;
      readonly max: DurationRef;
      /** Wait this much longer after the close (or the bound), still idle. */
      readonly extra: number;
      /** Wait only when a close must follow (the last response said it would not persist): otherwise nothing can come. */
      readonly ifClosing: boolean;
      /** After the peer's FIN: close our side at once, or keep it half-open to write on it later. */
      readonly then: 'close' | 'keep-open';
    }
  | { readonly type: 'close'; readonly line: number; readonly on: string; readonly how: 'fin' | 'rst' }
  | {
      readonly type: 'repeat';
      readonly line: number;
      readonly on: string;
      readonly max: CountRef;
      /** Stop once this much time has passed since the loop began (null: only `max` bounds it). */
      readonly budget: number | null;
      readonly until: 'closed';
      readonly steps: readonly Step[];
    }
  | {
      /**
       * Measures the stale-connection race against the idle timeout T of connection `after`:
       * each trial opens a connection (labelled `as`), sends a request, idles T + offset from
       * the end of its response and sends again, `repeat` times per offset, at most `parallel`
       * connections at once. The trials open while `after` idles (each late enough that T is
       * known when it must send), and the step waits up to `max` for `after` to close.
       */
      readonly type: 'race';
      readonly line: number;
      readonly after: string;
      /** How long to wait for `after` to close. */
      readonly max: DurationRef;
      readonly as: string;
      /** Offsets from T in ms (negative: before T). */
      readonly offsets: readonly number[];
      readonly repeat: number;
      readonly parallel: number;
    }
  | {
      /** `count` requests, each on a new connection (labelled `as`), one after another. */
      readonly type: 'short';
      readonly line: number;
      readonly as: string;
      readonly count: number;
      /** `close`: ask the server to close (Connection: close); `none`: send no Connection header. */
      readonly connection: 'close' | 'none';
      /** `close`: the client closes each connection after its response; `abandon`: it leaves each open and idle, for the server to close within --max-idle. */
      readonly then: 'close' | 'abandon';
    }
  | {
      /** HTTP/2: min(the server's MAX_CONCURRENT_STREAMS, max) + 1 requests at once on `on`, each a new stream. */
      readonly type: 'burst';
      readonly line: number;
      readonly on: string;
      readonly max: number;
    }
  | {
      /**
       * HTTP/2: PINGs on `on`, `every` ms apart: `count` of them, or while connection
       * `whileOpen` is open and `extra` ms longer, bounded by `max`; stops when `on` ends.
       */
      readonly type: 'ping';
      readonly line: number;
      readonly on: string;
      readonly every: number;
      readonly count: number | null;
      readonly whileOpen: string | null;
      readonly extra: number;
      readonly max: DurationRef;
    }
  | {
      readonly type: 'expect';
      readonly line: number;
      readonly that: string;
      readonly severity: 'warn' | 'fail';
      readonly message: string | null;
    };

/** The measures a metric can use (measures/metrics.ts implements each). */
export const MEASURES = [
  'reused',
  'responses',
  'connections',
  'closedBy',
  'closeKind',
  'timeWaitSide',
  'idleBeforeClose',
  'advertisedTimeout',
  'advertisedMax',
  'keepAliveHeader',
  'requestsBeforeClose',
  'closeSignalled',
  'lastOutcome',
  'requestOutcome',
  'closeMode',
  'clientIdle',
  'raceWindow',
  'raceWindowUpper',
  'raceSafeIdle',
  'timePerRequest',
  'responseStall',
  'timeWaitClient',
  'timeWaitServer',
  'idleBeforeCloseMedian',
  'idleBeforeCloseMin',
  'idleBeforeCloseMax',
  'h2IdleBeforeGoaway',
  'goawayErrorCode',
  'goawayLastStreamId',
  'goawayDebug',
  'closeAfterGoaway',
  'twoStepGoaway',
  'h2StreamsBeforeGoaway',
  'goawaySignalled',
  'maxConcurrentStreams',
  'streamLimitEnforced',
  'pingRtt',
  'pingResetsIdle',
  'pingPolicy',
] as const;

export type MeasureName = (typeof MEASURES)[number];

/** How a metric is derived: a measure applied to one connection of the scenario (or all). */
export interface MetricSpec {
  readonly measure: MeasureName;
  readonly on: string | null;
  /** requestOutcome: which request on the connection, 1-based. */
  readonly request: number | null;
}
