import { existsSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { TableParser, addressKey, parseProcNetTcp, rowsForConnection } from '../src/wire/procNetTcp.js';
import { readTcpRows, readTcpRowsSync } from '../src/wire/procNetTcpRead.js';
import type { TcpRow } from '../src/wire/procNetTcp.js';

// Copied in the kernel's layout (header line, right-aligned `sl`, trailing padding).
const TCP4 = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     ',
  '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0                     ',
  '   1: 0100007F:C350 0100007F:1F90 06 00000000:00000000 03:000016A8 00000000     0        0 0 3 0000000000000000                                      ',
  '   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 123457 1 0000000000000000 20 4 30 10 -1                    ',
  '   3: 0A00A8C0:D431 2200A8C0:0050 08 00000000:00000001 00:00000000 00000000  1000        0 123458 1 0000000000000000 20 4 30 10 -1                    ',
  '',
].join('\n');

const TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 23456 1 0000000000000000 100 0 0 10 0',
  '   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C351 01 00000000:00000000 00:00000000 00000000  1000        0 23457 1 0000000000000000 20 4 30 10 -1',
  // 33 hex digits: not an address, the line is skipped
  '   2: 000080FE00000000FF020000FE5634120:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 23458 1 0000000000000000 100 0 0 10 0',
  '   3: 000080FE0000000000FEFF020100ADDE:01BB 00000000000000000000000001000000:E000 0B 00000000:00000000 00:00000000 00000000  1000        0 23459 1 0000000000000000 100 0 0 10 0',
  '',
].join('\n');

const endpoints = (rows: readonly TcpRow[]): string[][] => rows.map((r) => [`${r.localAddress}:${r.localPort}`, `${r.remoteAddress}:${r.remotePort}`, r.state]);

describe('parseProcNetTcp', () => {
  test('reads /proc/net/tcp (little-endian words, hex ports, state names)', () => {
    const rows = parseProcNetTcp(TCP4, true);
    expect(endpoints(rows)).toEqual([
      ['127.0.0.1:8080', '0.0.0.0:0', 'LISTEN'],
      ['127.0.0.1:50000', '127.0.0.1:8080', 'TIME_WAIT'],
      ['127.0.0.1:8080', '127.0.0.1:50000', 'ESTABLISHED'],
      ['192.168.0.10:54321', '192.168.0.34:80', 'CLOSE_WAIT'],
    ]);
  });

  test('keeps the line as the kernel wrote it, trimmed, as evidence', () => {
    expect(parseProcNetTcp(TCP4, true)[1]?.line).toBe(
      '1: 0100007F:C350 0100007F:1F90 06 00000000:00000000 03:000016A8 00000000     0        0 0 3 0000000000000000',
    );
  });

  test('reads /proc/net/tcp6: ::1, IPv4-mapped addresses, RFC 5952 compression; skips a malformed address', () => {
    const rows = parseProcNetTcp(TCP6, true);
    expect(endpoints(rows)).toEqual([
      ['::1:8080', ':::0', 'LISTEN'],
      ['::ffff:127.0.0.1:8080', '::ffff:127.0.0.1:50001', 'ESTABLISHED'],
      ['fe80::2ff:fe00:dead:1:443', '::1:57344', 'CLOSING'],
    ]);
  });

  test('decodes each 32-bit word of an IPv6 address in host byte order', () => {
    // fe80::1 is bytes fe 80 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 01.
    const le = '  sl  local\n   0: 000080FE000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0\n';
    const be = '  sl  local\n   0: FE800000000000000000000000000001:0016 00000000000000000000000000000000:0000 0A 0\n';
    expect(parseProcNetTcp(le, true).map((r) => r.localAddress)).toEqual(['fe80::1']);
    expect(parseProcNetTcp(be, false).map((r) => r.localAddress)).toEqual(['fe80::1']);
  });

  test('compresses only the longest run of zero groups, and never a single group', () => {
    // 2001:db8:0:0:1:0:0:0 → 2001:db8:0:0:1:: (the later run of three wins)
    const text = '  sl\n   0: B80D0120000000000000010000000000:0050 00000000000000000000000000000000:0000 0A 0\n';
    expect(parseProcNetTcp(text, true)[0]?.localAddress).toBe('2001:db8:0:0:1::');
    // 2001:db8:0:1:1:1:1:1 keeps its lone zero group
    const single = '  sl\n   0: B80D0120010000000100010001000100:0050 00000000000000000000000000000000:0000 0A 0\n';
    expect(parseProcNetTcp(single, true)[0]?.localAddress).toBe('2001:db8:0:1:1:1:1:1');
  });

  test('big-endian hosts print the address bytes in network order', () => {
    const text = '  sl  local_address rem_address   st\n   0: 7F000001:1F90 7F000001:C350 06 00000000:00000000\n';
    expect(endpoints(parseProcNetTcp(text, false))).toEqual([['127.0.0.1:8080', '127.0.0.1:50000', 'TIME_WAIT']]);
    expect(endpoints(parseProcNetTcp(text, true))).toEqual([['1.0.0.127:8080', '1.0.0.127:50000', 'TIME_WAIT']]);
  });

  test('state codes map to the names of include/net/tcp_states.h; unknown codes are kept', () => {
    const codes = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '0A', '0b', '0C', '0D'];
    const text = ['  sl', ...codes.map((c, i) => `   ${i}: 0100007F:0050 0100007F:0051 ${c} 0`)].join('\n');
    expect(parseProcNetTcp(text, true).map((r) => r.state)).toEqual([
      'ESTABLISHED',
      'SYN_SENT',
      'SYN_RECV',
      'FIN_WAIT1',
      'FIN_WAIT2',
      'TIME_WAIT',
      'CLOSE',
      'CLOSE_WAIT',
      'LAST_ACK',
      'LISTEN',
      'CLOSING',
      'NEW_SYN_RECV',
      'UNKNOWN_0D',
    ]);
  });

  test('skips the header and malformed lines, keeps the good ones', () => {
    const text = [
      '   0: 0100007F:0050 0100007F:0051 01 0', // the first line is always taken as the header
      '   1: 0100007F:0050 0100007F:0051 01 0',
      'garbage',
      '   2: 0100007F:0050 0100007F:0051',
      '   3: 0100007F 0100007F:0051 01 0',
      '   4: 0100007F:50 0100007F:0051 01 0',
      '   5: 0100007G:0050 0100007F:0051 01 0',
      '   6: 00007F:0050 0100007F:0051 01 0',
      '   7: 0100007F:0052 0100007F:0053 0A 0',
      '',
    ].join('\n');
    expect(endpoints(parseProcNetTcp(text, true))).toEqual([
      ['127.0.0.1:80', '127.0.0.1:81', 'ESTABLISHED'],
      ['127.0.0.1:82', '127.0.0.1:83', 'LISTEN'],
    ]);
  });

  test('empty text (not Linux) gives no rows', () => {
    expect(parseProcNetTcp('', true)).toEqual([]);
  });

  test('with ports: only the rows with one of them as local or remote port (v4 and v6)', () => {
    expect(endpoints(parseProcNetTcp(TCP4, true, { ports: [50000] }))).toEqual([
      ['127.0.0.1:50000', '127.0.0.1:8080', 'TIME_WAIT'],
      ['127.0.0.1:8080', '127.0.0.1:50000', 'ESTABLISHED'],
    ]);
    expect(endpoints(parseProcNetTcp(TCP4, true, { ports: [80, 8080] }))).toEqual(endpoints(parseProcNetTcp(TCP4, true)));
    expect(endpoints(parseProcNetTcp(TCP6, true, { ports: [57344] }))).toEqual([['fe80::2ff:fe00:dead:1:443', '::1:57344', 'CLOSING']]);
    // The line with the malformed address has port 80: found by the search, still rejected.
    expect(parseProcNetTcp(TCP6, true, { ports: [80] })).toEqual([]);
    expect(parseProcNetTcp(TCP4, true, { ports: [1] })).toEqual([]);
    expect(parseProcNetTcp(TCP4, true, { ports: [] })).toEqual([]);
  });

  test('with listening: the LISTEN rows on that port, not its connections', () => {
    expect(endpoints(parseProcNetTcp(TCP4, true, { ports: [], listening: 8080 }))).toEqual([['127.0.0.1:8080', '0.0.0.0:0', 'LISTEN']]);
    expect(endpoints(parseProcNetTcp(TCP6, true, { ports: [], listening: 8080 }))).toEqual([['::1:8080', ':::0', 'LISTEN']]);
    expect(endpoints(parseProcNetTcp(TCP4, true, { ports: [54321], listening: 8080 }))).toEqual([
      ['127.0.0.1:8080', '0.0.0.0:0', 'LISTEN'],
      ['192.168.0.10:54321', '192.168.0.34:80', 'CLOSE_WAIT'],
    ]);
    expect(parseProcNetTcp(TCP4, true, { ports: [], listening: 50000 })).toEqual([]);
  });

  test('with ports: the same rows as parsing every line and filtering (random tables)', () => {
    const port = fc.integer({ min: 0, max: 0xffff });
    const row = fc.record({ local: port, remote: port, state: fc.constantFrom('01', '06', '0A', '08'), v6: fc.boolean() });
    const hex = (p: number): string => p.toString(16).toUpperCase().padStart(4, '0');
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.array(port, { maxLength: 4 }), fc.option(port, { nil: undefined }), (rows, ports, listening) => {
        const addr = (v6: boolean): string => (v6 ? '00000000000000000000000001000000' : '0100007F');
        const zero = (v6: boolean): string => (v6 ? '0'.repeat(32) : '00000000');
        // As the kernel prints them: a LISTEN row has the zero address and port 0 as remote end.
        const line = (r: (typeof rows)[number], i: number): string =>
          `${String(i).padStart(4)}: ${addr(r.v6)}:${hex(r.local)} ${r.state === '0A' ? `${zero(r.v6)}:0000` : `${addr(r.v6)}:${hex(r.remote)}`} ${r.state} 00000000:00000000 00:00000000 00000000`;
        const text = ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when', ...rows.map(line)].join('\n');
        const all = parseProcNetTcp(text, true).filter(
          (r) => ports.includes(r.localPort) || ports.includes(r.remotePort) || (r.state === 'LISTEN' && r.localPort === listening),
        );
        expect(parseProcNetTcp(text, true, { ports, listening })).toEqual(all);
      }),
    );
  });
});

describe('TableParser', () => {
  /** The rows of `text` fed in pieces cut at `cuts` (offsets), as reads of the file return them. */
  const inPieces = (text: string, cuts: readonly number[], filter: { ports: number[]; listening?: number }): TcpRow[] => {
    const parser = new TableParser(filter, true);
    const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), text.length];
    for (let i = 1; i < at.length; i++) parser.push(text.slice(at[i - 1], at[i]));
    return parser.end();
  };

  test('cut anywhere, even mid-line or inside the header, gives the rows of the whole text', () => {
    const tables = [TCP4, TCP6, TCP4.trimEnd(), 'header only', ''];
    const filters = [{ ports: [50000] }, { ports: [], listening: 8080 }, { ports: [80, 8080, 57344, 54321] }];
    fc.assert(
      fc.property(fc.constantFrom(...tables), fc.constantFrom(...filters), fc.array(fc.nat(), { maxLength: 8 }), (text, filter, cuts) => {
        expect(
          inPieces(
            text,
            cuts.map((c) => c % (text.length + 1)),
            filter,
          ),
        ).toEqual(parseProcNetTcp(text, true, filter));
      }),
    );
  });

  test('one byte at a time', () => {
    const cuts = [...TCP4].map((_, i) => i);
    expect(inPieces(TCP4, cuts, { ports: [50000], listening: 8080 })).toEqual(parseProcNetTcp(TCP4, true, { ports: [50000], listening: 8080 }));
  });
});

describe('rowsForConnection', () => {
  const rows = [...parseProcNetTcp(TCP4, true), ...parseProcNetTcp(TCP6, true)];

  test('finds both sides of a loopback connection', () => {
    const { aSide, bSide } = rowsForConnection(rows, { address: '127.0.0.1', port: 50000 }, { address: '127.0.0.1', port: 8080 });
    expect(endpoints(aSide)).toEqual([['127.0.0.1:50000', '127.0.0.1:8080', 'TIME_WAIT']]);
    expect(endpoints(bSide)).toEqual([['127.0.0.1:8080', '127.0.0.1:50000', 'ESTABLISHED']]);
  });

  test('a plain IPv4 endpoint matches an IPv4-mapped row in tcp6, and the other way round', () => {
    const plain = rowsForConnection(rows, { address: '127.0.0.1', port: 50001 }, { address: '127.0.0.1', port: 8080 });
    expect(endpoints(plain.aSide)).toEqual([]);
    expect(endpoints(plain.bSide)).toEqual([['::ffff:127.0.0.1:8080', '::ffff:127.0.0.1:50001', 'ESTABLISHED']]);

    const mapped = rowsForConnection(rows, { address: '::FFFF:127.0.0.1', port: 8080 }, { address: '::ffff:127.0.0.1', port: 50000 });
    expect(endpoints(mapped.aSide)).toEqual([['127.0.0.1:8080', '127.0.0.1:50000', 'ESTABLISHED']]);
    expect(endpoints(mapped.bSide)).toEqual([['127.0.0.1:50000', '127.0.0.1:8080', 'TIME_WAIT']]);
  });

  test('IPv6 endpoints match whatever way the address is written', () => {
    const { aSide } = rowsForConnection(rows, { address: 'FE80:0:0:0:2FF:FE00:DEAD:1', port: 443 }, { address: '0::1', port: 57344 });
    expect(endpoints(aSide)).toEqual([['fe80::2ff:fe00:dead:1:443', '::1:57344', 'CLOSING']]);
  });

  test('a different port or address on either end does not match', () => {
    const local = { address: '127.0.0.1', port: 50000 };
    const remote = { address: '127.0.0.1', port: 8080 };
    expect(rowsForConnection(rows, { ...local, port: 50002 }, remote)).toEqual({ aSide: [], bSide: [] });
    expect(rowsForConnection(rows, local, { ...remote, port: 8081 })).toEqual({ aSide: [], bSide: [] });
    expect(rowsForConnection(rows, { ...local, address: '127.0.0.2' }, remote)).toEqual({ aSide: [], bSide: [] });
    expect(rowsForConnection(rows, { ...local, address: '::1' }, remote)).toEqual({ aSide: [], bSide: [] });
  });
});

describe('addressKey', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['0:0:0:0:0:0:0:1', '00000000000000000000000000000001'],
    ['fe80::', 'fe800000000000000000000000000000'],
    ['FE80::1', 'fe800000000000000000000000000001'],
    ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'],
    ['2001:db8:0:0:1::', '20010db8000000000001000000000000'],
  ])('%s → %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});

const haveProc = existsSync('/proc/net/tcp');

describe('readTcpRows on this host', () => {
  test.skipIf(!haveProc)('shows the side that closed first in TIME_WAIT (skipped where /proc/net/tcp does not exist)', async () => {
    const server = net.createServer((socket) => {
      // The client's FIN arrives first; answer it with ours.
      socket.on('end', () => socket.end());
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
      const local = { address: client.localAddress as string, port: client.localPort as number };
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.on('end', () => client.destroy());
      client.resume();
      client.end();
      await closed;

      let aSide: TcpRow[] = [];
      for (const deadline = Date.now() + 1000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
        ({ aSide } = rowsForConnection((await readTcpRows({ ports: [local.port] })) ?? [], local, { address: '127.0.0.1', port }));
        if (aSide.some((row) => row.state === 'TIME_WAIT')) break;
      }
      expect(aSide.map((row) => [row.localAddress, row.localPort, row.remotePort, row.state])).toEqual([['127.0.0.1', local.port, port, 'TIME_WAIT']]);
      // Reads asked for at once share passes over the tables; each gets the rows of its own filter.
      const [mine, listening, none] = await Promise.all([
        readTcpRows({ ports: [local.port] }),
        readTcpRows({ ports: [], listening: port }),
        readTcpRows({ ports: [] }),
      ]);
      expect(endpoints(rowsForConnection(mine ?? [], local, { address: '127.0.0.1', port }).aSide)).toEqual(endpoints(aSide));
      expect(endpoints(listening ?? [])).toEqual([[`127.0.0.1:${port}`, '0.0.0.0:0', 'LISTEN']]);
      expect(none).toEqual([]);
      // The synchronous read (used inside an 'end' handler) sees the same row.
      expect(endpoints(rowsForConnection(readTcpRowsSync({ ports: [local.port] }) ?? [], local, { address: '127.0.0.1', port }).aSide)).toEqual(
        endpoints(aSide),
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
