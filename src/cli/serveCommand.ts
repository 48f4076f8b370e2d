import { EXIT } from '../verdict/exitCode.js';
import { startLabServer } from '../lab/labServer.js';
import type { LabServer } from '../lab/labServer.js';
import type { LabProfile } from '../options/labProfiles.js';
import type { LabCloseMode, LabGoawayStyle, LabHttp2Profile, LabPingPolicy } from '../model/result.js';
import { formatDuration } from '../util/duration.js';
import { writeError } from './io.js';

/** Flags of `keepalive-probe serve`, as commander parsed them. */
export interface ServeFlags {
  readonly port: number;
  readonly host: string;
  readonly idleTimeout: number;
  readonly maxRequests: number;
  readonly http10: 'keep-alive' | 'close';
  readonly close: LabCloseMode;
  readonly advertise?: boolean;
  readonly announceLast: boolean;
  readonly http2?: boolean;
  readonly tls?: boolean;
  readonly goaway: LabGoawayStyle;
  readonly closeAfterGoaway: number;
  readonly maxConcurrentStreams: number;
  readonly pingPolicy: LabPingPolicy;
  readonly pingMinInterval: number;
  readonly pingResetsIdle?: boolean;
}

/** `keepalive-probe serve`: runs the lab server until SIGINT or SIGTERM. */
export async function serveCommand(flags: ServeFlags): Promise<number> {
  const profile: LabProfile = {
    idleTimeoutMs: flags.idleTimeout,
    maxRequests: flags.maxRequests,
    http10: flags.http10,
    close: flags.close,
    advertise: flags.advertise === true,
    announceLast: flags.announceLast,
    http2:
      flags.http2 === true
        ? {
            goaway: flags.goaway,
            closeAfterGoawayMs: flags.closeAfterGoaway,
            maxConcurrentStreams: flags.maxConcurrentStreams,
            pingPolicy: flags.pingPolicy,
            pingMinIntervalMs: flags.pingMinInterval,
            pingResetsIdle: flags.pingResetsIdle === true,
          }
        : null,
  };
  let lab: LabServer;
  try {
    lab = await startLabServer(profile, flags.host, flags.port, { tls: flags.tls === true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    writeError(`cannot listen on ${flags.host}:${flags.port}: ${e.code ?? e.message}`);
    return EXIT.usage;
  }
  const idle = profile.idleTimeoutMs === 0 ? 'no idle timeout' : `idle timeout ${formatDuration(profile.idleTimeoutMs)}`;
  const cap =
    profile.maxRequests === 0
      ? 'no request cap'
      : `max ${profile.maxRequests} requests per connection${profile.announceLast ? '' : ' (closes without Connection: close)'}`;
  // The URL goes to stdout, alone on its line, so scripts can read it when --port 0 picked one.
  process.stdout.write(`${lab.url}\n`);
  process.stderr.write(
    `keepalive-probe lab listening on ${lab.url} (${idle}, ${cap}, HTTP/1.0 keep-alive: ${profile.http10}, closes with ${profile.close.toUpperCase()}${profile.advertise ? ', advertises Keep-Alive' : ''}); Ctrl-C stops it\n`,
  );
  if (lab.certificate !== null) process.stderr.write('  over TLS with a self-signed certificate made at start (clients need -k / --insecure)\n');
  if (profile.http2 !== null) process.stderr.write(`${http2Banner(profile.http2, lab.certificate !== null)}\n`);
  // Stopping the server is its normal end, so either signal exits 0.
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await lab.close();
  return EXIT.ok;
}

/** One line on the HTTP/2 settings, under the HTTP/1 banner. */
export function http2Banner(h2: LabHttp2Profile, tls: boolean): string {
  const ending =
    h2.goaway === 'none'
      ? 'closes without GOAWAY'
      : `${h2.goaway} GOAWAY${h2.goaway === 'graceful' ? ' (2^31-1 + PING, then last stream)' : ''}, TCP close ${formatDuration(h2.closeAfterGoawayMs)} after it`;
  const streams = h2.maxConcurrentStreams === 0 ? 'no max concurrent streams' : `max ${h2.maxConcurrentStreams} concurrent streams`;
  const pings = h2.pingPolicy === 'strict' ? `strict PING policy (min interval ${formatDuration(h2.pingMinIntervalMs)})` : 'every PING answered';
  return `  and HTTP/2 (${tls ? 'ALPN h2' : 'h2c, prior knowledge'}) on the same port: ${ending}, ${streams}, ${pings}, PING ${h2.pingResetsIdle ? 'resets' : 'does not reset'} the idle timer`;
}
