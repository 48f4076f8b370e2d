import type { ConnEvent, Endpoint } from './events.js';

/** A protocol by its ALPN id (RFC 7301): `http/1.1` stands for HTTP/1.x, HTTP/1.0 included; `h2` is HTTP/2. */
export type ProtocolId = 'http/1.1' | 'h2';

/** `--protocol`: auto runs each scenario in the protocol it is written for, when the target speaks it; http1 or h2 runs only those. */
export type ProtocolChoice = 'auto' | 'http1' | 'h2';

/** Who sent the first FIN or RST on a connection. */
export type Closer = 'server' | 'client' | 'none';

/** How the first close travelled. */
export type CloseSignal = 'fin' | 'rst';

/** How the lab server closes a connection (see LabProfileReport.close). */
export type LabCloseMode = 'fin' | 'rst' | 'half' | 'drop';
export const LAB_CLOSE_MODES: readonly LabCloseMode[] = ['fin', 'rst', 'half', 'drop'];

/**
 * Where the probe reads the state of its connections' sockets (who holds TIME_WAIT, whether
 * an RST tore a socket down): Linux's /proc/net/tcp{,6}; elsewhere `netstat -an` (macOS,
 * the BSDs, Windows, a Linux without /proc); or none, and then the report infers from the
 * timelines and says so (wire/socketTable.ts).
 */
export type SocketTableSource = 'proc-net-tcp' | 'netstat' | 'none';

/**
 * `--timekeeper`: which timed idle samples a thread of their own holds and stamps
 * (wire/timekeeper.ts): auto, every one when the machine is busy as the run starts (a 1-minute
 * load average at or above its CPUs), else those taken again after a response stamped over
 * 30 ms late; always, every one; never, none.
 */
export type TimekeeperChoice = 'auto' | 'always' | 'never';

/** `--socket-table`: auto picks the first that works, in the order above. */
export type SocketTableChoice = 'auto' | 'proc' | 'netstat' | 'none';

/** Which end of a connection is left in TIME_WAIT, and how we know. */
export interface TimeWaitFinding {
  readonly side: 'server' | 'client' | 'none' | 'unknown';
  /** The socket table it was read from (proc-net-tcp, netstat); 'inferred' when derived from the timeline. */
  readonly source: 'proc-net-tcp' | 'netstat' | 'inferred';
  /** The socket-table rows seen for this connection, or the reasoning used. */
  readonly evidence: readonly string[];
}

/**
 * How a connection ended, derived from its events (see timeline/classifyClose.ts).
 * - server-idle-close: the server closed a connection with no request outstanding.
 * - server-close-after-response: as above, right after a response that announced `Connection: close`.
 * - premature-close: the peer closed (FIN) after a request was sent and before any response byte.
 * - truncated-response: the peer closed mid-headers or mid-body.
 * - reset-on-read: ECONNRESET while a request was outstanding.
 * - server-reset: RST with no request outstanding.
 * - write-epipe: writing a request failed with EPIPE (the peer had reset the connection).
 * - client-close: the probe closed first.
 * - timeout: a deadline expired and the probe gave up.
 * - open: nothing closed it before the run ended (should not remain after cleanup).
 */
export type CloseKind =
  | 'server-idle-close'
  | 'server-close-after-response'
  | 'premature-close'
  | 'truncated-response'
  | 'reset-on-read'
  | 'server-reset'
  | 'write-epipe'
  | 'client-close'
  | 'timeout'
  | 'open';

/** The end of one connection, with the events that prove it. */
export interface CloseClassification {
  readonly kind: CloseKind;
  readonly closedBy: Closer;
  readonly signal: CloseSignal | null;
  /** Idle time between the last complete response (or connect) and the server's close, when the server closed an idle connection. */
  readonly idleMs: number | null;
  /**
   * How far idleMs may be off, ms (null with it): the larger of how late its two ends may have
   * been stamped (ConnEvent `late`, wire/clock.ts); 0 on a capture's wire times.
   */
  readonly idleErrorMs: number | null;
  /** Responses completed on the connection before it ended. */
  readonly responses: number;
  /** Plain words, e.g. "server closed the idle connection (FIN) after 3001 ms". */
  readonly summary: string;
  /** Timestamps (ms) of the events the classification rests on. */
  readonly evidence: readonly number[];
}

/** One probe connection as reported. */
export interface ConnectionRecord {
  readonly id: string;
  readonly local: Endpoint | null;
  readonly remote: Endpoint | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly events: readonly ConnEvent[];
  readonly end: CloseClassification;
  readonly timeWait: TimeWaitFinding;
  /** `run --capture`: the idle time the event loop measured and its bound, before the capture's times replaced them (`end` is the wire's); absent otherwise. */
  readonly eventLoop?: { readonly idleMs: number | null; readonly idleErrorMs: number | null };
}

/** A metric value as it appears in JSON. */
export type MetricValue = number | string | boolean | null;

/** A statement about the target, with the evidence behind it. */
export interface Finding {
  readonly text: string;
  readonly evidence: readonly Evidence[];
}

/** Where a finding comes from: a connection, optionally an event time and request index. */
export interface Evidence {
  readonly connection: string;
  readonly localPort: number | null;
  readonly t: number | null;
  readonly requestIndex: number | null;
  readonly detail: string;
}

/** pass: as expected; warn: a finding users should act on; fail: an expectation failed; error: could not run. */
export type ScenarioStatus = 'pass' | 'warn' | 'fail' | 'error';

/** The outcome of an `expect` step. */
export interface ExpectationResult {
  readonly expression: string;
  /** The metric it reads (in its scenario's `metrics`). */
  readonly metric: string;
  /** `scenario`: an expect step of the scenario file; `cli`: --expect or a --behind preset. */
  readonly origin: 'scenario' | 'cli';
  readonly severity: 'warn' | 'fail';
  readonly ok: boolean;
  /** The metric's value; null when it was not measured. */
  readonly measured: MetricValue;
  readonly message: string;
}

/** One scenario as measured, before it is judged (the measures layer's output). */
export interface ScenarioMeasurement {
  readonly id: string;
  readonly title: string;
  readonly source: string;
  /** The protocol its connections spoke. */
  readonly protocol: ProtocolId;
  /** The metric the summary table shows as the key figure. */
  readonly headline: string | null;
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly metrics: Readonly<Record<string, MetricValue>>;
  /**
   * Each timing metric's error bound, ms, by metric name: how far its value may be off because
   * the probe's event loop stamped its two ends late (wire/clock.ts). Above UNCERTAIN_ERROR_MS
   * (model/metrics.ts) the value is uncertain. 0 for times read off a capture.
   */
  readonly errorMs: Readonly<Record<string, number>>;
  readonly findings: readonly Finding[];
  readonly error: ProbeErrorInfo | null;
  readonly connections: readonly ConnectionRecord[];
  /** The stale-connection race, for scenarios with a `race` step; null otherwise. */
  readonly race: RaceReport | null;
  /**
   * `run --capture`: the timing metrics (in ms) whose value in `metrics` was measured on the
   * wire, each with the event loop's value it replaced; absent when the scenario's times are
   * the event loop's (no capture, or a connection the capture could not time).
   */
  readonly wire?: Readonly<Record<string, WireMetric>>;
}

/** A timing metric measured from a packet capture's timestamps, beside the probe's own. */
export interface WireMetric {
  /** The value from the probe's event-loop times. */
  readonly probeMs: number | null;
  /** Its error bound (ScenarioMeasurement errorMs): probeMs is within it of the wire's value. */
  readonly probeErrorMs: number | null;
  /** The value from the capture's kernel timestamps (what `metrics` holds). */
  readonly wireMs: number | null;
}

/** One scenario's result: its measurement, judged (verdict/judge.ts). */
export interface ScenarioResult extends ScenarioMeasurement {
  readonly status: ScenarioStatus;
  readonly expectations: readonly ExpectationResult[];
  readonly advice: readonly string[];
}

/** One request sent on an idle connection at T + offset (see the `race` step). */
export interface RaceTrial {
  /** Planned offset from the idle timeout T, ms (negative: before T). */
  readonly offsetMs: number;
  readonly connection: string;
  /** Actual idle time when the request was written: end of the previous response → request, ms. */
  readonly idleMs: number;
  /** How far idleMs may be off: how late the response that began it may have been stamped, ms (0 on a capture's times). */
  readonly idleErrorMs: number;
  /** Whether the server's FIN (or RST) had already arrived when the request was written. */
  readonly closeSeenBeforeWrite: boolean;
  /** What the client experienced: ok, premature-close, ECONNRESET, EPIPE, … */
  readonly outcome: string;
}

/** The stale-connection race around the measured idle timeout. */
export interface RaceReport {
  /** T: the idle timeout measured on the calibration connection; null when none was seen (then no trials ran). */
  readonly idleTimeoutMs: number | null;
  readonly trials: readonly RaceTrial[];
  /**
   * How long before T requests written while the connection still looked open (no FIN or
   * RST received yet) already failed: T minus the shortest idle time of such a failure.
   * 0 when none failed before T; null without T.
   */
  readonly windowMs: number | null;
  /**
   * The window's upper bound: T minus the longest idle time of an answered request before the
   * earliest such failure (the offsets are a grid: failures begin between the two). 0 when
   * none failed before T; null without T. The margin below uses it.
   */
  readonly windowUpperMs: number | null;
  /** The longest idle time at which the client should still reuse a connection: safeIdleMs in measures/race.ts. */
  readonly safeIdleMs: number | null;
  /** How far T, the trials' idle times and the figures above may be off because the probe stamped them late, ms (0 on a capture's wire times). */
  readonly errorMs: number;
}

/** A failure to probe, with a stable code (see model/errors.ts). */
export interface ProbeErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly errno: string | null;
  readonly syscall: string | null;
  /** What the user can do about it, when the error says (a certificate the probe does not trust); null otherwise. */
  readonly hint: string | null;
}

/** A run against one target as measured, before it is judged (the measures layer's output). */
export interface MeasuredRun {
  readonly target: TargetInfo;
  readonly startedAt: string;
  readonly durationMs: number;
  /**
   * The longest the probe's own event loop was held up during the run, ms: any timestamp of
   * the run may be late by up to this much (a busy machine, many connections at once).
   */
  readonly loopDelayMaxMs: number;
  /** True when the run was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP): scenarios still running, or not started, report `interrupted` errors. */
  readonly interrupted: boolean;
  /** The signal that stopped it; null when none did. */
  readonly interruptedBy: 'SIGINT' | 'SIGTERM' | 'SIGHUP' | null;
  /** Set when the target could not be probed at all (the preflight request failed): then no scenario ran. */
  readonly error: ProbeErrorInfo | null;
  readonly options: RunOptionsReport;
  /** What the run could read beyond its own sockets; what it could not is inferred, and the reports say so. */
  readonly evidence: EvidenceSources;
  readonly scenarios: readonly ScenarioMeasurement[];
}

/** The evidence a run had. */
export interface EvidenceSources {
  /**
   * The socket table read: TIME_WAIT sides and RSTs the probe's own socket cannot report
   * come from it; with `none` both are inferred from the timelines (an RST right behind a
   * response then reads as a FIN).
   */
  readonly socketTable: SocketTableSource;
  /** The packet capture the report was read from (`analyze`); absent for a live run. */
  readonly capture?: CaptureEvidence;
  /** `run --capture`: the capture taken while probing, and whether its times replaced the event loop's. */
  readonly wire?: WireTimingEvidence;
}

/**
 * A capture of the probe's own connections (`run --capture`): where it was taken, and how
 * many connections it timed. With `source: 'event-loop'` nothing was captured (or read) and
 * `reason` says why, in one line.
 */
export interface WireTimingEvidence {
  /** `wire`: timing metrics come from the capture where it timed every connection of the scenario (scenarios[].wire). */
  readonly source: 'wire' | 'event-loop';
  readonly reason: string | null;
  /** Where the capture was saved (--capture FILE); null when it was not kept. */
  readonly file: string | null;
  /** Over TLS: the probe's session keys saved beside the capture (`FILE.keylog`, SSLKEYLOGFILE format, for `analyze --tls-keylog`); null otherwise. */
  readonly tlsKeylog: string | null;
  /** The capture program, `dumpcap -v`'s first line. */
  readonly tool: string | null;
  readonly interface: string | null;
  /** The libpcap capture filter: the target's addresses and port. */
  readonly filter: string | null;
  readonly packets: number;
  /** The probe's connections in the scenarios, and how many of them the capture timed (each of its events matched to a packet). */
  readonly connections: number;
  readonly wireTimed: number;
  /** The longest a probe timestamp of a received packet trailed the packet's capture time, ms: the event loop's lag, seen; null without any. */
  readonly eventLoopLagMaxMs: number | null;
}

/**
 * A packet capture read by `analyze` (tshark's dissection): what it held, what was filtered,
 * and whether HTTP was visible. Connections are TCP streams; the client of each is the side
 * that sent the SYN (without the handshake in the capture: the side that sent the first request).
 */
export interface CaptureEvidence {
  /** The capture file as given. */
  readonly file: string;
  /** `tshark -v`'s first line. */
  readonly tshark: string;
  /** The tshark display filter --port, --host and --stream made; null for none. */
  readonly filter: string | null;
  /** Packets read (after the filter). */
  readonly packets: number;
  /** TCP connections (streams) seen. */
  readonly connections: number;
  /** Of those, connections on which HTTP/1.x requests were seen. */
  readonly httpConnections: number;
  /** Of those, connections carrying HTTP/2 frames (h2c, or h2 in TLS with its keys). */
  readonly h2Connections: number;
  /** Connections carrying TLS whose HTTP was not visible (no --tls-keylog, or a key log without their keys). */
  readonly tlsHidden: number;
  /** First packet → last packet, ms. */
  readonly spanMs: number;
  /** Connections whose every event is in the report; the others are counted in the summary only (bounded memory). */
  readonly connectionsKept: number;
  /** One row per client address and server endpoint (at most CAPTURE_PEERS_MAX; the rest are summed in a row with client `*`). */
  readonly peers: readonly CapturePeerSummary[];
}

/** What a capture shows between one client address and one server endpoint. */
export interface CapturePeerSummary {
  readonly client: string;
  readonly server: string;
  readonly connections: number;
  readonly requests: number;
  /** Requests on a connection that had already carried one. */
  readonly reusedRequests: number;
  /** Idle closes by the server (FIN or RST on an idle connection). */
  readonly serverIdleCloses: number;
  readonly idleCloseMinMs: number | null;
  readonly idleCloseMedianMs: number | null;
  readonly idleCloseMaxMs: number | null;
  /** Connections the server closed first / the client closed first. */
  readonly serverClosedFirst: number;
  readonly clientClosedFirst: number;
  /** Connections ended (first close) by an RST. */
  readonly resets: number;
  /** Requests written after the server had closed (FIN) or dropped the connection, and what answered them. */
  readonly staleRequests: number;
  readonly staleAnsweredByRst: number;
  readonly staleUnanswered: number;
  readonly staleAnswered: number;
}

/** At most this many client/server rows in a capture's summary. */
export const CAPTURE_PEERS_MAX = 200;

/** The whole run, judged: what --json writes (docs/json-report.md). */
export interface RunResult extends Omit<MeasuredRun, 'scenarios'> {
  readonly schemaVersion: 1;
  readonly tool: { readonly name: 'keepalive-probe'; readonly version: string };
  readonly scenarios: readonly ScenarioResult[];
  /** Client profiles judged against the measured server (docs/clients.md); the user's --client first. */
  readonly clients: readonly ClientVerdict[];
  /** With --hop: each hop, from the client inward; empty otherwise. */
  readonly hops: readonly HopReport[];
  /** HTTP/2 clients judged against `h2-idle-timeout` (docs/clients.md "HTTP/2"); empty when it did not measure T. */
  readonly h2Clients: readonly H2ClientVerdict[];
}

/** One HTTP/2 client's fate against the server's idle end of an HTTP/2 connection (see verdict/h2Clients.ts). */
export interface H2ClientVerdict {
  /** Name in docs/clients.md (a `--client` profile, or node-http2, grpc-go, grpc-js). */
  readonly client: string;
  readonly label: string;
  /** The client named with --client. */
  readonly yours: boolean;
  /** Its default HTTP/2 idle limit, ms: null = none; 'unconfirmed' = no source states it. */
  readonly idleMs: number | null | 'unconfirmed';
  /** Who ends an idle connection first: `client` (its limit is below T less the margin), `server` (the server's GOAWAY or close), `unknown`. */
  readonly endsFirst: 'client' | 'server' | 'unknown';
  /** How the server ended it: `goaway` (a GOAWAY before its close) or `close` (none). */
  readonly serverEnds: 'goaway' | 'close';
  /**
   * A request sent as the server ends the connection: `none` (the client ends first, no race),
   * `resent` (the client resends it by itself), `resent-if-replayable` (only a request whose
   * body can be sent again), `fails`, `unknown`.
   */
  readonly race: 'none' | 'resent' | 'resent-if-replayable' | 'fails' | 'unknown';
  /** Error texts the client shows when the race fails (empty when it cannot). */
  readonly errors: readonly string[];
  /** The setting to change, with the value, or null when nothing needs to change or there is none. */
  readonly fix: string | null;
}

/** One --hop, as measured by its idle-timeout scenario. */
export interface HopReport {
  readonly name: string;
  readonly url: string;
  /** The address connected to instead of resolving the URL's host (`--resolve`); null without it. */
  readonly connectAddress: string | null;
  readonly server: string | null;
  readonly idleTimeoutMs: number | null;
  readonly closeKind: string | null;
}

/** One client's fate against the measured server (see verdict/clients.ts). */
export interface ClientVerdict {
  /** Profile name (`--client`), or `custom` for a client described only by --client-idle. */
  readonly client: string;
  readonly label: string;
  /** The client the user named with --client / --client-idle. */
  readonly yours: boolean;
  /** Effective idle limit, ms: null = none; 0 = never reuses a connection (the Keep-Alive hint is too short); 'unconfirmed' = no source states it. */
  readonly idleMs: number | null | 'unconfirmed';
  /** Where that limit comes from: the client's default, --client-idle, or the server's Keep-Alive hint. */
  readonly idleFrom: 'default' | 'client-idle' | 'keep-alive-hint';
  readonly honoursKeepAliveHeader: boolean | 'unconfirmed';
  readonly noticesIdleClose: boolean | 'unconfirmed';
  readonly retriesStale: 'idempotent' | 'all' | 'none' | 'unconfirmed';
  /** no | race (only a request racing the close fails) | every-reuse | unknown. */
  readonly staleReuse: 'no' | 'race' | 'every-reuse' | 'unknown';
  /** Error texts that client shows when it happens. */
  readonly errors: readonly string[];
  /** The setting to change, with the value, or null when nothing needs to change. */
  readonly fix: string | null;
}

/** The target as probed. */
export interface TargetInfo {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The address connected to instead of resolving host (`--resolve`); null without it. */
  readonly connectAddress: string | null;
  readonly tls: boolean;
  /** The Server header of the first response, escaped later by renderers. */
  readonly server: string | null;
  /** The lab profile when the target is this tool's embedded lab server (`run` with no URL); null otherwise. */
  readonly lab: LabProfileReport | null;
  /** True when the target address is on this host, so /proc/net/tcp shows both ends. */
  readonly local: boolean;
  /** The protocols the target was found to speak (HTTP/2: by ALPN over TLS, by the prior-knowledge preface over TCP); only those checked (`--protocol`). */
  readonly protocols: readonly ProtocolId[];
  /** Why the target was found not to speak HTTP/2 (null when it does, or when it was not checked). */
  readonly h2Refusal: string | null;
}

/** The embedded lab server's keep-alive behaviour (`serve` flags; the demo profile when `run` has no URL). */
export interface LabProfileReport {
  /** Close a connection after this long without a request in progress; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Close after this many responses on one connection; 0 = no cap. */
  readonly maxRequests: number;
  /** Whether an HTTP/1.0 request with `Connection: keep-alive` is kept alive. */
  readonly http10: 'keep-alive' | 'close';
  /**
   * How the server closes: `fin` a full close (later bytes get an RST from the kernel), `rst`
   * abortive, `half` sends FIN but keeps reading (a late request is swallowed, no RST), `drop`
   * closes an idle connection without telling the client (a load balancer or NAT that forgot
   * the flow: nothing is sent until the next request, which gets an RST). Caps close with FIN
   * under `drop`.
   */
  readonly close: LabCloseMode;
  /** Send `Keep-Alive: timeout=..., max=...` on persistent responses. */
  readonly advertise: boolean;
  /** Say `Connection: close` on the last response before the cap; false closes silently. */
  readonly announceLast: boolean;
  /**
   * HTTP/2 on the same port (h2c with prior knowledge), or null for HTTP/1.x only. Its idle
   * timeout and request cap are idleTimeoutMs and maxRequests above, counted in streams.
   */
  readonly http2: LabHttp2Profile | null;
}

/**
 * How the lab ends an HTTP/2 connection (docs/lab.md): `graceful` two GOAWAYs (last stream
 * 2^31−1 and a PING, then the real last stream once the PING is answered), as gRPC-Go and
 * Envoy drain; `immediate` one GOAWAY then close, as nginx and Go's x/net/http2; `none`
 * closes the TCP connection with no GOAWAY, like a proxy that forgets.
 */
export type LabGoawayStyle = 'graceful' | 'immediate' | 'none';
export const LAB_GOAWAY_STYLES: readonly LabGoawayStyle[] = ['graceful', 'immediate', 'none'];

/** `ok` answers every PING; `strict` polices them as gRPC-Go does (LabHttp2Profile.pingMinIntervalMs). */
export type LabPingPolicy = 'ok' | 'strict';
export const LAB_PING_POLICIES: readonly LabPingPolicy[] = ['ok', 'strict'];

/** The lab's HTTP/2 behaviour (`serve --http2` flags). */
export interface LabHttp2Profile {
  /** How a connection is ended on idle timeout and request cap. */
  readonly goaway: LabGoawayStyle;
  /** From the (last) GOAWAY to the TCP close, once no stream is open; ms (Go: 1000, nginx: 0). */
  readonly closeAfterGoawayMs: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS sent to the client; 0 = not sent (no limit). */
  readonly maxConcurrentStreams: number;
  /** `strict`: a PING less than pingMinIntervalMs after the previous one, with no HEADERS or DATA sent in between, is a strike; a third strike gets GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and a close. */
  readonly pingPolicy: LabPingPolicy;
  /** The shortest PING interval `strict` tolerates, ms (gRPC-Go's keepalive EnforcementPolicy.MinTime, 5 min by default). */
  readonly pingMinIntervalMs: number;
  /** Whether a PING restarts the idle timer (Go, Envoy and AWS ALB: it does not). */
  readonly pingResetsIdle: boolean;
}

/** The bounds the run used, reported so figures can be read against them. */
export interface RunOptionsReport {
  /** `--protocol`. */
  readonly protocol: ProtocolChoice;
  readonly maxIdleMs: number;
  readonly maxRequests: number;
  readonly connectTimeoutMs: number;
  readonly firstByteTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly scenarioTimeoutMs: number;
}

/** Facts about the probing host that advice may quote (read once per run, by wire/hostFacts.ts). */
export interface HostFacts {
  /** Size of the ephemeral port range, or null where it cannot be read (not Linux). */
  readonly ephemeralPorts: number | null;
}
