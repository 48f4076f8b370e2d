import { spawnSync } from 'node:child_process';
import { type Socket, connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/model/result.js';
import { netstatArgs, parseNetstat, statesKnown } from '../src/wire/socketTable.js';
import { runCli } from './support/cli.js';
import { useLab } from './support/lab.js';
import { expectValid } from './support/reportSchema.js';

/**
 * Off Linux there is no /proc/net/tcp: the probe reads `netstat -an`, or infers, and every
 * report says which. The layouts below follow what each netstat prints (net-tools'
 * netstat.c; Apple's and FreeBSD's netstat inet.c with the BSD tcpstates names; Windows'
 * netstat), with the quirks published captures of each show (macOS cutting a long IPv6
 * address to its column, zones, `tcp46`, UDP rows without a state; OpenBSD's bare `tcp`;
 * Windows' PID column, headers in the system's language, CRLF): written by us to those
 * formats, since CI has no macOS, BSD or Windows. The Linux netstat is the real one, run here
 * (net-tools, also in other languages).
 */
const LINUX = `Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State
tcp        0      0 127.0.0.1:8080          0.0.0.0:*               LISTEN
tcp        0      0 127.0.0.1:51234         127.0.0.1:8080          TIME_WAIT
tcp6       0      0 ::1:8080                ::1:51240               TIME_WAIT
tcp6       0      0 :::22                   :::*                    LISTEN
tcp6       0      0 ::ffff:127.0.0.1:8080   ::ffff:127.0.0.1:51250  CLOSE_WAIT
`;
const MACOS = `Active Internet connections (including servers)
Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
tcp4       0      0  127.0.0.1.51234        127.0.0.1.8080         TIME_WAIT
tcp4       0      0  127.0.0.1.8080         127.0.0.1.51236        ESTABLISHED
tcp6       0      0  ::1.8080               ::1.51240              FIN_WAIT_2
tcp46      0      0  *.8080                 *.*                    LISTEN
udp4       0      0  *.5353                 *.*
`;
const WINDOWS = `
Active Connections

  Proto  Local Address          Foreign Address        State
  TCP    0.0.0.0:8080           0.0.0.0:0              LISTENING
  TCP    127.0.0.1:51234        127.0.0.1:8080         TIME_WAIT
  TCP    [::1]:8080             [::1]:51240            ESTABLISHED
  UDP    0.0.0.0:5353           *:*
`;

/** macOS without -W (what older scripts run): long IPv6 addresses cut to the column, zones, tcp46, UDP without a state. */
const MACOS_CUT = `Active Internet connections (including servers)
Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)
tcp6       0      0  fe80::1c2d:3aff:f.52110 fe80::8e3b:4aff:f.8080  ESTABLISHED
tcp6       0      0  fe80::1%lo0.8080       fe80::1%lo0.52120      TIME_WAIT
tcp46      0      0  *.443                  *.*                    LISTEN
udp46      0      0  *.5353                 *.*
udp4       0      0  *.*                    *.*
`;
/** OpenBSD: the protocol is plain `tcp`/`tcp6`, addresses as on the other BSDs. */
const OPENBSD = `Active Internet connections (including servers)
Proto   Recv-Q Send-Q  Local Address          Foreign Address        TCP-State
tcp          0      0  127.0.0.1.51234        127.0.0.1.8080         TIME_WAIT
tcp6         0      0  ::1.8080               ::1.51240              CLOSE_WAIT
`;
/** Windows `netstat -ano` on a French system: headers translated, states not, a PID column, CRLF. */
const WINDOWS_FR = [
  '',
  'Connexions actives',
  '',
  '  Proto  Adresse locale         Adresse distante       État            PID',
  '  TCP    0.0.0.0:8080           0.0.0.0:0              LISTENING       4312',
  '  TCP    127.0.0.1:51234        127.0.0.1:8080         TIME_WAIT       0',
  '  TCP    [fe80::1%7]:8080       [fe80::1%7]:51240      FIN_WAIT_2      4312',
  '  UDP    0.0.0.0:5353           *:*                                    2104',
  '',
].join('\r\n');

describe('netstat -an in its three layouts', () => {
  const rows = (text: string): string[] => parseNetstat(text).map((r) => `${r.localAddress}:${r.localPort} ${r.remoteAddress}:${r.remotePort} ${r.state}`);

  it('Linux net-tools', () => {
    expect(rows(LINUX)).toEqual([
      '127.0.0.1:8080 0.0.0.0:0 LISTEN',
      '127.0.0.1:51234 127.0.0.1:8080 TIME_WAIT',
      '::1:8080 ::1:51240 TIME_WAIT',
      ':::22 :::0 LISTEN',
      '::ffff:127.0.0.1:8080 ::ffff:127.0.0.1:51250 CLOSE_WAIT',
    ]);
  });

  it('macOS and the BSDs: the port after the last dot, BSD state names', () => {
    expect(rows(MACOS)).toEqual([
      '127.0.0.1:51234 127.0.0.1:8080 TIME_WAIT',
      '127.0.0.1:8080 127.0.0.1:51236 ESTABLISHED',
      '::1:8080 ::1:51240 FIN_WAIT2',
      '0.0.0.0:8080 0.0.0.0:0 LISTEN',
    ]);
  });

  it('macOS without -W: a cut IPv6 address still gives its port; zones dropped; UDP skipped', () => {
    expect(rows(MACOS_CUT)).toEqual([
      'fe80::1c2d:3aff:f:52110 fe80::8e3b:4aff:f:8080 ESTABLISHED',
      'fe80::1:8080 fe80::1:52120 TIME_WAIT',
      '0.0.0.0:443 0.0.0.0:0 LISTEN',
    ]);
  });

  it('OpenBSD: plain tcp rows', () => {
    expect(rows(OPENBSD)).toEqual(['127.0.0.1:51234 127.0.0.1:8080 TIME_WAIT', '::1:8080 ::1:51240 CLOSE_WAIT']);
  });

  it('Windows -ano in French: the PID column and the translated headers change nothing', () => {
    expect(rows(WINDOWS_FR)).toEqual(['0.0.0.0:8080 0.0.0.0:0 LISTEN', '127.0.0.1:51234 127.0.0.1:8080 TIME_WAIT', 'fe80::1:8080 fe80::1:51240 FIN_WAIT2']);
    expect(statesKnown(parseNetstat(WINDOWS_FR))).toBe(true);
  });

  it('the arguments per system: -W where it keeps addresses whole (macOS, FreeBSD), not on OpenBSD where -W takes an interface', () => {
    expect(netstatArgs('linux')).toEqual(['-ant']);
    expect(netstatArgs('darwin')).toEqual(['-anW', '-p', 'tcp']);
    expect(netstatArgs('freebsd')).toEqual(['-anW', '-p', 'tcp']);
    expect(netstatArgs('openbsd')).toEqual(['-an', '-p', 'tcp']);
    expect(netstatArgs('win32')).toEqual(['-an']);
  });

  it('Windows: bracketed IPv6, LISTENING', () => {
    expect(rows(WINDOWS)).toEqual(['0.0.0.0:8080 0.0.0.0:0 LISTEN', '127.0.0.1:51234 127.0.0.1:8080 TIME_WAIT', '::1:8080 ::1:51240 ESTABLISHED']);
  });
});

const dir = mkdtempSync(path.join(tmpdir(), 'kap-socket-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const startLab = useLab();

/** A probe of a lab whose sockets the tests can predict: client closes (http11-reuse), server closes (connection-close). */
async function probe(table: string, env: NodeJS.ProcessEnv = {}): Promise<{ report: RunResult; terminal: string; junit: string; html: string }> {
  const server = await startLab({});
  const files = { json: path.join(dir, `${table}.json`), junit: path.join(dir, `${table}.xml`), html: path.join(dir, `${table}.html`) };
  const run = await runCli(
    [
      'run',
      server.url,
      '-s',
      'http11-reuse',
      '-s',
      'connection-close',
      '--socket-table',
      table,
      '--color',
      'never',
      '--json',
      files.json,
      '--junit',
      files.junit,
      '--html',
      files.html,
    ],
    { env },
  );
  expect(run.code).toBe(0);
  const report = JSON.parse(readFileSync(files.json, 'utf8')) as unknown;
  expectValid(expect, report);
  return { report, terminal: run.stdout, junit: readFileSync(files.junit, 'utf8'), html: readFileSync(files.html, 'utf8') };
}

const sides = (r: RunResult): [string, string, string][] =>
  r.scenarios.map((s) => [s.id, s.connections[0]?.timeWait.side ?? '', s.connections[0]?.timeWait.source ?? '']);

describe('a full probe without /proc/net/tcp', () => {
  it('no socket table at all: TIME_WAIT inferred, and every report says so', async () => {
    const { report, terminal, junit, html } = await probe('none');
    expect(report.evidence).toEqual({ socketTable: 'none' });
    expect(sides(report)).toEqual([
      ['http11-reuse', 'client', 'inferred'],
      ['connection-close', 'server', 'inferred'],
    ]);
    expect(terminal).toContain('Evidence: no socket table (no /proc/net/tcp, no netstat -an it can read): which side holds TIME_WAIT is inferred');
    expect(terminal).not.toContain('seen in /proc/net/tcp');
    expect(junit).toContain('<property name="evidence.socketTable" value="none"/>');
    expect(html).toContain('<p class="evidence">Evidence: no socket table');
  });

  it('netstat -an instead (where netstat is installed): the same sides, read rather than inferred', async (ctx) => {
    if (spawnSync('sh', ['-c', 'command -v netstat']).status !== 0) return ctx.skip('netstat is not installed (net-tools)');
    const { report, terminal } = await probe('netstat');
    expect(report.evidence).toEqual({ socketTable: 'netstat' });
    expect(sides(report)).toEqual([
      ['http11-reuse', 'client', 'netstat'],
      ['connection-close', 'server', 'netstat'],
    ]);
    expect(terminal).toContain('Evidence: sockets read with netstat -an');
  });

  it("net-tools in the user's language (Czech, German): the states it translates are read in the C locale, and never mistaken", async (ctx) => {
    if (spawnSync('sh', ['-c', 'command -v netstat']).status !== 0) return ctx.skip('netstat is not installed (net-tools)');
    // The real netstat, in Czech and German, while a connection is open and the lab listens.
    const server = await startLab({});
    const held = await new Promise<Socket>((resolve) => {
      const s: Socket = connect(server.port, '127.0.0.1', () => resolve(s));
    });
    try {
      const translated = ['cs', 'de'].map((language) =>
        parseNetstat(
          spawnSync('netstat', ['-ant'], { encoding: 'utf8', env: { ...process.env, LANGUAGE: language, LANG: 'C.UTF-8', LC_ALL: undefined } }).stdout,
        ).filter((r) => r.localPort === server.port || r.remotePort === server.port),
      );
      const states = translated.map((rs) => [...new Set(rs.map((r) => r.state))].sort());
      if (states.every((st) => st.every((x) => ['LISTEN', 'ESTABLISHED'].includes(x)))) return ctx.skip('this net-tools has no Czech or German translation');
      expect(translated.map((rs) => statesKnown(rs))).toContain(false);
    } finally {
      held.destroy();
    }
    // The probe in a Czech session still reads every side from netstat.
    const { report } = await probe('netstat', { LANGUAGE: 'cs', LANG: 'C.UTF-8' });
    expect(report.evidence).toEqual({ socketTable: 'netstat' });
    expect(sides(report)).toEqual([
      ['http11-reuse', 'client', 'netstat'],
      ['connection-close', 'server', 'netstat'],
    ]);
  });

  it('with /proc/net/tcp (Linux, the default): read there, and no evidence note', async () => {
    const { report, terminal } = await probe('auto');
    expect(report.evidence).toEqual({ socketTable: 'proc-net-tcp' });
    expect(sides(report).map(([, , source]) => source)).toEqual(['proc-net-tcp', 'proc-net-tcp']);
    expect(terminal).not.toContain('Evidence:');
  });
});
