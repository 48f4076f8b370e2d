import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runProbe } from '../src/measures/runProbe.js';
import { loadBuiltinScenarios } from '../src/plan/loadBuiltins.js';
import { parseTarget } from '../src/plan/target.js';
import { renderHtml } from '../src/report/html.js';
import { renderJson } from '../src/report/json.js';
import { renderJunit } from '../src/report/junit.js';
import { renderTerminal } from '../src/report/terminal.js';
import { judge } from '../src/verdict/judge.js';

/**
 * Seeded fuzz of server replies: random bytes, valid responses mutated or prefixed, every
 * reply split at random points and ended with a FIN, an RST, a half-close or silence. Each
 * reply answers every request of a probe run (the preflight and http11-reuse), at least 1000
 * connections in all; every run must end within its deadlines with a report every renderer
 * can draw. FUZZ_SEED=<n> replays a run; a failure prints the seed and the case.
 */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MIN_CONNECTIONS = 1000;
const CONCURRENCY = 16;
/** The run's own bounds. */
const BOUNDS = { connectTimeoutMs: 1000, firstByteTimeoutMs: 150, headersTimeoutMs: 200, bodyTimeoutMs: 200, maxIdleMs: 300, scenarioTimeoutMs: 2000 };
/**
 * The most a run may take: the preflight (connect, the request's deadlines, and its close:
 * up to 1 s for the server's FIN after a response that ended persistence, then 2 s for the
 * FIN answering the probe's, wire/connection.ts), the scenario's deadline, the cleanup
 * close's 2 s and the 0.5 s TIME_WAIT poll, plus 1.5 s for a busy machine.
 */
const RUN_LIMIT_MS = BOUNDS.connectTimeoutMs + BOUNDS.headersTimeoutMs + BOUNDS.bodyTimeoutMs + 3000 + BOUNDS.scenarioTimeoutMs + 2000 + 500 + 1500;

type Ending = 'fin' | 'rst' | 'half' | 'hold';
interface Reply {
  readonly bytes: Uint8Array;
  readonly cuts: readonly number[];
  readonly ending: Ending;
}

const validResponse = fc
  .record({
    status: fc.constantFrom(100, 101, 103, 200, 204, 304, 404, 500, 599),
    version: fc.constantFrom('1.0', '1.1'),
    framing: fc.constantFrom('length', 'chunked', 'none', 'close-header'),
    body: fc.string({ maxLength: 40 }),
    extra: fc.array(fc.constantFrom('Keep-Alive: timeout=5', 'Connection: keep-alive', 'X-A: b', 'Server: fuzz', 'Keep-Alive: max=0'), { maxLength: 3 }),
  })
  .map(({ status, version, framing, body, extra }) => {
    const head = [`HTTP/${version} ${status} X`, ...extra];
    if (framing === 'length') head.push(`Content-Length: ${Buffer.byteLength(body)}`);
    if (framing === 'chunked') head.push('Transfer-Encoding: chunked');
    if (framing === 'close-header') head.push('Connection: close', `Content-Length: ${Buffer.byteLength(body)}`);
    const payload = framing === 'chunked' ? `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
    return new Uint8Array(Buffer.from(`${head.join('\r\n')}\r\n\r\n${payload}`, 'latin1'));
  });

const mutated = fc
  .tuple(validResponse, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { maxLength: 4 }))
  .map(([bytes, edits]) => {
    const out = [...bytes];
    for (const [at, value, op] of edits) {
      const i = out.length === 0 ? 0 : at % out.length;
      if (op === 'set') out[i] = value;
      else if (op === 'insert') out.splice(i, 0, value);
      else out.splice(i, 1);
    }
    return new Uint8Array(out);
  });

const replyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  validResponse,
  mutated,
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), validResponse).map(([prefix, body]) => new Uint8Array([...prefix, ...body])),
);

const reply: fc.Arbitrary<Reply> = fc.record({
  bytes: replyBytes,
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  ending: fc.constantFrom<Ending>('fin', 'rst', 'half', 'hold'),
});

/** Serves `r` to every request head; returns the URL, a count of accepted connections and a stop function. */
async function serve(r: Reply): Promise<{ url: string; accepted: () => number; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', async (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        const cuts = [...new Set(r.cuts.map((c) => (r.bytes.length === 0 ? 0 : c % r.bytes.length)))].sort((a, b) => a - b);
        let from = 0;
        for (const cut of [...cuts, r.bytes.length]) {
          if (socket.destroyed) return;
          socket.write(r.bytes.subarray(from, cut));
          from = cut;
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        if (socket.destroyed) return;
        if (r.ending === 'fin') socket.destroySoon();
        else if (r.ending === 'rst') socket.resetAndDestroy();
        else if (r.ending === 'half') socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    accepted: () => accepted,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('fuzzed server replies', () => {
  it(`at least ${MIN_CONNECTIONS} connections: every run ends in time with a report every format renders (seed ${SEED})`, async () => {
    const scenarios = (await loadBuiltinScenarios()).filter((s) => s.id === 'http11-reuse');
    const cases = fc.sample(reply, { seed: SEED, numRuns: 1500 });
    let connections = 0;
    let next = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (connections < MIN_CONNECTIONS && next < cases.length && failures.length === 0) {
        const index = next++;
        const r = cases[index] as Reply;
        const server = await serve(r);
        const started = performance.now();
        try {
          const measured = await runProbe(scenarios, {
            target: parseTarget(server.url),
            insecure: false,
            ca: null,
            ...BOUNDS,
            maxRequests: 5,
            method: 'GET',
            headers: [],
            userAgent: 'keepalive-probe-fuzz',
            lab: null,
          });
          const result = judge([measured], { scenarios, gates: [], hops: [], client: null, host: { ephemeralPorts: null } }).result;
          for (const render of [renderJson, renderJunit, renderHtml, (x: typeof result) => renderTerminal(x, { color: true })]) render(result);
          const took = performance.now() - started;
          if (took > RUN_LIMIT_MS) failures.push(`case ${index} took ${Math.round(took)} ms (limit ${RUN_LIMIT_MS})`);
          const outcomes = result.scenarios.flatMap((s) => s.connections.map((c) => c.end.kind));
          if (outcomes.includes('open')) failures.push(`case ${index}: a connection was left classified open`);
        } catch (err) {
          failures.push(`case ${index} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        } finally {
          connections += server.accepted();
          await server.stop();
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (failures.length > 0) {
      const replay = failures.map((f) => {
        const index = Number(/case (\d+)/.exec(f)?.[1]);
        const r = cases[index];
        return `${f}\n  reply: ${JSON.stringify(Buffer.from(r?.bytes ?? []).toString('latin1'))} cuts ${JSON.stringify(r?.cuts)} ending ${r?.ending}`;
      });
      expect.fail(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} npx vitest run test/fuzz.test.ts)\n${replay.join('\n')}`);
    }
    expect(connections).toBeGreaterThanOrEqual(MIN_CONNECTIONS);
  }, 240_000);
});
