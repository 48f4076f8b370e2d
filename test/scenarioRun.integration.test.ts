import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { LabProfile } from '../src/lab/labServer.js';
import { parseScenario } from '../src/scenario/load.js';
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
