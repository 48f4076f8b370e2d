import { execFile } from 'node:child_process';
import type { SocketTableChoice, SocketTableSource } from '../model/result.js';
import { readTcpRows, readTcpRowsSync } from './procNetTcpRead.js';
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
  const text = await netstatText();
  return text === null || !statesKnown(parseNetstat(text)) ? NONE : NETSTAT;
}

/** The TCP states every netstat layout names, once mapped (STATE_NAMES): the names /proc/net/tcp's readers use. */
const KNOWN_STATES: ReadonlySet<string> = new Set([
  'LISTEN',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'CLOSE_WAIT',
  'CLOSING',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  // Windows: a socket being torn down, and (with some options) one bound but not connected.
  'DELETE_TCB',
  'BOUND',
]);

/**
 * Whether the probe can read these rows' states. A netstat that names them in another
 * language (net-tools outside the C locale, which netstatText sets; a localized Windows, where
 * nothing sets it) is not read at all: a TIME_WAIT it cannot recognise would pass for "no
 * TIME_WAIT", so the run infers instead and says so.
 */
export function statesKnown(rows: readonly TcpRow[]): boolean {
  return rows.every((r) => KNOWN_STATES.has(r.state));
}

/** Bounds one netstat run: a host with many sockets takes a while, and nothing may hang. */
const NETSTAT_TIMEOUT_MS = 3000;

function netstatText(): Promise<string | null> {
  const args = netstatArgs(process.platform);
  return new Promise((resolve) => {
    // net-tools translates states (LANGUAGE=cs: LISTEN is NASLOUCHÁ, LANGUAGE=de: ESTABLISHED is VERBUNDEN): the C locale keeps them in English.
    const env = { ...process.env, LC_ALL: 'C', LANGUAGE: '' };
    execFile('netstat', args, { env, timeout: NETSTAT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, windowsHide: true }, (err, stdout) =>
      resolve(err === null ? stdout : null),
    );
  });
}

/**
 * -a all sockets, -n numeric; `-p tcp` (macOS, BSD) and `-t` (Linux net-tools) keep to TCP;
 * Windows lists TCP and UDP, v4 and v6. macOS and FreeBSD cut a long address to its column
 * (`fe80::21e:52ff:f.50132`) unless given -W ("avoid truncating addresses", netstat(1) of
 * both); OpenBSD's -W takes an interface, so the other BSDs go without it.
 */
export function netstatArgs(platform: NodeJS.Platform): string[] {
  if (platform === 'win32') return ['-an'];
  if (platform === 'linux') return ['-ant'];
  if (platform === 'darwin' || platform === 'freebsd') return ['-anW', '-p', 'tcp'];
  return ['-an', '-p', 'tcp'];
}

async function readNetstatRows(filter: RowFilter): Promise<TcpRow[] | null> {
  const text = await netstatText();
  if (text === null) return null;
  const rows = parseNetstat(text);
  if (!statesKnown(rows)) return null;
  return rows.filter(
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
