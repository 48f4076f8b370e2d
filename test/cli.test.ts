import { BUILTIN_ORDER } from '../src/catalog/builtinScenarios.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../src/options/labProfiles.js';
import { startLabServer } from '../src/lab/labServer.js';
import type { LabServer } from '../src/lab/labServer.js';
import type { RunResult } from '../src/model/result.js';
import { BIN, runCli } from './support/cli.js';
import { startServerProcess } from './support/process.js';
import { answerEachRequest, useRawServer } from './support/rawServer.js';
import { issueTestPki, startHttpsServer } from './support/tls.js';
import { PROBE_LAG_MS } from './support/timing.js';
import type { TestPki } from './support/tls.js';

/** The built binary, run as users run it: stdout, stderr and exit code. */
const ANSI = /\u001b\[/;
const dir = mkdtempSync(path.join(tmpdir(), 'kap-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function lab(overrides: Partial<typeof SERVE_DEFAULTS> = {}): Promise<LabServer> {
  const server = await startLabServer({ ...SERVE_DEFAULTS, ...overrides });
  cleanups.push(() => server.close());
  return server;
}

const rawServer = useRawServer();

function expectOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^keepalive-probe: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /); // never a stack trace
}

describe('run with no target: the embedded lab server', () => {
  it('--json prints one JSON document on stdout, the terminal report goes to stderr (none with --quiet)', async () => {
    const { code, stdout, stderr } = await runCli(['run', '--json']);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^keepalive-probe \S+ → http:\/\/127\.0\.0\.1:\d+\/ /);
    expect(stderr).toMatch(/13 scenarios in .*\(exit code 0\)\n$/);
    expect((await runCli(['run', '--json', '--quiet', '-s', 'http11-reuse'])).stderr).toBe('');
    const report = JSON.parse(stdout) as {
      schemaVersion: number;
      target: { lab: unknown; url: string; protocols: string[] };
      scenarios: { id: string; protocol: string; status: string; durationMs: number; metrics: Record<string, unknown>; connections: { events: unknown[] }[] }[];
    };
    expect(report.schemaVersion).toBe(1);
    expect(report.target.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(report.target.lab).toMatchObject({ idleTimeoutMs: 2000, maxRequests: 5, http10: 'close' });
    // The lab speaks HTTP/1.1 and h2c: every built-in runs, each in its own protocol.
    expect(report.target.protocols).toEqual(['http/1.1', 'h2']);
    expect(report.scenarios.map((s) => s.id)).toEqual(BUILTIN_ORDER);
    expect(report.scenarios.filter((s) => s.protocol === 'h2').map((s) => s.id)).toEqual(BUILTIN_ORDER.filter((id) => id.startsWith('h2-')));
    const byId = Object.fromEntries(report.scenarios.map((s) => [s.id, s]));
    expect(byId['request-cap']?.metrics.maxRequests).toBe(5);
    expect(byId['http10-keepalive']?.metrics.keepAliveHonoured).toBe(false);
    expect(byId['idle-timeout']?.metrics.idleTimeoutMs).toBeGreaterThanOrEqual(2000 - PROBE_LAG_MS);
    for (const s of report.scenarios) expect(s.connections.every((c) => c.events.length > 0)).toBe(true);
  });

  it('the terminal report fits a screen or two: target, summary, metrics, what to do, clients, a one-line verdict; no colour off a TTY', async () => {
    const { code, stdout, stderr } = await runCli(['run']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/keepalive-probe \S+ → http:\/\/127\.0\.0\.1:\d+\/ \(Server: keepalive-probe-lab\//);
    expect(stdout).toContain('the embedded lab server (idle timeout 2 s, closes after 5 requests');
    // The demo's 2 s idle timeout, shown in seconds; a loaded machine may read it up to ~0.4 s late, or short by the probe's stamping lag.
    const shown = /│ idle-timeout\s+│ PASS\s+│ idleTimeoutMs (\d+(?:\.\d+)?) s/.exec(stdout);
    expect(Number(shown?.[1])).toBeGreaterThanOrEqual((2000 - PROBE_LAG_MS) / 1000);
    expect(Number(shown?.[1])).toBeLessThanOrEqual(2.4);
    // At 120 columns, wrapped lines counted (76 here on a quiet machine; a busy one adds the event-loop warning).
    const lines = stdout.trimEnd().split('\n');
    expect(lines.reduce((n, line) => n + Math.max(1, Math.ceil([...line].length / 120)), 0)).toBeLessThanOrEqual(80);
    expect(stdout).toContain('what to do:');
    expect(stdout).toMatch(/clients against this server[^\n]*\n {2}reuse a dead connection on every reuse after the close: okhttp/);
    expect(lines.at(-1)).toMatch(/^13 scenarios in \S+ s: 11 pass, 2 warn, 0 fail, 0 error \(exit code 0\)$/);
    // The lab speaks both protocols, and the report says so.
    expect(stdout).toContain('Protocols: HTTP/1.1, HTTP/2 (h2c). Bounds: idle wait');
    expect(stdout).toMatch(/^h2-idle-timeout PASS \([^)]+\): idleTimeoutMs=/m);
    // No timelines when nothing failed; a passing scenario shows its metrics, not its findings.
    expect(stdout).not.toMatch(/connection \S+ \(local :\d+/);
    expect(stdout).toMatch(/^idle-timeout PASS \([^)]+\): idleTimeoutMs=/m);
    expect(stdout).not.toMatch(ANSI);
  });

  it('-v draws every timeline, the race table and the full clients table', async () => {
    const { code, stdout } = await runCli(['run', '-v']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\+\d+(\.\d)?ms\s+connect :\d+/);
    expect(stdout).toMatch(/→ GET \/ HTTP\/1\.1/);
    expect(stdout).toMatch(/← FIN \(server closed the idle connection \(FIN\) after (1\.9\d|2(\.\d+)?) s\)/);
    expect(stdout).toMatch(/race \(request written T \+ offset/);
    expect(stdout).toMatch(/│ client\s+│ idle limit\s+│ Keep-Alive hint/);
    expect(stdout.split('\n').length).toBeGreaterThan(300);
  });

  it('--color always colours; NO_COLOR wins over auto', async () => {
    const always = await runCli(['run', '-s', 'http11-reuse', '--color', 'always']);
    expect(always.stdout).toMatch(ANSI);
    const noColor = await runCli(['run', '-s', 'http11-reuse'], { env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toMatch(ANSI);
  });
});

describe('exit codes and one-line errors', () => {
  it('2: invalid URL', async () => {
    const { code, stdout, stderr } = await runCli(['run', 'not a url']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expectOneErrorLine(stderr, /invalid URL "not a url"/);
  });

  it('2: unsupported scheme', async () => {
    const { code, stderr } = await runCli(['run', 'ftp://example.test/']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /unsupported scheme "ftp:"/);
  });

  it('2: unknown scenario id, listing the built-ins', async () => {
    const { code, stderr } = await runCli(['run', '--scenario', 'nope']);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, /unknown scenario "nope": built-in scenarios are http11-reuse, /);
  });

  it('2: a bad duration is a usage error', async () => {
    const { code, stderr } = await runCli(['run', '--max-idle', '30']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid duration "30"/);
  });

  it('3: connection refused, with the errno', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { code, stdout, stderr } = await runCli(['run', `http://127.0.0.1:${port}/`]);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expectOneErrorLine(stderr, /connection refused by 127\.0\.0\.1:\d+: .*ECONNREFUSED.*\[connect-refused\]/);
  });

  it('3: a host that does not resolve', async () => {
    const { code, stderr } = await runCli(['run', 'http://no-such-host.invalid/']);
    expect(code).toBe(3);
    expectOneErrorLine(stderr, /no-such-host\.invalid.*\[dns-(not-found|temporary)\]/);
  });

  it('3: a peer that does not speak HTTP', async () => {
    const url = await rawServer((socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
    const { code, stderr } = await runCli(['run', url]);
    expect(code).toBe(3);
    expectOneErrorLine(stderr, /not.*HTTP.*SSH-2\.0/);
  });

  it('3: a server that accepts and never answers, within the response deadline', async () => {
    const url = await rawServer(() => undefined);
    const started = performance.now();
    const { code, stderr } = await runCli(['run', url, '--response-timeout', '700ms']);
    expect(code).toBe(3);
    expectOneErrorLine(stderr, /no response within 700 ms/);
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('3: a broken response (invalid Content-Length), with escaped server text', async () => {
    const url = await rawServer((socket) =>
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nServer: evil\u001b[31m\r\nContent-Length: abc\r\n\r\n')),
    );
    const { code, stderr } = await runCli(['run', url]);
    expect(code).toBe(3);
    expectOneErrorLine(stderr, /bad-content-length/);
    expect(stderr).not.toMatch(ANSI);
  });

  it('hostile server text reads the same in every report format: escaped, capped, never raw', async () => {
    // Header bytes are latin1: ESC sequences, BEL, an 8-bit CSI, and the UTF-8 bytes of U+202E (RLO);
    // and a 60 000-byte Server header.
    const hostile = 'evil\u001b]8;;http://x\u0007\u001b[2J\u009b31m\u00e2\u0080\u00aegnp.exe';
    const shown = 'evil\\x1b]8;;http://x\\x07\\x1b[2J\\x9b31mâ\\x80®gnp.exe';
    const huge = 'h'.repeat(60_000);
    const url = await rawServer((socket) =>
      answerEachRequest(socket, () =>
        Buffer.from(`HTTP/1.1 200 OK\r\nServer: ${hostile}\r\nX-Huge: 1\r\nKeep-Alive: timeout=1, ${hostile}\r\nContent-Length: 2\r\n\r\nok`, 'latin1'),
      ),
    );
    const hugeUrl = await rawServer((socket) =>
      answerEachRequest(socket, () => Buffer.from(`HTTP/1.1 200 OK\r\nServer: ${huge}\r\nContent-Length: 2\r\n\r\nok`, 'latin1')),
    );
    const files = { json: path.join(dir, 'hostile.json'), junit: path.join(dir, 'hostile.xml'), html: path.join(dir, 'hostile.html') };
    const run = await runCli(['run', url, '-s', 'http11-reuse', '--color', 'never', '--json', files.json, '--junit', files.junit, '--html', files.html]);
    expect(run.code).toBe(0);
    const reports = {
      terminal: run.stdout,
      json: readFileSync(files.json, 'utf8'),
      junit: readFileSync(files.junit, 'utf8'),
      html: readFileSync(files.html, 'utf8'),
    };
    for (const [format, text] of Object.entries(reports)) {
      expect(text, format).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      // The same visible escapes everywhere (JSON doubles the backslash, XML and HTML keep it).
      expect(text.replaceAll('\\\\', '\\'), format).toContain(shown);
    }
    expect((JSON.parse(reports.json) as { target: { server: string } }).target.server).toBe(shown);
    // The huge header is cut to the same 200 characters in every format.
    const big = await runCli(['run', hugeUrl, '-s', 'http11-reuse', '--color', 'never', '--json', files.json, '--junit', files.junit, '--html', files.html]);
    const cut = `${'h'.repeat(200)}… (59800 more)`;
    expect((JSON.parse(readFileSync(files.json, 'utf8')) as { target: { server: string } }).target.server).toBe(cut);
    for (const text of [big.stdout, readFileSync(files.junit, 'utf8'), readFileSync(files.html, 'utf8')]) {
      expect(text).toContain(cut);
      expect(text).not.toContain('h'.repeat(201));
    }
  });

  it('1: a scenario file whose fail-severity expectation does not hold', async () => {
    const server = await lab({ idleTimeoutMs: 500 });
    const file = path.join(dir, 'gate.yaml');
    writeFileSync(
      file,
      [
        'id: idle-gate',
        'title: Idle timeout at least 60 s',
        'steps:',
        '  - open: main',
        '  - request: { on: main }',
        '  - wait-close: { on: main, max: 3s }',
        '  - expect: { that: idleTimeoutMs >= 60s, severity: fail }',
        'metrics:',
        '  idleTimeoutMs: { measure: idleBeforeClose, on: main }',
        '',
      ].join('\n'),
    );
    const { code, stdout } = await runCli(['run', server.url, '--scenario', file, '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { scenarios: { id: string; status: string; expectations: { expression: string; holds: boolean }[] }[] };
    expect(report.scenarios).toHaveLength(1);
    expect(report.scenarios[0]).toMatchObject({ id: 'idle-gate', status: 'fail' });
  });

  it('2: an invalid scenario file, naming file, line and field', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, ['id: bad', 'title: Bad', 'steps:', '  - open: main', '  - wait-close: { on: main, max: 5 }', ''].join('\n'));
    const { code, stdout, stderr } = await runCli(['run', '--scenario', file]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expectOneErrorLine(stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5: .*max`));
  });
});

describe('https', () => {
  let url = '';
  let pki: TestPki;
  beforeAll(async () => {
    pki = issueTestPki(dir);
    const server = await startHttpsServer(pki, 800);
    url = server.url;
    return server.stop;
  });

  it('3: a certificate from a CA Node does not know is refused, and the error line says what to do', async () => {
    const { code, stdout, stderr } = await runCli(['run', url, '--json']);
    expect(code).toBe(3);
    // Node's code for it is UNABLE_TO_VERIFY_LEAF_SIGNATURE: a TLS failure, not "cannot connect".
    expectOneErrorLine(
      stderr,
      /TLS handshake failed .*unable to verify the first certificate \[tls-failed\]; trust the CA that signed it with --cacert <file\.pem> \(or NODE_EXTRA_CA_CERTS\), or skip verification with --insecure/,
    );
    // The report a CI job keeps says the same, what to do included.
    expect((JSON.parse(stdout) as { error: unknown }).error).toMatchObject({
      code: 'tls-failed',
      errno: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      hint: 'trust the CA that signed it with --cacert <file.pem> (or NODE_EXTRA_CA_CERTS), or skip verification with --insecure',
    });
  });

  it('--cacert with that CA probes it, verified', async () => {
    const { code, stdout } = await runCli(['run', url, '--cacert', pki.ca, '--json', '-s', 'http11-reuse']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { target: { tls: boolean }; scenarios: { metrics: Record<string, unknown> }[] };
    expect(report.target.tls).toBe(true);
    expect(report.scenarios[0]?.metrics.reused).toBe(true);
  });

  it("--cacert keeps NODE_EXTRA_CA_CERTS's CAs; another CA alone is still refused", async () => {
    const both = await runCli(['run', url, '--cacert', pki.otherCa, '-q', '-s', 'http11-reuse'], { env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.ca } });
    expect(both.code).toBe(0);
    const other = await runCli(['run', url, '--cacert', pki.otherCa, '-q', '-s', 'http11-reuse']);
    expect(other.code).toBe(3);
    expectOneErrorLine(other.stderr, /\[tls-failed\]/);
  });

  it('2: a --cacert file that is missing or holds no certificate', async () => {
    const missing = await runCli(['run', url, '--cacert', path.join(dir, 'nope.pem')]);
    expect(missing.code).toBe(2);
    expectOneErrorLine(missing.stderr, /cannot read --cacert .*nope\.pem/);
    const notPem = await runCli(['run', url, '--cacert', pki.key]);
    expect(notPem.code).toBe(2);
    expectOneErrorLine(notPem.stderr, /--cacert .*key\.pem holds no PEM certificate/);
  });

  it('--resolve connects to the address given while the URL names the server: SNI and the certificate check use its name', async () => {
    const port = new URL(url).port;
    const { code, stdout, stderr } = await runCli([
      'run',
      `https://probe.test:${port}/`,
      '--resolve',
      `probe.test:${port}:127.0.0.1`,
      '--cacert',
      pki.ca,
      '--json',
      '-s',
      'http11-reuse',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      target: { host: string; connectAddress: string | null };
      scenarios: { connections: { remote: { address: string } }[] }[];
    };
    expect(report.target).toMatchObject({ host: 'probe.test', connectAddress: '127.0.0.1' });
    expect(report.scenarios[0]?.connections[0]?.remote.address).toBe('127.0.0.1');
    expect(stderr).toMatch(new RegExp(`→ https://probe\\.test:${port}/ via 127\\.0\\.0\\.1 \\(`));

    // The certificate names probe.test and 127.0.0.1, not other.test nor 127.0.0.2: the URL's host
    // is what is checked, a name or an address, not the address connected to.
    for (const host of ['other.test', '127.0.0.2']) {
      const other = await runCli(['run', `https://${host}:${port}/`, '--resolve', `${host}:${port}:127.0.0.1`, '--cacert', pki.ca]);
      expect(other.code).toBe(3);
      expectOneErrorLine(
        other.stderr,
        new RegExp(`${host.replace(/\./g, '\\.')}\\.? is not in the cert's (altnames|list).*\\[tls-failed\\]; the certificate does not name this host`),
      );
    }
  });

  it("--cacert with only the intermediate CA of the server's chain is enough, as with curl; a CA of no chain says so", async () => {
    const chained = await startHttpsServer(pki, 800, pki.chainCert);
    try {
      expect((await runCli(['run', chained.url, '--cacert', pki.intermediate, '-q', '-s', 'http11-reuse'])).code).toBe(0);
      const none = await runCli(['run', chained.url, '--cacert', pki.otherCa, '-q', '-s', 'http11-reuse']);
      expect(none.code).toBe(3);
      expectOneErrorLine(none.stderr, /\[tls-failed\]; no CA in the --cacert file signed its chain/);
    } finally {
      chained.stop();
    }
  });

  it('--insecure probes it over TLS without verifying', async () => {
    const { code, stdout } = await runCli(['run', url, '--insecure', '--json', '-s', 'http11-reuse', '-s', 'idle-timeout']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      target: { tls: boolean };
      scenarios: { metrics: Record<string, unknown>; connections: { events: { kind: string }[] }[] }[];
    };
    expect(report.target.tls).toBe(true);
    expect(report.scenarios[0]?.metrics.reused).toBe(true);
    expect(report.scenarios[0]?.connections[0]?.events.map((e) => e.kind)).toContain('tls');
    expect(report.scenarios[1]?.metrics.idleTimeoutMs).toBeGreaterThanOrEqual(1800 - PROBE_LAG_MS);
  });
});

describe('--resolve', () => {
  it("sends the URL's host in the Host header to the address given; an entry matching no target is a usage error", async () => {
    const heads: string[] = [];
    const url = await rawServer((socket) => {
      socket.on('data', (chunk: Buffer) => heads.push(chunk.toString('latin1')));
      answerEachRequest(socket, () => Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    });
    const port = new URL(url).port;
    const { code } = await runCli(['run', `http://backend.test:${port}/`, '--resolve', `backend.test:${port}:127.0.0.1`, '-q', '-s', 'http11-reuse']);
    expect(code).toBe(0);
    expect(heads.join('')).toMatch(new RegExp(`^GET / HTTP/1\\.1\r\nHost: backend\\.test:${port}\r\n`, 'm'));

    const typo = await runCli(['run', `http://backend.test:${port}/`, '--resolve', `backend.tset:${port}:127.0.0.1`]);
    expect(typo.code).toBe(2);
    expectOneErrorLine(typo.stderr, /--resolve backend\.tset:\d+:127\.0\.0\.1 matches no target \(backend\.test:\d+\)/);
  });
});

describe('serve and list', () => {
  it('serve --port 0 prints its URL, serves the configured profile, and stops on SIGTERM', async () => {
    const server = await startServerProcess(process.execPath, [
      BIN,
      'serve',
      '--port',
      '0',
      '--idle-timeout',
      '800ms',
      '--max-requests',
      '3',
      '--close',
      'rst',
    ]);
    cleanups.push(() => server.stop());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { code, stdout } = await runCli(['run', server.url, '--json', '-s', 'idle-timeout', '-s', 'request-cap']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { scenarios: { metrics: Record<string, unknown> }[] };
    expect(report.scenarios[0]?.metrics.closeKind).toBe('rst');
    expect(report.scenarios[0]?.metrics.idleTimeoutMs).toBeGreaterThanOrEqual(800 - PROBE_LAG_MS);
    expect(report.scenarios[1]?.metrics.maxRequests).toBe(3);
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (c) => resolve(c)));
    server.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('list shows one line per built-in scenario', async () => {
    const { code, stdout } = await runCli(['list']);
    expect(code).toBe(0);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(BUILTIN_ORDER);
  });

  it('--help exits 0', async () => {
    const { code, stdout } = await runCli(['run', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--max-idle <duration>');
  });

  it('help and --version read the same on a pipe, in a file and on a character device, and a pipe closed early is no error', async () => {
    // Off a terminal they are one write to fd 1 (cli/io.ts), on a character device commander's stream.
    const { spawnSync } = await import('node:child_process');
    const dir = mkdtempSync(path.join(tmpdir(), 'kap-help-'));
    try {
      for (const args of [['--version'], ['--help'], ['run', '--help'], ['serve', '--help']]) {
        const piped = await runCli(args);
        expect(piped.code).toBe(0);
        const file = path.join(dir, 'out.txt');
        const quoted = args.map((a) => `'${a}'`).join(' ');
        const toFile = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ${quoted} > "${file}"`], { encoding: 'utf8' });
        expect(toFile.status).toBe(0);
        expect(readFileSync(file, 'utf8')).toBe(piped.stdout);
        const toDevice = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ${quoted} > /dev/null`], { encoding: 'utf8' });
        expect([toDevice.status, toDevice.stderr]).toEqual([0, '']);
        // `| true` may exit before the help is written: the writer then meets EPIPE, silently.
        const closed = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" ${quoted} | true; echo "$?"`], { encoding: 'utf8' });
        expect([closed.stdout, closed.stderr]).toEqual(['0\n', '']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('explain', () => {
  it('explains an error text pasted from a client log', async () => {
    const { code, stdout } = await runCli(['explain', 'Error: socket hang up']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^socket hang up — seen in Node http\.Agent/);
    expect(stdout).toContain('scenario: timeout-mismatch');
    const alb = await runCli(['explain', '502', 'Bad', 'Gateway']);
    expect(alb.stdout).toContain('--behind aws-alb');
  });

  it('an unknown text lists the known ones (exit 2)', async () => {
    const { code, stderr } = await runCli(['explain', 'EWHATEVER']);
    expect(code).toBe(2);
    expect(stderr).toContain('known errors are ECONNRESET, EPIPE, socket hang up');
  });
});

describe('options as a user types them', () => {
  it('--help shows every default as it would be typed, and no empty list for repeatable options', async () => {
    const { stdout } = await runCli(['run', '--help']);
    const help = stdout.replace(/\s+/g, ' ');
    expect(help).toContain('(default: 90s, env: KEEPALIVE_PROBE_MAX_IDLE)');
    expect(help).toContain('(default: 10s, env: KEEPALIVE_PROBE_RESPONSE_TIMEOUT)');
    expect(help).toContain('default: GET');
    expect(help).not.toContain('(default: [])');
  });

  it('durations in compound and any-case forms, and the reports own spelling', async () => {
    const server = await lab({ idleTimeoutMs: 400 });
    for (const maxIdle of ['1m30s', '90S', '1 min 30 s']) {
      const { code, stdout } = await runCli(['run', server.url, '-s', 'http11-reuse', '--max-idle', maxIdle, '--json']);
      expect(code).toBe(0);
      expect((JSON.parse(stdout) as RunResult).options.maxIdleMs).toBe(90_000);
    }
  });

  it.each([
    [['run', '-s', 'idle-timout'], /unknown scenario "idle-timout" \(did you mean idle-timeout\?\)/],
    [['run', '--client', 'okhtp'], /unknown client "okhtp" \(did you mean okhttp\?\)/],
    [['run', '--behind', 'aws-lab'], /unknown --behind "aws-lab" \(did you mean aws-alb\?\)/],
    [['run', '--expect', 'idle-timout>=1s'], /unknown metric "idle-timout" \(did you mean idle-timeout\?\)/],
    [['run', '--max-idel', '5s'], /unknown option '--max-idel' \(did you mean --max-idle\?\)/],
    [['run', '--max-idle', '90000'], /invalid duration "90000": give a unit \(90000s or 90000ms\?\)/],
  ])('%j: one error line, in the one format, with a suggestion; exit 2', async (args, pattern) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(2);
    expectOneErrorLine(stderr, pattern);
  });

  it('KEEPALIVE_PROBE_<OPTION> gives a default; the command line wins', async () => {
    const server = await lab({ idleTimeoutMs: 400 });
    const env = { KEEPALIVE_PROBE_MAX_IDLE: '7s', KEEPALIVE_PROBE_RESPONSE_TIMEOUT: '3s' };
    const fromEnv = await runCli(['run', server.url, '-s', 'http11-reuse', '--json'], { env });
    expect((JSON.parse(fromEnv.stdout) as RunResult).options).toMatchObject({ maxIdleMs: 7000, firstByteTimeoutMs: 3000 });
    const flagWins = await runCli(['run', server.url, '-s', 'http11-reuse', '--json', '--max-idle', '8s'], { env });
    expect((JSON.parse(flagWins.stdout) as RunResult).options.maxIdleMs).toBe(8000);
  });

  it('FORCE_COLOR colours a report that is not on a terminal; FORCE_COLOR=0 and --color never win', async () => {
    const forced = await runCli(['run', '-s', 'http11-reuse'], { env: { FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(ANSI);
    const off = await runCli(['run', '-s', 'http11-reuse', '--color', 'never'], { env: { FORCE_COLOR: '1' } });
    expect(off.stdout).not.toMatch(ANSI);
    const zero = await runCli(['run', '-s', 'http11-reuse'], { env: { FORCE_COLOR: '0' } });
    expect(zero.stdout).not.toMatch(ANSI);
  });

  it('https:// to a plain HTTP port: "use http://" (the TLS error without OpenSSL noise)', async () => {
    const server = await lab({});
    const { code, stderr } = await runCli(['run', server.url.replace('http:', 'https:'), '--connect-timeout', '3s']);
    expect(code).toBe(3);
    expectOneErrorLine(
      stderr,
      /TLS handshake failed .*: wrong version number \(OpenSSL ssl3_get_record\) \[tls-failed\]; the server answered in plain text, not TLS \(a plain HTTP port\?\): use http:\/\//,
    );
    expect(stderr).not.toContain('../deps/openssl');
  });
});

describe('progress', () => {
  it('goes to stderr on a TTY only (run under script(1), which gives the CLI a terminal)', async (ctx) => {
    const { spawnSync } = await import('node:child_process');
    if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return ctx.skip('script(1) is not installed (util-linux)');
    const server = await lab({ idleTimeoutMs: 300 });
    const command = `${process.execPath} ${BIN} run ${server.url} -s idle-timeout --color never >/dev/null`;
    // Asynchronously: the lab server lives in this process and must keep answering.
    const { promisify } = await import('node:util');
    const { execFile } = await import('node:child_process');
    const tty = await promisify(execFile)('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 20_000 });
    expect(tty.stdout).toMatch(/Probing http:\/\/127\.0\.0\.1:\d+\/ with 1 scenario; idle waits are bounded by 1 min 30 s/);
    expect(tty.stdout).toMatch(/idle-timeout: pass after \d+ ms/);
  });
});
