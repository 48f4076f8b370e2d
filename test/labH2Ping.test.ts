import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { PingStrikes } from '../src/lab/pingStrikes.js';
import type { LabHttp2Profile } from '../src/model/result.js';
import { SERVE_HTTP2_DEFAULTS } from '../src/options/labProfiles.js';
import type { LabProfile } from '../src/options/labProfiles.js';
import { ACK, FRAME, frameBytes, getRequest, goawayOf, useRawH2 } from './support/h2Raw.js';
import type { RawH2 } from './support/h2Raw.js';
import { useLab } from './support/lab.js';
import { PROBE_LAG_MS } from './support/timing.js';

const startLab = useLab();
const rawH2 = useRawH2();

async function h2Port(overrides: Partial<LabProfile>, h2: Partial<LabHttp2Profile>): Promise<number> {
  return (await startLab({ ...overrides, http2: { ...SERVE_HTTP2_DEFAULTS, ...h2 } })).port;
}

/** Sends PING number `n` and waits (bounded) for its ACK. */
async function ping(client: RawH2, n: number): Promise<void> {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(n, 4);
  client.write(frameBytes(FRAME.PING, 0, 0, payload));
  await client.frame((f) => f.type === FRAME.PING && (f.flags & ACK) === 1 && f.payload.equals(payload), 2000);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const types = (client: RawH2): number[] => client.frames.filter((f) => f.type !== FRAME.SETTINGS).map((f) => f.type);

describe('PingStrikes: gRPC-Go handlePing arithmetic', () => {
  it('the first PING is free; each PING sooner than the interval is a strike; the third strike ends the connection', () => {
    const strikes = new PingStrikes(1000);
    expect([0, 10, 20, 30].map((t) => strikes.ping(t))).toEqual([false, false, false, true]);
  });

  it('PINGs at least the interval apart are never strikes', () => {
    const strikes = new PingStrikes(1000);
    expect([0, 1000, 2000, 3000, 4000].map((t) => strikes.ping(t))).toEqual([false, false, false, false, false]);
  });

  it('HEADERS or DATA sent since the last PING clear the strikes', () => {
    const strikes = new PingStrikes(1000);
    expect([strikes.ping(0), strikes.ping(1), strikes.ping(2)]).toEqual([false, false, false]);
    strikes.dataSent();
    expect([strikes.ping(3), strikes.ping(4), strikes.ping(5), strikes.ping(6)]).toEqual([false, false, false, true]);
  });
});

describe('HTTP/2 lab: PING policy on the wire', () => {
  it('strict: the fourth PING within the interval is ACKed, then GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and FIN', async () => {
    const port = await h2Port({ idleTimeoutMs: 10_000 }, { pingPolicy: 'strict', pingMinIntervalMs: 60_000 });
    const client = await rawH2(port);
    for (const n of [1, 2, 3, 4]) await ping(client, n);
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, 2000);
    await client.closed(2000);
    expect(goawayOf(goaway)).toEqual({ lastStreamId: 0, errorCode: 0xb, debug: 'too_many_pings' });
    expect(types(client)).toEqual([FRAME.PING, FRAME.PING, FRAME.PING, FRAME.PING, FRAME.GOAWAY]);
    expect(client.closedBy()).toBe('fin');
  });

  it('strict: responses between the PINGs clear the strikes, so the connection stays', async () => {
    const port = await h2Port({ idleTimeoutMs: 10_000 }, { pingPolicy: 'strict', pingMinIntervalMs: 60_000 });
    const client = await rawH2(port);
    for (const n of [1, 2, 3, 4, 5]) {
      await ping(client, n);
      const id = 2 * n - 1;
      client.write(getRequest(id));
      await client.frame((f) => f.streamId === id && f.type === FRAME.DATA, 2000);
    }
    await ping(client, 6);
    await sleep(200);
    expect(client.frames.some((f) => f.type === FRAME.GOAWAY)).toBe(false);
    expect(client.fin()).toBeNull();
  });

  it('ok: ten PINGs in a row are all ACKed and nothing else happens', async () => {
    const port = await h2Port({ idleTimeoutMs: 10_000 }, { pingPolicy: 'ok' });
    const client = await rawH2(port);
    for (let n = 1; n <= 10; n += 1) await ping(client, n);
    await sleep(200);
    expect(types(client)).toEqual(Array(10).fill(FRAME.PING));
    expect(client.fin()).toBeNull();
  });
});

describe('HTTP/2 lab: whether a PING is activity for the idle timer', () => {
  const idleMs = 600;
  const everyMs = 150;
  const pingForMs = 1500;

  /** PINGs every `everyMs` for `pingForMs` after a response; returns the response end and the last PING's time. */
  async function pingAfterResponse(client: RawH2): Promise<{ responseAt: number; lastPingAt: number }> {
    client.write(getRequest(1));
    const end = await client.frame((f) => f.streamId === 1 && f.type === FRAME.DATA, 2000);
    let lastPingAt = end.at;
    for (let n = 1; performance.now() - end.at < pingForMs && client.fin() === null; n += 1) {
      await sleep(everyMs);
      if (client.fin() !== null) break;
      lastPingAt = performance.now();
      client.write(frameBytes(FRAME.PING, 0, 0, Buffer.alloc(8, n)));
    }
    return { responseAt: end.at, lastPingAt };
  }

  it('pingResetsIdle false (Go, Envoy, ALB): the GOAWAY comes idleTimeoutMs after the response despite the PINGs', async () => {
    const port = await h2Port({ idleTimeoutMs: idleMs }, { goaway: 'immediate', pingResetsIdle: false });
    const client = await rawH2(port);
    const { responseAt } = await pingAfterResponse(client);
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, 2000);
    expect(goaway.at - responseAt).toBeGreaterThanOrEqual(idleMs - PROBE_LAG_MS);
    expect(goaway.at - responseAt).toBeLessThan(idleMs * 1.25 + PROBE_LAG_MS);
  });

  it('pingResetsIdle true: the connection outlives the PINGs and idles out idleTimeoutMs after the last one', async () => {
    const port = await h2Port({ idleTimeoutMs: idleMs }, { goaway: 'immediate', pingResetsIdle: true });
    const client = await rawH2(port);
    const { responseAt, lastPingAt } = await pingAfterResponse(client);
    expect(lastPingAt - responseAt).toBeGreaterThanOrEqual(pingForMs - everyMs);
    const goaway = await client.frame((f) => f.type === FRAME.GOAWAY, idleMs * 3);
    expect(goaway.at - lastPingAt).toBeGreaterThanOrEqual(idleMs - PROBE_LAG_MS);
    expect(goaway.at - lastPingAt).toBeLessThan(idleMs * 1.25 + PROBE_LAG_MS);
  });
});
