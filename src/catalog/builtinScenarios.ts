/** The built-in scenarios (scenarios/<id>.yaml), in the order they are run and reported in. */
export const BUILTIN_ORDER = [
  'http11-reuse',
  'http10-keepalive',
  'connection-close',
  'idle-timeout',
  'request-cap',
  'timeout-mismatch',
  'stale-race',
  'short-connections',
  'h2-idle-timeout',
  'h2-request-cap',
  'h2-race',
  'h2-concurrency',
  'h2-ping',
];
