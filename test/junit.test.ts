import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { useLab } from './support/lab.js';
import { runCli } from './support/cli.js';

/** --junit, read back with a real XML parser, as a CI test-report plugin would. */
const lab = useLab();
const dir = mkdtempSync(path.join(tmpdir(), 'kap-junit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TestCase {
  '@_name': string;
  '@_classname': string;
  '@_time': string;
  failure?: { '@_type': string; '@_message': string; '#text': string };
  error?: { '@_type': string; '@_message': string };
  'system-out'?: string;
}

function parse(xml: string): { suite: Record<string, string>; cases: TestCase[] } {
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase' }).parse(xml) as {
    testsuites: { testsuite: Record<string, string> & { testcase: TestCase[] } };
  };
  const { testcase, ...suite } = doc.testsuites.testsuite;
  return { suite, cases: testcase };
}

describe('--junit', () => {
  it('one test case per scenario; a failed expectation is a <failure>; terminal report still printed', async () => {
    const { url } = await lab({ idleTimeoutMs: 400 });
    const file = path.join(dir, 'junit.xml');
    const { code, stdout } = await runCli(['run', url, '--junit', file, '--expect', 'idle-timeout>=60s', '--color', 'never']);
    expect(code).toBe(1);
    expect(stdout).toContain('keepalive-probe'); // the terminal report
    const { suite, cases } = parse(readFileSync(file, 'utf8'));
    expect(suite['@_tests']).toBe('8');
    expect(suite['@_failures']).toBe('1');
    expect(suite['@_errors']).toBe('0');
    expect(cases.map((c) => c['@_classname'])).toEqual([
      'keepalive-probe.http11-reuse',
      'keepalive-probe.http10-keepalive',
      'keepalive-probe.connection-close',
      'keepalive-probe.idle-timeout',
      'keepalive-probe.request-cap',
      'keepalive-probe.timeout-mismatch',
      'keepalive-probe.stale-race',
      'keepalive-probe.short-connections',
    ]);
    const idle = cases.find((c) => c['@_classname'] === 'keepalive-probe.idle-timeout');
    expect(idle?.failure?.['@_message']).toBe('idle-timeout>=60s');
    expect(idle?.failure?.['#text']).toMatch(/expected idle-timeout>=60s, measured \d{3}/);
    expect(cases.filter((c) => c.failure !== undefined)).toHaveLength(1);
  });

  it('a scenario that could not run is an <error>, and hostile header text stays valid XML', async () => {
    // Answers the first connection (the preflight) with a Server header full of markup and
    // control bytes, then accepts connections and never answers: every scenario errors.
    const hostile = '</testcase><script>alert(1)</script>\u0001\u001b[31m"\'&';
    let accepted = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      accepted += 1;
      if (accepted > 1) return;
      socket.once('data', () => socket.end(Buffer.from(`HTTP/1.1 200 OK\r\nServer: ${hostile}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`, 'latin1')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
      const { code, stdout } = await runCli(['run', url, '--junit', '-', '-s', 'http11-reuse', '-s', 'idle-timeout', '--response-timeout', '500ms']);
      expect(code).toBe(3);
      const { suite, cases } = parse(stdout);
      expect(suite['@_errors']).toBe('2');
      expect(cases.map((c) => c.error?.['@_type'])).toEqual(['no-response', 'no-response']);
      expect(suite['@_name']).toContain(url);
      expect(stdout).not.toContain('<script>');
      expect(stdout).toContain('&lt;/testcase&gt;&lt;script&gt;');
    } finally {
      server.close();
    }
  });

  it('a path that cannot be written fails at once, before probing (exit 2)', async () => {
    const started = performance.now();
    const { code, stderr } = await runCli(['run', '--junit', path.join(dir, 'missing', 'junit.xml')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/cannot write --junit .*missing\/junit\.xml: ENOENT/);
    expect(performance.now() - started).toBeLessThan(2000 + 3000); // no 2 s idle wait of the lab demo, only start-up
  });

  it('--json to a file with --junit to stdout', async () => {
    const { url } = await lab({});
    const file = path.join(dir, 'out.json');
    const { code, stdout } = await runCli(['run', url, '-s', 'http11-reuse', '--json', file, '--junit', '-']);
    expect(code).toBe(0);
    expect(parse(stdout).cases).toHaveLength(1);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { schemaVersion: number }).schemaVersion).toBe(1);
  });
});
