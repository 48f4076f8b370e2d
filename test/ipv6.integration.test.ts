import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../src/options/labProfiles.js';
import { startLabServer } from '../src/lab/labServer.js';
import type { LabServer } from '../src/lab/labServer.js';
import { connection } from './realServers/support.js';
import { metric, probe, scenario } from './support/probe.js';
import { PROBE_LAG_MS } from './support/timing.js';

/**
 * A server listening on `::` (what node:http, nginx `listen [::]:80` and Go's ":8080" bind)
 * is reached over IPv6 at [::1] and over IPv4 at 127.0.0.1; the kernel lists both in
 * /proc/net/tcp6, the IPv4 one with IPv4-mapped addresses. Who holds TIME_WAIT must still be
 * read from the table, not inferred, whichever way the probe came in.
 */
const haveIpv6 = await new Promise<boolean>((resolve) => {
  const probeServer = net.createServer();
  probeServer.once('error', () => resolve(false));
  probeServer.listen(0, '::1', () => probeServer.close(() => resolve(true)));
});

const IDLE_MS = 600;
// A lab timer never fires early; the probe reads short only by its stamping lag (see lab.integration.test.ts).
const EARLY_MS = PROBE_LAG_MS;
const LATE_MS = 250;

describe.skipIf(!haveIpv6)('a dual-stack server (listening on ::), probed over IPv6 and IPv4', () => {
  let lab: LabServer;
  beforeAll(async () => {
    lab = await startLabServer({ ...SERVE_DEFAULTS, idleTimeoutMs: IDLE_MS, maxRequests: 3 }, '::');
  });
  afterAll(() => lab.close());

  it.each([
    ['IPv6', (port: number) => `http://[::1]:${port}/`],
    ['IPv4 (mapped)', (port: number) => `http://127.0.0.1:${port}/`],
  ])('%s: idle close, cap and TIME_WAIT sides are measured, TIME_WAIT read from /proc/net/tcp6', async (_family, url) => {
    const result = await probe(url(lab.port), ['connection-close', 'idle-timeout', 'request-cap', 'short-connections'], { maxIdleMs: 3000 });

    const idle = metric(result, 'idle-timeout', 'idleTimeoutMs') as number;
    expect(idle).toBeGreaterThanOrEqual(IDLE_MS - EARLY_MS);
    expect(idle).toBeLessThanOrEqual(IDLE_MS + LATE_MS);
    expect(metric(result, 'idle-timeout', 'closeKind')).toBe('fin');
    expect(metric(result, 'request-cap', 'maxRequests')).toBe(3);

    // The server closes first after "Connection: close", so it holds TIME_WAIT; seen, not guessed.
    expect(connection(result, 'connection-close').timeWait).toMatchObject({ side: 'server', source: 'proc-net-tcp' });
    expect(connection(result, 'idle-timeout').timeWait).toMatchObject({ side: 'server', source: 'proc-net-tcp' });

    const churn = scenario(result, 'short-connections');
    expect(churn.metrics).toMatchObject({
      clientSendsCloseTimeWaitServer: 20,
      clientSendsCloseTimeWaitClient: 0,
      clientClosesTimeWaitServer: 0,
      clientClosesTimeWaitClient: 20,
      clientAbandonsTimeWaitServer: 20,
      clientAbandonsTimeWaitClient: 0,
    });
    expect(churn.connections.every((c) => c.timeWait.source === 'proc-net-tcp')).toBe(true);
  });
});
