import { execFile } from 'node:child_process';
import type { SocketTableChoice, SocketTableSource } from '../model/result.js';
import { readTcpRows, readTcpRowsSync } from './procNetTcp.js';
import type { RowFilter, TcpRow } from './procNetTcp.js';

/** A socket table the run reads. */
export interface SocketTable {
  readonly source: SocketTableSource;
  /** The rows `filter` wants; null when the table cannot be read now. */
  read(filter: RowFilter): Promise<TcpRow[] | null>;
  /** The same, at once, for the moment a socket's state must be read before the event loop moves on; null where that is impossible (netstat runs a process). */
  readSync(filter: RowFilter): TcpRow[] | null;
}

const NONE: SocketTable = { source: 'none', read: async () => null, readSync: () => null };
const PROC: SocketTable = { source: 'proc-net-tcp', read: readTcpRows, readSync: readTcpRowsSync };
const NETSTAT: SocketTable = { source: 'netstat', read: readNetstatRows, readSync: () => null };

/** The table to read for `choice` (once per run: auto tries /proc, then one `netstat -an`). */
export async function openSocketTable(choice: SocketTableChoice): Promise<SocketTable> {
  if (choice === 'none') return NONE;
  if (choice !== 'netstat' && (await readTcpRows({ ports: [] })) !== null) return PROC;
  if (choice === 'proc') return NONE;
  return (await netstatText()) === null ? NONE : NETSTAT;
}

/** Bounds one netstat run: a host with many sockets takes a while, and nothing may hang. */
const NETSTAT_TIMEOUT_MS = 3000;

function netstatText(): Promise<string | null> {
  // -a all sockets, -n numeric; `-p tcp` (macOS, BSD) and `-t` (Linux net-tools) keep to TCP; Windows lists TCP and UDP, v4 and v6.
  const args = process.platform === 'win32' ? ['-an'] : process.platform === 'linux' ? ['-ant'] : ['-an', '-p', 'tcp'];
  return new Promise((resolve) => {
    execFile('netstat', args, { timeout: NETSTAT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, windowsHide: true }, (err, stdout) =>
      resolve(err === null ? stdout : null),
    );
  });
}

async function readNetstatRows(filter: RowFilter): Promise<TcpRow[] | null> {
  const text = await netstatText();
  if (text === null) return null;
  return parseNetstat(text).filter(
    (r) => filter.ports.includes(r.localPort) || filter.ports.includes(r.remotePort) || (r.state === 'LISTEN' && r.localPort === filter.listening),
  );
}

/** Windows names states without the underscore (TIME_WAIT is TIME_WAIT, but FIN_WAIT_1 is FIN_WAIT_1 and LISTENING is LISTEN's). */
const STATE_NAMES: Readonly<Record<string, string>> = {
  LISTENING: 'LISTEN',
  FIN_WAIT_1: 'FIN_WAIT1',
  FIN_WAIT_2: 'FIN_WAIT2',
  'FIN_WAIT-1': 'FIN_WAIT1',
  'FIN_WAIT-2': 'FIN_WAIT2',
  CLOSED: 'CLOSE',
  SYN_SENT: 'SYN_SENT',
  SYN_RECEIVED: 'SYN_RECV',
  SYN_RCVD: 'SYN_RECV',
};

/**
 * TCP rows of `netstat -an` in the three layouts it has: Linux net-tools (`tcp 0 0
 * 127.0.0.1:8080 127.0.0.1:51234 TIME_WAIT`), macOS and the BSDs (`tcp4 0 0 127.0.0.1.51234
 * 127.0.0.1.8080 TIME_WAIT`: the port after the last dot), and Windows (`TCP 127.0.0.1:51234
 * 127.0.0.1:8080 TIME_WAIT`, IPv6 in brackets). Other lines (headers, UDP, Unix sockets)
 * are skipped. The layouts are those printed by net-tools' netstat.c, Apple's and
 * FreeBSD's netstat inet.c, and Windows' netstat.
 */
export function parseNetstat(text: string): TcpRow[] {
  const rows: TcpRow[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const fields = line.split(/\s+/);
    const proto = (fields[0] ?? '').toLowerCase();
    if (!/^tcp(4|6|46)?$/.test(proto)) continue;
    // Windows: Proto Local Foreign State. Unix: Proto Recv-Q Send-Q Local Foreign (state).
    const windows = fields[0] === 'TCP';
    const [local, remote, state] = windows ? [fields[1], fields[2], fields[3]] : [fields[3], fields[4], fields[5]];
    if (local === undefined || remote === undefined) continue;
    const l = endpoint(local);
    const r = endpoint(remote);
    if (l === null || r === null) continue;
    const name = (state ?? 'LISTEN').toUpperCase();
    rows.push({ localAddress: l.address, localPort: l.port, remoteAddress: r.address, remotePort: r.port, state: STATE_NAMES[name] ?? name, line });
  }
  return rows;
}

/**
 * `a.b.c.d:port`, `[v6]:port`, `:::port`, `0.0.0.0:*`, or (macOS, BSD) `a.b.c.d.port`,
 * `::1.port`, `*.*`: the port follows the last colon when only digits (or `*`) do, else the
 * last dot.
 */
function endpoint(text: string): { address: string; port: number } | null {
  const colon = text.lastIndexOf(':');
  const cut = colon !== -1 && /^(\d+|\*)$/.test(text.slice(colon + 1)) ? colon : text.lastIndexOf('.');
  if (cut <= 0) return null;
  const host = text.slice(0, cut).replace(/^\[(.*)\]$/, '$1');
  const port = text.slice(cut + 1);
  if (port !== '*' && !/^\d{1,5}$/.test(port)) return null;
  // A zone (%lo0) is not part of the address; rowsForConnection compares addresses by addressKey.
  return { address: host === '*' ? '0.0.0.0' : host.replace(/%.*$/, '').toLowerCase(), port: port === '*' ? 0 : Number(port) };
}
