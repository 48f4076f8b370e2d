import type { LabHttp2Profile, LabProfileReport } from '../model/result.js';

/** The embedded lab server's keep-alive behaviour (see LabProfileReport for each field). */
export type LabProfile = LabProfileReport;

/**
 * HTTP/2 as `serve --http2` sets it unless other flags say otherwise: nginx's way of ending a
 * connection (one GOAWAY, then close at once), SETTINGS_MAX_CONCURRENT_STREAMS 100 (the
 * smallest value RFC 9113 §6.5.2 recommends), every PING answered and none counted as activity.
 */
export const SERVE_HTTP2_DEFAULTS: LabHttp2Profile = {
  goaway: 'immediate',
  closeAfterGoawayMs: 0,
  maxConcurrentStreams: 100,
  pingPolicy: 'ok',
  // gRPC-Go's EnforcementPolicy.MinTime default (internal/transport/defaults.go, defaultKeepalivePolicyMinTime).
  pingMinIntervalMs: 5 * 60_000,
  pingResetsIdle: false,
};

/** The profile `keepalive-probe run` uses with no target: every scenario has something real to show. */
export const DEMO_PROFILE: LabProfile = {
  idleTimeoutMs: 2000,
  maxRequests: 5,
  http10: 'close',
  close: 'fin',
  advertise: true,
  announceLast: true,
  // The two-step drain shows the most on the wire: GOAWAY(2^31−1) and PING, then GOAWAY(last stream).
  http2: { ...SERVE_HTTP2_DEFAULTS, goaway: 'graceful', closeAfterGoawayMs: 100 },
};

/** Defaults of `keepalive-probe serve` (commander's defaults read them; the one place they are set). */
export const SERVE_DEFAULTS: LabProfile = {
  idleTimeoutMs: 5000,
  maxRequests: 100,
  http10: 'keep-alive',
  close: 'fin',
  advertise: false,
  announceLast: true,
  http2: null,
};

/** Where `keepalive-probe serve` listens by default. */
export const SERVE_LISTEN = { port: 8080, host: '127.0.0.1' } as const;
