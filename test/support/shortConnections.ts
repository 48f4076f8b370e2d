import { rowsForConnection } from '../../src/wire/procNetTcp.js';
import { readTcpRows } from '../../src/wire/procNetTcpRead.js';
import type { RunResult } from '../../src/model/result.js';
import { expect } from 'vitest';
import { scenario } from './probe.js';
import { PROBE_LAG_MS } from './timing.js';

/** How many connections of one label hold a TIME_WAIT socket on each side (or on neither). */
export interface TimeWaitCount {
  server: number;
  client: number;
  neither: number;
}

/**
 * Reads /proc/net/tcp again after the CLI has exited and counts, per connection label of one
 * scenario (`client-closes#3` counts under `client-closes`), which side of each connection
 * is in TIME_WAIT. The probe read the same table while it ran; reading it from the test
 * checks the report against the kernel instead of trusting it. Linux keeps TIME_WAIT for
 * 60 s (TCP_TIMEWAIT_LEN), so the rows outlive a CLI run of a few seconds.
 */
export async function timeWaitNow(result: RunResult, scenarioId: string): Promise<Record<string, TimeWaitCount>> {
  const connections = scenario(result, scenarioId).connections;
  const rows = (await readTcpRows({ ports: connections.flatMap((c) => (c.local === null ? [] : [c.local.port])) })) ?? [];
  const counts: Record<string, TimeWaitCount> = {};
  for (const conn of connections) {
    const label = conn.id.split('#')[0] ?? conn.id;
    counts[label] ??= { server: 0, client: 0, neither: 0 };
    const count = counts[label];
    const sides = conn.local !== null && conn.remote !== null ? rowsForConnection(rows, conn.local, conn.remote) : { aSide: [], bSide: [] };
    const client = sides.aSide.some((r) => r.state === 'TIME_WAIT');
    const server = sides.bSide.some((r) => r.state === 'TIME_WAIT');
    if (client) count.client++;
    if (server) count.server++;
    if (!client && !server) count.neither++;
  }
  return counts;
}

/**
 * What short-connections shows against a server that closes after "Connection: close", closes
 * second when the client closes first, and closes idle connections with FIN after `idleMs`
 * (every server measured so far): 20 of 20 TIME_WAITs on the server for the client that sends
 * "Connection: close", 20 of 20 on the client for the client that closes after the response,
 * 20 of 20 on the server again for the client that abandons its idle connections (the server
 * closes them at its idle timeout, not before it), one kept-alive connection for 20
 * responses — read from /proc/net/tcp by the probe, and again by the test after the run.
 * Returns the median idle close of the abandoned connections.
 */
export async function expectTimeWaitByCloser(result: RunResult, idleMs: number): Promise<number> {
  const s = scenario(result, 'short-connections');
  expect(s.metrics).toMatchObject({
    clientSendsCloseConnections: 20,
    clientSendsCloseTimeWaitServer: 20,
    clientSendsCloseTimeWaitClient: 0,
    clientClosesConnections: 20,
    clientClosesTimeWaitServer: 0,
    clientClosesTimeWaitClient: 20,
    clientAbandonsConnections: 20,
    clientAbandonsTimeWaitServer: 20,
    clientAbandonsTimeWaitClient: 0,
    keptConnections: 1,
    keptResponses: 20,
  });
  // A server's idle timer never fires early; the probe may stamp the response a little late.
  const idleClose = s.metrics.clientAbandonsIdleCloseMs as number;
  expect(idleClose).toBeGreaterThanOrEqual(idleMs - PROBE_LAG_MS);
  // Read from the socket table, not inferred from who closed: every connection, every group.
  expect(s.connections.filter((c) => c.timeWait.source === 'proc-net-tcp')).toHaveLength(61);
  for (const c of s.connections.filter((c) => c.id.startsWith('client-sends-close#'))) {
    expect(c.end).toMatchObject({ kind: 'server-close-after-response', closedBy: 'server', signal: 'fin' });
  }
  for (const c of s.connections.filter((c) => c.id.startsWith('client-closes#'))) {
    expect(c.end).toMatchObject({ kind: 'client-close', closedBy: 'client', signal: 'fin' });
  }
  for (const c of s.connections.filter((c) => c.id.startsWith('client-abandons#'))) {
    expect(c.end).toMatchObject({ kind: 'server-idle-close', closedBy: 'server', signal: 'fin' });
  }
  expect(await timeWaitNow(result, 'short-connections')).toEqual({
    'client-sends-close': { server: 20, client: 0, neither: 0 },
    'client-closes': { server: 0, client: 20, neither: 0 },
    'client-abandons': { server: 20, client: 0, neither: 0 },
    kept: { server: 0, client: 1, neither: 0 },
  });
  return idleClose;
}
