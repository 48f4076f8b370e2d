import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnEvent } from '../src/model/events.js';
import { ProbeError } from '../src/model/errors.js';
import { SERVE_HTTP2_DEFAULTS } from '../src/options/labProfiles.js';
import { classifyClose } from '../src/timeline/classifyClose.js';
import { startClock } from '../src/wire/clock.js';
import type { RunClock } from '../src/wire/clock.js';
import { ProbeConnection } from '../src/wire/connection.js';
import type { ConnectOptions } from '../src/wire/connection.js';
import { H2Connection } from '../src/wire/h2Connection.js';
import { openSocketTable } from '../src/wire/socketTable.js';
import { Timekeeper } from '../src/wire/timekeeper.js';
import { useLab } from './support/lab.js';
import { freePort } from './support/realServer.js';

/**
 * A socket the timekeeper thread holds (a sample measured again) is a socket like the event
 * loop's own to the connections that use it: the same events in the same order, the same
 * endpoints, TLS and ALPN, the session keys for a capture, the same errors. Against the lab.
 */
const startLab = useLab();
const IDLE_MS = 300;
const deadlines = { firstByteTimeoutMs: 3000, headersTimeoutMs: 3000, bodyTimeoutMs: 3000 };

let clock: RunClock;
let timekeeper: Timekeeper;
afterEach(async () => {
  clock?.stop();
  await timekeeper?.stop();
});

async function options(port: number, tls: boolean, keylog: ((line: Buffer) => void) | null = null): Promise<ConnectOptions> {
  clock = startClock();
  timekeeper = new Timekeeper((hrMs) => clock.at(hrMs));
  const table = await openSocketTable('none');
  return { host: '127.0.0.1', serverName: '127.0.0.1', port, tls, insecure: true, ca: null, connectTimeoutMs: 2000, table, keylog };
}

const kinds = (events: readonly ConnEvent[]): string[] => events.map((e) => (e.kind === 'h2-frame' ? `${e.dir} ${e.frame.type}` : e.kind));

const get = (port: number) => ({
  method: 'GET',
  path: '/',
  version: '1.1' as const,
  host: `127.0.0.1:${port}`,
  connection: null,
  headers: [],
  userAgent: 'keepalive-probe-test',
});

/** Opening with these options fails, on this loop and on the timekeeper, with the same ProbeError. */
async function expectSameOpenError(base: ConnectOptions): Promise<void> {
  const failure = (o: ConnectOptions) =>
    ProbeConnection.open('main', o, clock).then(
      () => null,
      (err: unknown) => err,
    );
  const [own, timed] = [await failure(base), await failure({ ...base, timekeeper })];
  expect(own).toBeInstanceOf(ProbeError);
  expect(timed).toBeInstanceOf(ProbeError);
  expect([(timed as ProbeError).code, (timed as ProbeError).message]).toEqual([(own as ProbeError).code, (own as ProbeError).message]);
}

describe('a socket the timekeeper holds', () => {
  it('HTTP/1.1: the same events, endpoints and idle close as a socket of this loop', async () => {
    const lab = await startLab({ idleTimeoutMs: IDLE_MS });
    const base = await options(lab.port, false);
    const run = async (timed: boolean) => {
      const conn = await ProbeConnection.open('main', timed ? { ...base, timekeeper } : base, clock);
      expect((await conn.send(get(lab.port), deadlines)).kind).toBe('response');
      expect(await conn.waitForPeerClose(IDLE_MS * 10)).toBe(true);
      await conn.close('fin', 'cleanup');
      return conn;
    };
    const [own, timed] = [await run(false), await run(true)];
    expect(kinds(timed.events)).toEqual(kinds(own.events));
    expect(timed.local?.address).toBe('127.0.0.1');
    expect(timed.remote).toEqual({ address: '127.0.0.1', port: lab.port });
    expect([timed.bytesIn, timed.bytesOut]).toEqual([own.bytesIn, own.bytesOut]);
    const end = classifyClose(timed.events);
    expect([end.kind, end.closedBy, end.signal]).toEqual(['server-idle-close', 'server', 'fin']);
    // Stamped by the thread, on this run's clock: the idle time is the lab's timer, within the bound the thread gives it.
    expect(end.idleMs as number).toBeGreaterThanOrEqual(IDLE_MS - (end.idleErrorMs as number));
    expect(end.idleMs as number).toBeLessThan(IDLE_MS * 1.25 + (end.idleErrorMs as number));
    // What arrived carries the thread's bound, as on this loop; what the probe did carries none.
    for (const [i, e] of timed.events.entries()) expect(e.late === undefined, e.kind).toBe(own.events[i]?.late === undefined);
  });

  it('HTTP/2 over TLS, the certificate checked against --cacert: ALPN h2, the session keys for a capture, the GOAWAY and the FIN', async () => {
    const lab = await startLab({ idleTimeoutMs: IDLE_MS, http2: { ...SERVE_HTTP2_DEFAULTS, goaway: 'immediate', closeAfterGoawayMs: 0 } }, { tls: true });
    const keys: string[] = [];
    const base = await options(lab.port, true, (line) => keys.push(line.toString('latin1')));
    // Verified against the lab's certificate (--cacert), as the thread builds its own secure context.
    const conn = await H2Connection.open('main', { ...base, insecure: false, ca: [lab.certificate as string], timekeeper }, clock, 3000);
    expect(conn.events.find((e) => e.kind === 'tls')).toMatchObject({ alpn: 'h2', protocol: 'TLSv1.3' });
    expect(keys.some((k) => k.startsWith('CLIENT_HANDSHAKE_TRAFFIC_SECRET '))).toBe(true);
    expect(
      (
        await conn.send(
          { method: 'GET', path: '/', authority: `127.0.0.1:${lab.port}`, scheme: 'https', headers: [], userAgent: 'keepalive-probe-test' },
          deadlines,
        )
      ).kind,
    ).toBe('response');
    expect(await conn.waitForPeerClose(IDLE_MS * 10)).toBe(true);
    await conn.close('fin', 'cleanup');
    const after = kinds(conn.events).slice(kinds(conn.events).indexOf('response-complete'));
    expect(after.slice(0, 3)).toEqual(['response-complete', 'in GOAWAY', 'peer-fin']);
  });

  it('a thread that dies under its sockets: they fail and close instead of waiting forever, and the next connection starts a new thread', async () => {
    const lab = await startLab({ idleTimeoutMs: 60_000 });
    const base = { ...(await options(lab.port, false)), timekeeper };
    const conn = await ProbeConnection.open('main', base, clock);
    expect((await conn.send(get(lab.port), deadlines)).kind).toBe('response');
    // As if it crashed: its own handle, ended from outside (stop() would first let go of it).
    await (timekeeper as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    expect(await conn.waitForPeerClose(3000)).toBe(true);
    expect(conn.isClosed).toBe(true);
    expect(conn.events.find((e) => e.kind === 'error')).toMatchObject({ code: 'ETIMEKEEPER' });
    const again = await ProbeConnection.open('main', base, clock);
    expect((await again.send(get(lab.port), deadlines)).kind).toBe('response');
    await again.close('fin', 'cleanup');
  });

  it('a certificate that --cacert does not vouch for is the same ProbeError as on this loop', async () => {
    const lab = await startLab({ idleTimeoutMs: IDLE_MS }, { tls: true });
    const other = await startLab({ idleTimeoutMs: IDLE_MS }, { tls: true });
    const base = { ...(await options(lab.port, true)), insecure: false, ca: [other.certificate as string] };
    await expectSameOpenError(base);
  });

  it.runIf(process.platform === 'linux')('its thread runs at nice −10 where the OS allows it (root here), the rest of the process at its own', async () => {
    const lab = await startLab({ idleTimeoutMs: 60_000 });
    const base = await options(lab.port, false);
    const nices = (): number[] =>
      readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'latin1').split(') ')[1]?.split(' ')[16]));
    const before = nices();
    const conn = await ProbeConnection.open('main', { ...base, timekeeper }, clock);
    const after = nices();
    await conn.close('fin', 'cleanup');
    const own = Math.min(...before);
    // One thread more at -10 when permitted (Linux: root or CAP_SYS_NICE); otherwise none below the process's own.
    const raised = process.getuid?.() === 0;
    expect(after.filter((n) => n === -10).length - before.filter((n) => n === -10).length).toBe(raised ? 1 : 0);
    expect(Math.min(...after)).toBe(raised ? Math.min(own, -10) : own);
  });

  it('a refused connection is the same ProbeError as on this loop', async () => {
    const port = await freePort();
    const base = await options(port, false);
    await expectSameOpenError(base);
  });
});
