import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNCERTAIN_ERROR_MS } from '../src/model/metrics.js';
import { classifyClose } from '../src/timeline/classifyClose.js';
import { startClock } from '../src/wire/clock.js';
import type { RunClock } from '../src/wire/clock.js';
import { Timekeeper } from '../src/wire/timekeeper.js';
import { openLoopback } from './support/probe.js';

/**
 * Each received event carries how late the probe may have stamped it (`late`, wire/clock.ts),
 * and an idle time the larger of its two ends' (`idleErrorMs`). Checked against a server in a
 * process of its own, so that blocking this event loop does not delay it: the server answers
 * one request per connection, closes the connection IDLE_MS later, and says how long after its
 * response it really closed (its own timer runs late on a busy machine too). The probe's idle
 * time, stamped on a loop held up by a synchronous busy wait while the response or the FIN
 * arrives, is that far off; its bound covers the difference, and says it is uncertain.
 */

const IDLE_MS = 300;
/** How long the probe's event loop is held up. */
const BLOCK_MS = 60;
/** A loopback segment from the server's send to the probe's socket. */
const TRANSIT_MS = 2;

const serverSource = `
  const net = require('node:net');
  const server = net.createServer((socket) => {
    socket.once('data', (request) => {
      // GET /tail: a few bytes go out right before the FIN, in the same segment.
      const tail = request.toString('latin1').startsWith('GET /tail ') ? 'tail' : undefined;
      // The response leaves between the write call and its callback, the FIN between the end
      // call and its callback: the idle time on the wire lies between lo and hi, however late
      // this process is scheduled.
      const writing = process.hrtime.bigint();
      socket.write('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok', () => {
        const answered = process.hrtime.bigint();
        setTimeout(() => {
          const ending = process.hrtime.bigint();
          const port = socket.remotePort;
          let reported = false;
          const report = () => {
            if (reported) return;
            reported = true;
            const ms = (from, to) => Number(to - from) / 1e6;
            console.log(JSON.stringify({ port, lo: ms(answered, ending), hi: ms(writing, process.hrtime.bigint()) }));
          };
          // 'finish' once the FIN has left; 'close' if the socket failed first (still after the FIN).
          socket.end(tail, report);
          socket.once('close', report);
        }, ${IDLE_MS});
      });
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ listening: server.address().port })));
`;

let server: ChildProcess;
let port: number;
/** The idle time on the wire as the server brackets it (its send calls and their callbacks), ms. */
interface ServerIdle {
  readonly lo: number;
  readonly hi: number;
}

/** Per client port, who waits for the server's report. */
const serverIdle = new Map<number, (idle: ServerIdle) => void>();

beforeAll(async () => {
  server = spawn(process.execPath, ['-e', serverSource], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
  port = await new Promise<number>((resolve) => {
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { listening?: number; port?: number; lo?: number; hi?: number };
      if (msg.listening !== undefined) resolve(msg.listening);
      if (msg.port !== undefined && msg.lo !== undefined && msg.hi !== undefined) serverIdle.get(msg.port)?.({ lo: msg.lo, hi: msg.hi });
    });
  });
});

afterAll(() => {
  server.kill();
});

function busyWait(ms: number, clock: RunClock): void {
  const until = clock.now() + ms;
  while (clock.now() < until) {
    // Holding the event loop, as a burst of the probe's own work or a descheduled process would.
  }
}

/** The probe's idle time lies within its bound (and a loopback segment) of the server's bracket. */
function expectWithinBound(idleMs: number, boundMs: number, server: ServerIdle): void {
  expect(idleMs).toBeGreaterThanOrEqual(server.lo - boundMs - TRANSIT_MS);
  expect(idleMs).toBeLessThanOrEqual(server.hi + boundMs + TRANSIT_MS);
}

const shown = (server: ServerIdle): string => `${server.lo.toFixed(3)}–${server.hi.toFixed(3)} ms`;

/** One request, then idle until the server closes; `hold` blocks the loop at the chosen moment; `timed`: the socket is the timekeeper's. */
async function idleClose(hold: 'none' | 'response' | 'fin', timed = false, path = '/') {
  const clock = startClock();
  const timekeeper = timed ? new Timekeeper((hrMs) => clock.at(hrMs)) : null;
  try {
    const { conn, get } = await openLoopback(port, clock, timekeeper);
    const local = conn.local?.port as number;
    const reported = new Promise<ServerIdle>((resolve) => serverIdle.set(local, resolve));
    const answered = conn.send({ ...get, path }, { firstByteTimeoutMs: 5000, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
    // The response arrives while the loop is held: it is stamped up to BLOCK_MS late.
    if (hold === 'response') busyWait(BLOCK_MS, clock);
    await answered;
    // The FIN arrives while the loop is held.
    const blocker = hold === 'fin' ? setTimeout(() => busyWait(BLOCK_MS, clock), IDLE_MS - BLOCK_MS / 2) : null;
    expect(await conn.waitForPeerClose(IDLE_MS + 5000)).toBe(true);
    if (blocker !== null) clearTimeout(blocker);
    const end = classifyClose(conn.events);
    await conn.close('fin', 'cleanup');
    return { end, events: conn.events, server: await reported };
  } finally {
    clock.stop();
    await timekeeper?.stop();
  }
}

describe('how late a stamp may be, against a server in its own process', () => {
  it('a quiet loop: every received event carries its lateness; the idle time is within its bound of the server’s', async () => {
    const { end, events, server } = await idleClose('none');
    expect(end.kind).toBe('server-idle-close');
    for (const e of events) {
      const received = e.kind !== 'request' && e.kind !== 'local-close';
      expect(e.late !== undefined, `${e.kind} carries late`).toBe(received);
    }
    expectWithinBound(end.idleMs as number, end.idleErrorMs as number, server);
    console.info(`quiet: probe ${end.idleMs} ms ±${end.idleErrorMs}, server ${shown(server)}`);
  });

  it('the FIN arrives while the loop is held: the idle time is too long by about the hold, and its bound covers it', async () => {
    const { end, events, server } = await idleClose('fin');
    const fin = events.find((e) => e.kind === 'peer-fin');
    // The stamp is late by most of the hold (the FIN came in its middle), and says so.
    expect((end.idleMs as number) - server.hi).toBeGreaterThan(BLOCK_MS / 4);
    expect(fin?.late).toBeGreaterThan(UNCERTAIN_ERROR_MS);
    expectWithinBound(end.idleMs as number, end.idleErrorMs as number, server);
    console.info(`FIN held: probe ${end.idleMs} ms ±${end.idleErrorMs}, server ${shown(server)}`);
  });

  it('bytes and the FIN arrive together while the loop is held: the FIN, handed over a poll phase after the bytes, is bounded by their wait', async () => {
    // libuv reads the bytes, stops at the short read, and hands the FIN over in the next poll
    // phase, after a check phase has settled a tick taken after the hold (wire/clock.ts SocketArrivals).
    const { events, server } = await idleClose('fin', false, '/tail');
    const response = events.find((e) => e.kind === 'response-complete');
    const fin = events.find((e) => e.kind === 'peer-fin');
    expect(events.some((e) => e.kind === 'unsolicited')).toBe(true);
    const idle = (fin?.t as number) - (response?.t as number);
    expect(idle - server.hi).toBeGreaterThan(BLOCK_MS / 4);
    expectWithinBound(idle, Math.max(fin?.late ?? 0, response?.late ?? 0), server);
    console.info(`bytes and FIN held: probe ${idle.toFixed(1)} ms, FIN ±${fin?.late}, server ${shown(server)}`);
  });

  it('the response arrives while the loop is held: the idle time is too short, and its bound covers it', async () => {
    const { end, events, server } = await idleClose('response');
    const response = events.find((e) => e.kind === 'response-complete');
    expect(server.lo - (end.idleMs as number)).toBeGreaterThan(BLOCK_MS / 4);
    expect(response?.late).toBeGreaterThan(UNCERTAIN_ERROR_MS);
    expectWithinBound(end.idleMs as number, end.idleErrorMs as number, server);
    console.info(`response held: probe ${end.idleMs} ms ±${end.idleErrorMs}, server ${shown(server)}`);
  });

  it('on a socket the timekeeper holds, the response and the FIN are stamped when they arrived, though this loop is held both times', async () => {
    const fin = await idleClose('fin', true);
    const response = await idleClose('response', true);
    for (const { end, events, server } of [fin, response]) {
      expect(end.kind).toBe('server-idle-close');
      // The main loop's stamps would be off by most of the hold (the tests above); the thread's are not held by it.
      for (const e of events.filter((e) => e.kind === 'response-complete' || e.kind === 'peer-fin')) expect(e.late, e.kind).toBeLessThan(BLOCK_MS / 2);
      expect(end.idleMs as number).toBeLessThan(server.hi + BLOCK_MS / 4);
      expect(end.idleMs as number).toBeGreaterThan(server.lo - BLOCK_MS / 4);
      expectWithinBound(end.idleMs as number, end.idleErrorMs as number, server);
    }
    console.info(
      `timekeeper: FIN held ${fin.end.idleMs} ms ±${fin.end.idleErrorMs} (server ${shown(fin.server)}), response held ${response.end.idleMs} ms ±${response.end.idleErrorMs} (server ${shown(response.server)})`,
    );
  });
});
