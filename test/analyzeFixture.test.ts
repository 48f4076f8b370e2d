import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import type { RunResult } from '../src/model/result.js';
import { runCli } from './support/cli.js';
import { metric, scenario } from './support/probe.js';
import { expectValid } from './support/reportSchema.js';

/**
 * `analyze` on the committed capture (test/fixtures/analyze/README.md says how it was made):
 * fixed timestamps, so the figures are exact; runs where capturing is not permitted too, as
 * long as tshark is installed.
 */

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/analyze/lab-idle-cap-stale.pcapng');

function needTshark(ctx: TestContext): void {
  if (spawnSync('sh', ['-c', 'command -v tshark']).status !== 0) {
    console.warn('*** SKIPPING analyze on the fixture: tshark is not installed (apt-get install tshark) ***');
    ctx.skip('tshark is not installed');
  }
}

async function analyze(args: readonly string[] = []): Promise<RunResult> {
  const { code, stdout, stderr } = await runCli(['analyze', FIXTURE, '--json', '-q', ...args], { timeoutMs: 60_000 });
  expect(stderr).toBe('');
  // The fixture has a stale request: a warning, not a failure.
  expect(code).toBe(0);
  const report: unknown = JSON.parse(stdout);
  expectValid(expect, report);
  return report;
}

describe('analyze on the committed fixture', () => {
  it('idle timeout 500 ms (FIN), cap 3 announced, one stale request answered by RST', async (ctx) => {
    needTshark(ctx);
    const report = await analyze();
    expect(report.evidence.capture).toMatchObject({ packets: 47, connections: 4, httpConnections: 4, tlsHidden: 0, filter: null });
    expect(report.target).toMatchObject({ url: 'lab-idle-cap-stale.pcapng', host: '127.0.0.1', port: 18081, server: 'keepalive-probe-lab/0.1.0' });
    expect(metric(report, 'idle-timeout', 'idleTimeoutMs')).toBe(500);
    expect(metric(report, 'idle-timeout', 'closeKind')).toBe('fin');
    expect(metric(report, 'idle-timeout', 'advertisedKeepAlive')).toBe('timeout=0, max=2');
    expect(metric(report, 'request-cap', 'maxRequests')).toBe(3);
    expect(metric(report, 'request-cap', 'signalled')).toBe(true);
    expect(metric(report, 'stale-race', 'staleRequests')).toBe(1);
    expect(metric(report, 'stale-race', 'staleAnsweredByRst')).toBe(1);
    expect(scenario(report, 'stale-race').status).toBe('warn');
    // The FIN came before the request: a reading client gets end of stream, as run's own socket does (staleOutcome).
    expect(metric(report, 'timeout-mismatch', 'outcome')).toBe('premature-close');
    expect(metric(report, 'timeout-mismatch', 'serverClose')).toBe('full');
    expect(metric(report, 'timeout-mismatch', 'clientIdleMs')).toBe(900);
    expect(metric(report, 'http11-reuse', 'requests')).toBe(8);
    // curl closes first on both its connections (the cap's "Connection: close" included); the raw client after the RST.
    expect(metric(report, 'short-connections', 'clientClosesConnections')).toBe(3);
    expect(report.evidence.capture?.peers).toEqual([
      expect.objectContaining({ client: '127.0.0.1', server: '127.0.0.1:18081', connections: 4, serverIdleCloses: 1, idleCloseMinMs: 500, staleRequests: 1 }),
    ]);
  });

  it('--stream 1 is the stale connection alone, its timeline as the live probe records it', async (ctx) => {
    needTshark(ctx);
    const report = await analyze(['--stream', '1']);
    const conn = scenario(report, 'timeout-mismatch').connections[0];
    expect(conn?.id).toBe('stream-1');
    expect(conn?.events.map((e) => e.kind)).toEqual(['connect', 'request', 'response-head', 'response-complete', 'peer-fin', 'request', 'error', 'closed']);
    expect(conn?.end).toMatchObject({ kind: 'server-idle-close', closedBy: 'server', signal: 'fin', idleMs: 500 });
    expect(conn?.timeWait.side).toBe('none');
  });

  it('--client okhttp: the client verdict reads the capture through the registry like a run', async (ctx) => {
    needTshark(ctx);
    const report = await analyze(['--client', 'okhttp']);
    expect(report.clients[0]).toMatchObject({ client: 'okhttp', yours: true });
    expect(report.clients[0]?.fix).not.toBeNull();
  });
});
