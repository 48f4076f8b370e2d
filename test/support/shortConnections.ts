import { readTcpRows, rowsForConnection } from '../../src/wire/procNetTcp.js';
import type { RunResult } from '../../src/model/result.js';
import { expect } from 'vitest';
import { scenario } from './probe.js';

/** How many connections of one label hold a TIME_WAIT socket on each side (or on neither). */
export interface TimeWaitCount {
  server: number;
  client: number;
  neither: number;
}

/**
 * Reads /proc/net/tcp again after the CLI has exited and counts, per connection label of one
 * scenario (`server-closes#3` counts under `server-closes`), which side of each connection
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
 * What short-connections shows against a server that closes after "Connection: close" and
 * closes second when the client closes first (every server measured so far): 20 of 20
 * TIME_WAITs on the server for the first group, 20 of 20 on the client for the second, one
 * kept-alive connection for 20 responses — read from /proc/net/tcp by the probe, and again by
 * the test after the run.
 */
export async function expectTimeWaitByCloser(result: RunResult): Promise<void> {
  const s = scenario(result, 'short-connections');
  expect(s.metrics).toMatchObject({
    serverClosesConnections: 20,
    serverClosesTimeWaitServer: 20,
    serverClosesTimeWaitClient: 0,
    clientClosesConnections: 20,
    clientClosesTimeWaitServer: 0,
    clientClosesTimeWaitClient: 20,
    keptConnections: 1,
    keptResponses: 20,
  });
  // Read from the socket table, not inferred from who closed: every connection, both groups.
  expect(s.connections.filter((c) => c.timeWait.source === 'proc-net-tcp')).toHaveLength(41);
  for (const c of s.connections.filter((c) => c.id.startsWith('server-closes#'))) {
    expect(c.end).toMatchObject({ kind: 'server-close-after-response', closedBy: 'server', signal: 'fin' });
  }
  for (const c of s.connections.filter((c) => c.id.startsWith('client-closes#'))) {
    expect(c.end).toMatchObject({ kind: 'client-close', closedBy: 'client', signal: 'fin' });
  }
  expect(await timeWaitNow(result, 'short-connections')).toEqual({
    'server-closes': { server: 20, client: 0, neither: 0 },
    'client-closes': { server: 0, client: 20, neither: 0 },
    kept: { server: 0, client: 1, neither: 0 },
  });
}
