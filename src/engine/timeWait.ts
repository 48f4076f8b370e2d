import type { CloseClassification, TimeWaitFinding } from '../model/result.js';
import type { Endpoint } from '../model/timeline.js';
import { readTcpRows, rowsForConnection } from './procNetTcp.js';
import type { TcpRow } from './procNetTcp.js';

/** Socket states that settle within a few round trips after both FINs. */
const TRANSIENT = new Set(['FIN_WAIT1', 'FIN_WAIT2', 'CLOSING', 'LAST_ACK', 'CLOSE_WAIT', 'ESTABLISHED']);
const POLL_MS = 20;
const POLL_BOUND_MS = 500;

/**
 * Which end of a closed connection sits in TIME_WAIT. On Linux with the target on this
 * host both ends appear in /proc/net/tcp{,6}, so the answer is read, not guessed; otherwise
 * it is inferred: the side that sent the first FIN holds TIME_WAIT (RFC 9293 §3.6), an
 * abortive close (RST) leaves none.
 */
export async function observeTimeWait(
  local: Endpoint | null,
  remote: Endpoint | null,
  end: CloseClassification,
  targetIsLocal: boolean,
  /** An RST was seen at any point (for example in answer to a write after the server's FIN). */
  resetSeen = false,
): Promise<TimeWaitFinding> {
  if (local === null || remote === null) {
    return { side: 'unknown', source: 'inferred', evidence: ['the connection never completed'] };
  }
  if (targetIsLocal) {
    const seen = await pollRows(local, remote);
    // With the server listening in this network namespace, no row at all means neither end
    // is left: an RST ended the connection even if the probe did not see it (one that answers
    // a request crossing the server's FIN in flight arrives after the end of stream, when Node
    // no longer reads). Without a listener here (a port forwarded into a container), the
    // server's socket is out of sight: fall back to the timeline.
    const found = seen !== null && seen.aSide.length + seen.bSide.length > 0;
    if (seen !== null && (found || seen.serverListensHere || end.signal === 'rst' || resetSeen)) return fromRows(seen.aSide, seen.bSide);
  }
  return infer(end, targetIsLocal, resetSeen);
}

interface SeenRows {
  readonly aSide: readonly TcpRow[];
  readonly bSide: readonly TcpRow[];
  /** A LISTEN socket on the target's port is in this table (the server is a process of this namespace). */
  readonly serverListensHere: boolean;
}

async function pollRows(local: Endpoint, remote: Endpoint): Promise<SeenRows | null> {
  const deadline = Date.now() + POLL_BOUND_MS;
  let last: SeenRows | null = null;
  for (;;) {
    const rows = await readTcpRows({ ports: [local.port], listening: remote.port });
    if (rows === null) return null; // no socket table here (not Linux)
    last = { ...rowsForConnection(rows, local, remote), serverListensHere: rows.some((r) => r.state === 'LISTEN' && r.localPort === remote.port) };
    const all = [...last.aSide, ...last.bSide];
    if (!all.some((row) => TRANSIENT.has(row.state))) return last;
    if (Date.now() >= deadline) return last;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function fromRows(clientRows: readonly TcpRow[], serverRows: readonly TcpRow[]): TimeWaitFinding {
  const evidence = [...clientRows.map((r) => `client ${describe(r)}`), ...serverRows.map((r) => `server ${describe(r)}`)];
  const client = clientRows.some((r) => r.state === 'TIME_WAIT');
  const server = serverRows.some((r) => r.state === 'TIME_WAIT');
  if (client && server) return { side: 'unknown', source: 'proc-net-tcp', evidence };
  if (client) return { side: 'client', source: 'proc-net-tcp', evidence };
  if (server) return { side: 'server', source: 'proc-net-tcp', evidence };
  if (evidence.length === 0) {
    return { side: 'none', source: 'proc-net-tcp', evidence: ['no row left for this connection in /proc/net/tcp (closed by RST, or not a socket of this host)'] };
  }
  return { side: 'none', source: 'proc-net-tcp', evidence };
}

function describe(row: TcpRow): string {
  return `${row.localAddress}:${row.localPort} -> ${row.remoteAddress}:${row.remotePort} ${row.state}`;
}

function infer(end: CloseClassification, targetIsLocal: boolean, resetSeen: boolean): TimeWaitFinding {
  if (end.signal === 'rst' || resetSeen) {
    return { side: 'none', source: 'inferred', evidence: ['closed by RST: no TIME_WAIT on either side'] };
  }
  if (end.closedBy === 'none') return { side: 'unknown', source: 'inferred', evidence: ['no close was observed'] };
  return {
    side: end.closedBy,
    source: 'inferred',
    evidence: [
      `the ${end.closedBy} sent the first FIN, so it holds TIME_WAIT (${targetIsLocal ? 'no row for this connection was found in /proc/net/tcp' : 'the target is not on this host: not read from /proc/net/tcp'})`,
    ],
  };
}
