import type { CloseClassification, TimeWaitFinding } from '../model/result.js';
import type { SeenRows, TcpRow } from '../wire/procNetTcp.js';

/**
 * Which end of a closed connection sits in TIME_WAIT. With the target on this host both ends
 * appear in its socket table (`seen`: /proc/net/tcp{,6} on Linux, `netstat -an` elsewhere;
 * wire/socketTable.ts), so the answer is read, not guessed; otherwise it is inferred: the side that sent the first FIN
 * holds TIME_WAIT (RFC 9293 §3.6), an abortive close (RST) leaves none.
 */
export function timeWaitOf(
  connected: boolean,
  end: CloseClassification,
  targetIsLocal: boolean,
  /** This connection's rows after the close and the table they were read from; null when they could not be read (no table) or were not (the target is elsewhere). */
  seen: (SeenRows & { readonly source: 'proc-net-tcp' | 'netstat' | 'none' }) | null,
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
    if (seen.source !== 'none' && (found || seen.serverListensHere || end.signal === 'rst' || resetSeen)) return fromRows(seen.aSide, seen.bSide, seen.source);
  }
  return infer(
    end,
    targetIsLocal ? 'no row for this connection was found in a socket table of this host' : 'the target is not on this host: no socket table shows its end',
    resetSeen,
  );
}

/** The TIME_WAIT side of a connection read off a packet capture: always inferred from the close order the capture shows. */
export function timeWaitFromCapture(connected: boolean, end: CloseClassification, resetSeen: boolean): TimeWaitFinding {
  if (!connected) return { side: 'unknown', source: 'inferred', evidence: ['the connection never completed'] };
  return infer(end, 'close order read off the packet capture', resetSeen);
}

function fromRows(clientRows: readonly TcpRow[], serverRows: readonly TcpRow[], source: 'proc-net-tcp' | 'netstat'): TimeWaitFinding {
  const evidence = [...clientRows.map((r) => `client ${describe(r)}`), ...serverRows.map((r) => `server ${describe(r)}`)];
  const client = clientRows.some((r) => r.state === 'TIME_WAIT');
  const server = serverRows.some((r) => r.state === 'TIME_WAIT');
  if (client && server) return { side: 'unknown', source, evidence };
  if (client) return { side: 'client', source, evidence };
  if (server) return { side: 'server', source, evidence };
  if (evidence.length === 0) {
    return {
      side: 'none',
      source,
      evidence: [`no row left for this connection in ${TABLE_NAME[source]} (closed by RST, or not a socket of this host)`],
    };
  }
  return { side: 'none', source, evidence };
}

function describe(row: TcpRow): string {
  return `${row.localAddress}:${row.localPort} -> ${row.remoteAddress}:${row.remotePort} ${row.state}`;
}

function infer(end: CloseClassification, where: string, resetSeen: boolean): TimeWaitFinding {
  if (end.signal === 'rst' || resetSeen) {
    return { side: 'none', source: 'inferred', evidence: ['closed by RST: no TIME_WAIT on either side'] };
  }
  if (end.closedBy === 'none') return { side: 'unknown', source: 'inferred', evidence: ['no close was observed'] };
  return {
    side: end.closedBy,
    source: 'inferred',
    evidence: [`the ${end.closedBy} sent the first FIN, so it holds TIME_WAIT (${where})`],
  };
}

/** How the reports name a socket table. */
const TABLE_NAME: Record<'proc-net-tcp' | 'netstat', string> = { 'proc-net-tcp': '/proc/net/tcp', netstat: 'netstat -an' };

/** Where a TIME_WAIT finding came from, in words: `seen in /proc/net/tcp`, `seen in netstat -an`, `inferred from the timeline`. */
export function timeWaitSourceText(source: TimeWaitFinding['source']): string {
  return source === 'inferred' ? 'inferred from the timeline' : `seen in ${TABLE_NAME[source]}`;
}
