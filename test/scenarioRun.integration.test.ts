import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { LabProfile } from '../src/options/labProfiles.js';
import { UNCERTAIN_ERROR_MS } from '../src/model/metrics.js';
import type { ScenarioResult } from '../src/model/result.js';
import { parseScenario } from '../src/plan/loadScenario.js';
import { renderTerminal } from '../src/report/terminal.js';
import { useLab } from './support/lab.js';
import { metric, probe, scenario } from './support/probe.js';

/** The step language over real sockets: bounds, labels, custom scenarios. */
const startLab = useLab();
async function lab(overrides: Partial<LabProfile>): Promise<string> {
  return (await startLab(overrides)).url;
}

describe('running scenarios', () => {
  it('--scenario-timeout interrupts a long wait-close and reports scenario-timeout', async () => {
    const url = await lab({ idleTimeoutMs: 0 });
    const started = performance.now();
    const result = await probe(url, ['idle-timeout'], { maxIdleMs: 20_000, scenarioTimeoutMs: 700 });
    const s = scenario(result, 'idle-timeout');
    expect(s.status).toBe('error');
    expect(s.error?.code).toBe('scenario-timeout');
    // Bounded by the 700 ms scenario deadline plus cleanup, far below the 20 s --max-idle.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('if-open looks at the connection itself, not at an earlier connection with the same label', async () => {
    const url = await lab({});
    const custom = await parseScenario(
      [
        'id: relabel',
        'title: Re-open a label',
        'steps:',
        '  - open: a',
        '  - request: { on: a, connection: close }',
        '  - wait-close: { on: a, max: 1s }',
        '  - open: a',
        '  - request: { on: a, if-open: true }',
        '  - request: { on: a, if-open: true }',
        'metrics:',
        '  responses: { measure: responses, on: a }',
        '  connections: { measure: connections }',
        '',
      ].join('\n'),
      'relabel.yaml',
    );
    const result = await probe(url, ['http11-reuse'], {}, [custom]);
    expect(metric(result, 'relabel', 'connections')).toBe(2);
    expect(metric(result, 'relabel', 'responses')).toBe(2);
  });

  it('a connection closed by the probe after crossing FINs is not mistaken for a reset', async () => {
    const url = await lab({ http10: 'close' });
    const result = await probe(url, ['http10-keepalive']);
    const events = scenario(result, 'http10-keepalive').connections.flatMap((c) => c.events);
    expect(events.filter((e) => e.kind === 'error')).toEqual([]);
  });
});

describe('after a response that ends the connection', () => {
  it('the close step lets the server close first, so the report names the server (Go, Python HTTP/1.0 race)', async () => {
    // Answers every request with Connection: close and sends its FIN 50 ms later.
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        setTimeout(() => socket.end(), 50);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const result = await probe(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, ['http11-reuse']);
      const end = scenario(result, 'http11-reuse').connections[0]?.end;
      expect(end?.kind).toBe('server-close-after-response');
      expect(end?.closedBy).toBe('server');
      expect(metric(result, 'http11-reuse', 'reused')).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe('timeout-mismatch: a late request, then a write again, on a connection the server has closed', () => {
  const run = async (close: 'fin' | 'half' | 'drop'): Promise<ScenarioResult> => {
    return scenario(await probe(await lab({ idleTimeoutMs: 300, close }), ['timeout-mismatch'], { maxIdleMs: 1500 }), 'timeout-mismatch');
  };
  const written = (s: ScenarioResult): string[] =>
    (s.connections[0]?.events ?? [])
      .filter((e) => e.kind === 'request' || e.kind === 'error')
      .map((e) => (e.kind === 'error' ? `${e.code}/${e.syscall}` : 'request'));

  it('full close: the late request is answered with an RST (ECONNRESET), writing again gives EPIPE', async () => {
    const s = await run('fin');
    expect(s.metrics).toMatchObject({ outcome: 'premature-close', writeAgainOutcome: 'EPIPE', serverClose: 'full' });
    expect(written(s)).toEqual(['request', 'request', 'ECONNRESET/read', 'request', 'EPIPE/write']);
    expect(s.connections[0]?.events.some((e) => e.kind === 'local-close')).toBe(false); // the kernel socket was gone: no FIN of ours
  });

  it('half close: the late request is swallowed (no RST), and so is the next', async () => {
    const s = await run('half');
    expect(s.metrics).toMatchObject({ outcome: 'premature-close', writeAgainOutcome: 'premature-close', serverClose: 'half' });
    expect(written(s)).toEqual(['request', 'request', 'request']);
  });

  it('silent drop: no FIN while idle, the late request gets an RST', async () => {
    const s = await run('drop');
    expect(s.metrics).toMatchObject({ outcome: 'ECONNRESET', writeAgainOutcome: 'not-sent', serverClose: 'silent-drop', serverIdleTimeoutMs: null });
    expect(s.connections[0]?.events.some((e) => e.kind === 'peer-fin')).toBe(false);
  });
});

describe("the probe's own timing error", () => {
  it('a run whose event loop is held up says by how much (JSON) and warns on the terminal', async () => {
    const url = await lab({ idleTimeoutMs: 600 });
    const BLOCK_MS = 150;
    // The test shares the probe's event loop: hold it up once, during the idle wait (after the
    // samples' responses at 0-200 ms, before their closes from 600 ms).
    const hold = setTimeout(() => {
      for (const until = performance.now() + BLOCK_MS; performance.now() < until; );
    }, 400);
    const result = await probe(url, ['idle-timeout'], { maxIdleMs: 3000 });
    clearTimeout(hold);
    // The monitor's timer runs every 10 ms: the hold-up shows, less at most two of its periods.
    expect(result.loopDelayMaxMs).toBeGreaterThanOrEqual(BLOCK_MS - 20);
    // Not when it stamped a response or a close, as a rule: the figures are certain, and the line says so; a busy
    // machine that made one uncertain besides gets the line that names them.
    const uncertain = result.scenarios.some((s) => Object.values(s.errorMs).some((e) => e > UNCERTAIN_ERROR_MS));
    expect(renderTerminal(result, { color: false })).toMatch(
      uncertain
        ? /! \d+ timing figures? (is|are) uncertain \(±, up to .*\): the probe was held up on a busy machine; rerun, or use --capture\./
        : /! The probe was held up to 1\d\d ms \(busy machine\), but no timing figure above is off by more than 2 ms\./,
    );
  });
});
