import { BUILTIN_ORDER } from '../src/catalog/builtinScenarios.js';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/model/result.js';
import { interruptCli, runCli } from './support/cli.js';
import { useLab } from './support/lab.js';
import { useRawServer } from './support/rawServer.js';

/** Several reports in one run, opened before probing, and written on Ctrl-C with what was measured. */
const dir = mkdtempSync(path.join(tmpdir(), 'kap-outputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lab = useLab();
const rawServer = useRawServer();

describe('reports', () => {
  it('--json, --junit and --html files in one run, the terminal report on stdout', async () => {
    const server = await lab({ idleTimeoutMs: 300 });
    const [json, junit, html] = ['r.json', 'r.xml', 'r.html'].map((f) => path.join(dir, f)) as [string, string, string];
    const run = await runCli(['run', server.url, '-s', 'http11-reuse', '-s', 'idle-timeout', '--json', json, '--junit', junit, '--html', html]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/2 scenarios in .* \(exit code 0\)\n$/);
    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    expect(result.scenarios.map((s) => s.id)).toEqual(['http11-reuse', 'idle-timeout']);
    expect(result.interrupted).toBe(false);
    const suites = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(junit, 'utf8')) as { testsuites: { testsuite: { '@_tests': string } } };
    expect(suites.testsuites.testsuite['@_tests']).toBe('2');
    expect(readFileSync(html, 'utf8')).toMatch(/^<!DOCTYPE html>[\s\S]*data-scenario="idle-timeout"[\s\S]*<\/html>\n$/);
  });

  it('a report to a device is written in place: /dev/null stays a device (as root, renaming a temporary file onto it replaced it)', async () => {
    const server = await lab({ idleTimeoutMs: 300 });
    const run = await runCli(['run', server.url, '-s', 'http11-reuse', '--json', '/dev/null', '--html', '/dev/null', '--junit', '/dev/null', '-q']);
    expect(run.code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(readdirSync('/dev').filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a target that cannot be probed: one error line, exit 3, and every report says why (a CI job reads them)', async () => {
    const [json, junit, html] = ['unprobed.json', 'unprobed.xml', 'unprobed.html'].map((f) => path.join(dir, f)) as [string, string, string];
    const url = await rawServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    const run = await runCli(['run', url, '--json', json, '--junit', junit, '--html', html]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^keepalive-probe: cannot probe http:\/\/127\.0\.0\.1:\d+\/: .*did not answer with HTTP\/1\.x.*\[not-http\]\n$/);

    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    expect(result.error).toMatchObject({ code: 'not-http' });
    expect(result.scenarios).toEqual([]);
    expect(result.clients).toEqual([]);
    const suites = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(junit, 'utf8')) as {
      testsuites: { '@_errors': string; testsuite: { testcase: { '@_name': string; error: { '@_type': string; '@_message': string } } } };
    };
    expect(suites.testsuites['@_errors']).toBe('1');
    expect(suites.testsuites.testsuite.testcase['@_name']).toBe('preflight: the target answers HTTP');
    expect(suites.testsuites.testsuite.testcase.error).toMatchObject({ '@_type': 'not-http', '@_message': result.error?.message });
    // The banner is server text: shown escaped, as everywhere.
    expect(readFileSync(html, 'utf8')).toMatch(/<p class="error-box">could not probe the target: .*SSH-2\.0-OpenSSH.* \[not-http\]<\/p>/);
  });

  it('a bad --html path is a usage error before anything is probed', async () => {
    const { code, stderr } = await runCli(['run', 'http://127.0.0.1:9/', '--html', path.join(dir, 'missing', 'r.html')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^keepalive-probe: cannot write --html .*missing\/r\.html: ENOENT\n$/);
  });

  it('only one report can take stdout', async () => {
    const { code, stderr } = await runCli(['run', '--json', '-', '--html', '-']);
    expect(code).toBe(2);
    expect(stderr).toContain('--json and --html cannot all write to stdout');
  });

  it('Ctrl-C writes every report with what was measured so far and exits 130', async () => {
    // A server that never closes idle connections: idle-timeout waits out --max-idle (60 s)
    // unless interrupted; http11-reuse finishes at once.
    const server = await lab({ idleTimeoutMs: 0 });
    const [json, junit, html] = ['i.json', 'i.xml', 'i.html'].map((f) => path.join(dir, f)) as [string, string, string];
    // Interrupt once both scenarios have their connections (the lab has accepted them: preflight + 2).
    const { code, stderr, tookMs } = await interruptCli(
      ['run', server.url, '-s', 'http11-reuse', '-s', 'idle-timeout', '--max-idle', '60s', '--json', json, '--junit', junit, '--html', html],
      () => server.accepted() >= 3,
    );
    expect(code).toBe(130);
    expect(tookMs).toBeLessThan(10_000); // not the 60 s idle wait
    expect(stderr).toContain('interrupted (SIGINT): writing the reports with what was measured so far');

    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    expect(result.interrupted).toBe(true);
    const [reuse, idle] = result.scenarios;
    expect(reuse?.status).toBe('pass');
    expect(idle?.status).toBe('error');
    expect(idle?.error?.code).toBe('interrupted');
    expect(idle?.findings).toEqual([]); // no "no close within --max-idle": it was never waited out
    const events = idle?.connections[0]?.events.map((e) => e.kind) ?? [];
    expect(events.slice(0, 4)).toEqual(['connect', 'request', 'response-head', 'response-complete']);
    expect(events).toContain('local-close');
    expect(readFileSync(junit, 'utf8')).toContain('<error');
    expect(existsSync(html) && readFileSync(html, 'utf8')).toContain('data-scenario="idle-timeout" data-status="error"');
  }, 30_000);

  it('Ctrl-C before the first response: a report listing every selected scenario as not started is still written, at once', async () => {
    let accepted = false;
    const url = await rawServer(() => {
      accepted = true; // never answers
    });
    const json = path.join(dir, 'early.json');
    const { code, tookMs } = await interruptCli(['run', url, '--json', json, '--response-timeout', '20s'], () => accepted);
    expect(code).toBe(130);
    expect(tookMs).toBeLessThan(10_000); // not the 20 s response deadline
    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    // Every scenario that was selected is still listed, as not started.
    expect(result).toMatchObject({ interrupted: true, interruptedBy: 'SIGINT' });
    expect(result.scenarios.length).toBe(BUILTIN_ORDER.length); // both protocols: the preflight never learnt which the target speaks
    expect(result.scenarios.every((s) => s.status === 'error' && s.error?.code === 'interrupted')).toBe(true);
  }, 30_000);

  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)(
    '%s (a CI runner cancelling the job) writes every report, every selected scenario listed, and exits %i',
    async (signal, exit) => {
      const server = await lab({ idleTimeoutMs: 0 });
      const [json, junit] = [`${signal}.json`, `${signal}.xml`].map((f) => path.join(dir, f)) as [string, string];
      // short-connections runs beside the others, 300 ms behind: stopped in its first wait.
      const { code, stderr } = await interruptCli(
        ['run', server.url, '-s', 'http11-reuse', '-s', 'idle-timeout', '-s', 'short-connections', '--max-idle', '60s', '--json', json, '--junit', junit],
        () => server.accepted() >= 3,
        signal,
      );
      expect(code).toBe(exit);
      expect(stderr).toContain(`interrupted (${signal})`);
      const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
      expect(result).toMatchObject({ interrupted: true, interruptedBy: signal });
      expect(result.scenarios.map((s) => [s.id, s.status])).toEqual([
        ['http11-reuse', 'pass'],
        ['idle-timeout', 'error'],
        ['short-connections', 'error'],
      ]);
      expect(result.scenarios[2]?.error?.message).toMatch(/^interrupted after /);
      expect(readFileSync(junit, 'utf8')).toMatch(/<testsuites name="keepalive-probe" tests="3"/);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    },
    30_000,
  );

  it('SIGKILL in the middle of a run leaves the previous report whole: reports are renamed into place, never truncated', async () => {
    const server = await lab({ idleTimeoutMs: 0 });
    const json = path.join(dir, 'killed.json');
    writeFileSync(json, '{"previous": true}\n');
    const { code, endedBy } = await interruptCli(
      ['run', server.url, '-s', 'idle-timeout', '--max-idle', '60s', '--json', json],
      () => server.accepted() >= 2,
      'SIGKILL',
    );
    expect([code, endedBy]).toEqual([null, 'SIGKILL']);
    expect(readFileSync(json, 'utf8')).toBe('{"previous": true}\n');
  }, 30_000);
});
