import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/model/result.js';
import { runCli } from './support/cli.js';
import { HOSTILE_SERVERS } from './support/hostileServers.js';
import type { HostileServer } from './support/hostileServers.js';
import { expectValid } from './support/reportSchema.js';
import { onRequestHeads } from './support/rawServer.js';

/**
 * Every hostile or broken server of the catalogue (test/support/hostileServers.ts, documented
 * in docs/hostile-peers.md) against the built CLI with all four report formats: the exit code
 * and classification as documented, a JSON report that validates, a JUnit report that parses
 * with one test case per scenario, and no raw control character in any of the four.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'kap-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deadlines short enough that a server that never answers costs under a second. */
const BOUNDS = ['--connect-timeout', '1s', '--response-timeout', '600ms', '--headers-timeout', '800ms', '--body-timeout', '800ms', '--max-idle', '1s'];
// C0 controls but tab and newline, DEL, C1, bidi overrides: never raw in a report.
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Starts `server` on a free loopback port; returns its URL and a stop function. */
async function serve(server: HostileServer): Promise<{ url: string; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ allowHalfOpen: false }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    server.onConnect?.(socket);
    onRequestHeads(socket, (n) => server.onRequest?.(socket, n));
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(tcp.address() as net.AddressInfo).port}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => resolve());
      }),
  };
}

/** The documented classification of a report: the error code, or what http11-reuse made of the connection. */
function classify(r: RunResult): string {
  if (r.error !== null) return `error:${r.error.code}`;
  const s = r.scenarios[0];
  if (s === undefined) return 'no scenario';
  if (s.error !== null) return `scenario-error:${s.error.code}`;
  return `reused=${s.metrics.reused === true ? 'yes' : 'no'} end=${s.connections[0]?.end.kind ?? 'none'}`;
}

describe('the catalogue', () => {
  it('has at least 60 behaviours, each once', () => {
    expect(HOSTILE_SERVERS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(HOSTILE_SERVERS.map((s) => s.id)).size).toBe(HOSTILE_SERVERS.length);
  });

  it('docs/hostile-peers.md lists exactly these, with their classification and exit code', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../docs/hostile-peers.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| [^|]+ \| ([^|]+) \| (\d) \|$/gm)].map((m) => [
      m[1],
      [...(m[2] ?? '').matchAll(/`([^`]+)`/g)].map((c) => c[1]),
      Number(m[3]),
    ]);
    expect(rows).toEqual(HOSTILE_SERVERS.map((s) => [s.id, s.classification, s.exit]));
  });
});

describe.concurrent('hostile and broken servers, all four report formats', () => {
  it.each(HOSTILE_SERVERS.map((s) => [s.id, s]))('%s', async (id, server) => {
    const { url, stop } = await serve(server);
    try {
      const files = { json: path.join(dir, `${id}.json`), junit: path.join(dir, `${id}.xml`), html: path.join(dir, `${id}.html`) };
      const run = await runCli(
        ['run', url, '-s', 'http11-reuse', ...BOUNDS, '--color', 'never', '--json', files.json, '--junit', files.junit, '--html', files.html],
        {
          timeoutMs: 20_000,
        },
      );
      const report = JSON.parse(readFileSync(files.json, 'utf8')) as unknown;
      expectValid(expect, report);
      expect(run.code).toBe(server.exit);
      expect(server.classification).toContain(classify(report));
      const junit = readFileSync(files.junit, 'utf8');
      const parsed = new XMLParser({ ignoreAttributes: false }).parse(junit) as { testsuites: { '@_tests': string } };
      expect(Number(parsed.testsuites['@_tests'])).toBe(report.scenarios.length + (report.error === null ? 0 : 1));
      const outputs = { terminal: `${run.stdout}${run.stderr}`, json: readFileSync(files.json, 'utf8'), junit, html: readFileSync(files.html, 'utf8') };
      for (const [format, text] of Object.entries(outputs)) expect(RAW_CONTROL.test(text), `${format} holds a raw control character`).toBe(false);
      // One error line on stderr when it cannot be probed, never a stack trace.
      if (server.exit === 3) expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await stop();
    }
  });
});
