import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/model/result.js';
import { parseNetstat } from '../src/wire/socketTable.js';
import { runCli } from './support/cli.js';
import { useLab } from './support/lab.js';
import { expectValid } from './support/reportSchema.js';

/**
 * Off Linux there is no /proc/net/tcp: the probe reads `netstat -an`, or infers, and every
 * report says which. The layouts below follow what each netstat prints (net-tools'
 * netstat.c; Apple's and FreeBSD's netstat inet.c with the BSD tcpstates names; Windows'
 * netstat): written to those formats, not captured on those systems, which CI does not have.
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

  it('Windows: bracketed IPv6, LISTENING', () => {
    expect(rows(WINDOWS)).toEqual(['0.0.0.0:8080 0.0.0.0:0 LISTEN', '127.0.0.1:51234 127.0.0.1:8080 TIME_WAIT', '::1:8080 ::1:51240 ESTABLISHED']);
  });
});

const dir = mkdtempSync(path.join(tmpdir(), 'kap-socket-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const startLab = useLab();

/** A probe of a lab whose sockets the tests can predict: client closes (http11-reuse), server closes (connection-close). */
async function probe(table: string): Promise<{ report: RunResult; terminal: string; junit: string; html: string }> {
  const server = await startLab({});
  const files = { json: path.join(dir, `${table}.json`), junit: path.join(dir, `${table}.xml`), html: path.join(dir, `${table}.html`) };
  const run = await runCli([
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
  ]);
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
    expect(terminal).toContain('Evidence: no socket table (no /proc/net/tcp, no netstat): which side holds TIME_WAIT is inferred');
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

  it('with /proc/net/tcp (Linux, the default): read there, and no evidence note', async () => {
    const { report, terminal } = await probe('auto');
    expect(report.evidence).toEqual({ socketTable: 'proc-net-tcp' });
    expect(sides(report).map(([, , source]) => source)).toEqual(['proc-net-tcp', 'proc-net-tcp']);
    expect(terminal).not.toContain('Evidence:');
  });
});
