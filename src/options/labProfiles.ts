import type { LabProfileReport } from '../model/result.js';

/** The embedded lab server's keep-alive behaviour (see LabProfileReport for each field). */
export type LabProfile = LabProfileReport;

/** The profile `keepalive-probe run` uses with no target: every scenario has something real to show. */
export const DEMO_PROFILE: LabProfile = {
  idleTimeoutMs: 2000,
  maxRequests: 5,
  http10: 'close',
  close: 'fin',
  advertise: true,
  announceLast: true,
};

/** Defaults of `keepalive-probe serve` (commander's defaults read them; the one place they are set). */
export const SERVE_DEFAULTS: LabProfile = {
  idleTimeoutMs: 5000,
  maxRequests: 100,
  http10: 'keep-alive',
  close: 'fin',
  advertise: false,
  announceLast: true,
};

/** Where `keepalive-probe serve` listens by default. */
export const SERVE_LISTEN = { port: 8080, host: '127.0.0.1' } as const;
