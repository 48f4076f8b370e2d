import { endianness } from 'node:os';
import type { Endpoint } from '../model/events.js';

/** One socket from /proc/net/tcp or /proc/net/tcp6. */
export interface TcpRow {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Kernel state name, for example `TIME_WAIT`. */
  readonly state: string;
  /** The line as the kernel wrote it (evidence). */
  readonly line: string;
}

// include/net/tcp_states.h
const STATES: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
  '0C': 'NEW_SYN_RECV',
};

/**
 * Which rows to parse: those with one of `ports` as local or remote port, and the LISTEN
 * rows on `listening`. Search for a connection's ephemeral port, which few rows share, not for
 * the server's port, which every connection to that server shares.
 */
export interface RowFilter {
  readonly ports: readonly number[];
  readonly listening?: number;
}

/**
 * Parses the text of /proc/net/tcp or /proc/net/tcp6 (header line skipped, bad lines ignored).
 * With a filter, only the lines the filter's search finds are parsed (see linesMatching).
 */
export function parseProcNetTcp(text: string, littleEndian = endianness() === 'LE', filter?: RowFilter): TcpRow[] {
  const body = text.indexOf('\n') + 1;
  if (body === 0) return [];
  const rows: TcpRow[] = [];
  addRows(rows, text, body, littleEndian, filter);
  return rows;
}

/** Adds to `rows` the rows of the lines of `text` from `from` on that `filter` wants (all without one). */
function addRows(rows: TcpRow[], text: string, from: number, littleEndian: boolean, filter: RowFilter | undefined): void {
  const lines = filter === undefined ? text.slice(from).split('\n') : linesMatching(text, from, filter);
  for (const line of lines) {
    const row = parseLine(line, littleEndian);
    if (row !== null && (filter === undefined || wanted(row, filter))) rows.push(row);
  }
}

/**
 * The same parse fed the table in pieces as they are read: the file's text is never held
 * whole. A table of thousands of rows is hundreds of KB (150 bytes a row), and each scenario
 * reads it as it ends, most of them in the same few hundred ms at the end of a run: held whole
 * (the chunks read, their concatenation, its string), those copies made a tenth of the
 * probe's peak RSS (bench/suite-memory.mjs). A read may end mid-line: the partial line waits
 * for the next piece.
 */
export class TableParser {
  private readonly rows: TcpRow[] = [];
  /** The text read after the last complete line (all of it until the header line is complete). */
  private pending = '';
  private header = true;

  constructor(
    private readonly filter: RowFilter,
    private readonly littleEndian = endianness() === 'LE',
  ) {}

  /** Feeds the next piece of the file. */
  push(piece: string): void {
    const text = this.pending + piece;
    const end = text.lastIndexOf('\n') + 1;
    let from = 0;
    if (this.header) {
      from = text.indexOf('\n') + 1;
      if (from === 0) {
        this.pending = text;
        return;
      }
      this.header = false;
    }
    this.pending = text.slice(end);
    if (end > from) addRows(this.rows, text.slice(0, end - 1), from, this.littleEndian, this.filter);
  }

  /** The rows, once the whole file has been pushed. */
  end(): TcpRow[] {
    if (!this.header && this.pending !== '') addRows(this.rows, this.pending, 0, this.littleEndian, this.filter);
    this.pending = '';
    return this.rows;
  }
}

function wanted(row: TcpRow, filter: RowFilter): boolean {
  if (filter.ports.includes(row.localPort) || filter.ports.includes(row.remotePort)) return true;
  return row.state === 'LISTEN' && row.localPort === filter.listening;
}

/**
 * The lines from `from` on that the filter can match, found by substring search: the kernel
 * prints each port as %04X after its address and before a space (no other field has four hex
 * digits between a colon and a space), and a LISTEN row as `:PPPP <zero address>:0000 0A`.
 * A busy host lists tens of thousands of sockets, and parsing every row costs a few ms per
 * thousand on the event loop, delaying the timestamps of every other connection in flight
 * (bench/proc-net-tcp.mjs); a native substring search does not.
 */
function linesMatching(text: string, from: number, filter: RowFilter): string[] {
  const hex = (port: number): string => `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const needles = filter.ports.map((port) => `${hex(port)} `);
  if (filter.listening !== undefined) {
    for (const zero of ['00000000', '0'.repeat(32)]) needles.push(`${hex(filter.listening)} ${zero}:0000 0A`);
  }
  const starts = new Set<number>();
  for (const needle of needles) {
    for (let at = text.indexOf(needle, from); at >= 0; at = text.indexOf(needle, at + needle.length)) {
      starts.add(text.lastIndexOf('\n', at) + 1);
    }
  }
  return [...starts]
    .sort((x, y) => x - y)
    .map((start) => {
      const end = text.indexOf('\n', start);
      return text.slice(start, end < 0 ? undefined : end);
    });
}

function parseLine(line: string, littleEndian: boolean): TcpRow | null {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 4) return null;
  const local = parseHexEndpoint(fields[1] as string, littleEndian);
  const remote = parseHexEndpoint(fields[2] as string, littleEndian);
  if (local === null || remote === null) return null;
  const code = (fields[3] as string).toUpperCase();
  return {
    localAddress: local.address,
    localPort: local.port,
    remoteAddress: remote.address,
    remotePort: remote.port,
    state: STATES[code] ?? `UNKNOWN_${code}`,
    line: line.trim(),
  };
}

/** Rows of the connection seen from `a` (local a, remote b) and from `b` (local b, remote a). */
export function rowsForConnection(rows: readonly TcpRow[], a: Endpoint, b: Endpoint): { aSide: TcpRow[]; bSide: TcpRow[] } {
  const matches = (row: TcpRow, local: Endpoint, remote: Endpoint): boolean =>
    row.localPort === local.port &&
    row.remotePort === remote.port &&
    addressKey(row.localAddress) === addressKey(local.address) &&
    addressKey(row.remoteAddress) === addressKey(remote.address);
  return {
    aSide: rows.filter((row) => matches(row, a, b)),
    bSide: rows.filter((row) => matches(row, b, a)),
  };
}

/** A comparable form of an address: IPv4 dotted, IPv6 as 32 hex digits, IPv4-mapped IPv6 as IPv4. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => g.padStart(4, '0')).join('');
}

function parseHexEndpoint(field: string, littleEndian: boolean): Endpoint | null {
  const [hex, portHex] = field.split(':');
  if (hex === undefined || portHex === undefined || !/^[0-9A-Fa-f]{4}$/.test(portHex)) return null;
  if (!/^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32})$/.test(hex)) return null;
  // The kernel prints each 32-bit word of the address in host byte order.
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(littleEndian ? word.reverse() : word));
  }
  const port = parseInt(portHex, 16);
  if (bytes.length === 4) return { address: bytes.join('.'), port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  const v6 = groups.join(':');
  if (v6.startsWith('0:0:0:0:0:ffff:')) return { address: `::ffff:${bytes.slice(12).join('.')}`, port };
  return { address: compressV6(groups), port };
}

/** RFC 5952 text form: the longest run of zero groups becomes `::`. */
function compressV6(groups: readonly string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best === -1) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Socket states that settle within a few round trips after both FINs. */
const TRANSIENT = new Set(['FIN_WAIT1', 'FIN_WAIT2', 'CLOSING', 'LAST_ACK', 'CLOSE_WAIT', 'ESTABLISHED']);
const POLL_MS = 20;
const POLL_BOUND_MS = 500;

/** One connection's rows seen from each end, and whether its server listens in this namespace. */
export interface SeenRows {
  readonly aSide: readonly TcpRow[];
  readonly bSide: readonly TcpRow[];
  /** A LISTEN socket on the target's port is in this table (the server is a process of this namespace). */
  readonly serverListensHere: boolean;
}

/**
 * These connections' rows (all to one server port) once no end is in a transient state any
 * more, polled for at most POLL_BOUND_MS, from `read` (the run's socket table,
 * wire/socketTable.ts): one read of the table per poll for all of them (a scenario ends with up to 61
 * connections, and each read of a table holding thousands of TIME_WAIT rows costs
 * milliseconds). null entries where the table cannot be read (not Linux).
 */
export async function settledRowsAll(
  pairs: readonly { readonly local: Endpoint; readonly remote: Endpoint }[],
  read: (filter: RowFilter) => Promise<TcpRow[] | null>,
): Promise<(SeenRows | null)[]> {
  const first = pairs[0];
  if (first === undefined) return [];
  const deadline = Date.now() + POLL_BOUND_MS;
  for (;;) {
    const rows = await read({ ports: pairs.map((p) => p.local.port), listening: first.remote.port });
    if (rows === null) return pairs.map(() => null);
    const seen = pairs.map(({ local, remote }) => ({
      ...rowsForConnection(rows, local, remote),
      serverListensHere: rows.some((r) => r.state === 'LISTEN' && r.localPort === remote.port),
    }));
    const unsettled = seen.some((s) => [...s.aSide, ...s.bSide].some((row) => TRANSIENT.has(row.state)));
    if (!unsettled || Date.now() >= deadline) return seen;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
