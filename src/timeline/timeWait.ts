import type { CloseClassification, TimeWaitFinding } from '../model/result.js';
import type { SeenRows, TcpRow } from '../wire/procNetTcp.js';

/**
 * Which end of a closed connection sits in TIME_WAIT. On Linux with the target on this
 * host both ends appear in /proc/net/tcp{,6} (`seen`, read by wire/procNetTcp.ts), so the
 * answer is read, not guessed; otherwise it is inferred: the side that sent the first FIN
 * holds TIME_WAIT (RFC 9293 §3.6), an abortive close (RST) leaves none.
 */
export function timeWaitOf(
  connected: boolean,
  end: CloseClassification,
  targetIsLocal: boolean,
  /** This connection's rows after the close; null when they could not be read (not Linux) or were not (the target is elsewhere). */
  seen: SeenRows | null,
  /** An RST was seen at any point (for example in answer to a write after the server's FIN). */
  resetSeen: boolean,
): TimeWaitFinding {
  if (!connected) return { side: 'unknown', source: 'inferred', evidence: ['the connection never completed'] };
  if (targetIsLocal && seen !== null) {
    // With the server listening in this network namespace, no row at all means neither end
    // is left: an RST ended the connection even if the probe did not see it (one that answers
    // a request crossing the server's FIN in flight arrives after the end of stream, when Node
    // no longer reads). Without a listener here (a port forwarded into a container), the
    // server's socket is out of sight: fall back to the timeline.
    const found = seen.aSide.length + seen.bSide.length > 0;
    if (found || seen.serverListensHere || end.signal === 'rst' || resetSeen) return fromRows(seen.aSide, seen.bSide);
  }
  return infer(end, targetIsLocal, resetSeen);
}

function fromRows(clientRows: readonly TcpRow[], serverRows: readonly TcpRow[]): TimeWaitFinding {
  const evidence = [...clientRows.map((r) => `client ${describe(r)}`), ...serverRows.map((r) => `server ${describe(r)}`)];
  const client = clientRows.some((r) => r.state === 'TIME_WAIT');
  const server = serverRows.some((r) => r.state === 'TIME_WAIT');
  if (client && server) return { side: 'unknown', source: 'proc-net-tcp', evidence };
  if (client) return { side: 'client', source: 'proc-net-tcp', evidence };
  if (server) return { side: 'server', source: 'proc-net-tcp', evidence };
  if (evidence.length === 0) {
    return {
      side: 'none',
      source: 'proc-net-tcp',
      evidence: ['no row left for this connection in /proc/net/tcp (closed by RST, or not a socket of this host)'],
    };
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
