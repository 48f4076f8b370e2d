import { describe, expect, it } from 'vitest';
import { readTcpRows } from '../../src/wire/procNetTcpRead.js';
import { useLab } from '../support/lab.js';
import { metric, probe } from '../support/probe.js';
import { findGo, useGoClient } from '../support/realClients.js';
import type { GoClientMode } from '../support/realClients.js';

/**
 * Which side a real client's connections leave in TIME_WAIT, against what short-connections
 * predicts for the pattern the client follows (docs/scenarios.md, short-connections): Go with
 * DisableKeepAlives sends "Connection: close" (pattern client-sends-close: the server holds
 * TIME_WAIT; but Go also closes its side as soon as it has read such a response: readLoop sets
 * alive = false when resp.Close || rc.req.Close and its deferred pc.close runs, go1.19
 * transport.go L2060-L2061 and L2135-L2139, so the two FINs race and a simultaneous close
 * leaves TIME_WAIT on both sides, or the client's FIN is first), Go with a new Transport per
 * request abandons its idle connection (pattern
 * client-abandons: the server's idle timer closes it, so the server holds TIME_WAIT). The Go
 * client sends request 1, idles past the lab's idle timeout, sends request 2 and exits: the
 * exit closes the second connection from the client's side (a client TIME_WAIT that belongs
 * to process exit, not to the pattern), so the first connection is the pattern's evidence.
 * TIME_WAIT is read from /proc/net/tcp: rows to the lab's port are client sockets, rows on it
 * server sockets (both ends are on this host).
 */
const IDLE_TIMEOUT_MS = 300;
/** The client idles past the lab's close by this much, so a busy machine cannot reorder them. */
const SLACK_MS = 500;
const startLab = useLab();
const runGo = useGoClient(findGo());

/** TIME_WAIT sockets of connections to `port`, by side. */
async function timeWaitAt(port: number): Promise<{ server: number; client: number }> {
  const rows = (await readTcpRows({ ports: [port] })) ?? [];
  const waiting = rows.filter((r) => r.state === 'TIME_WAIT');
  return { server: waiting.filter((r) => r.localPort === port).length, client: waiting.filter((r) => r.remotePort === port).length };
}

describe.skipIf(process.platform !== 'linux')('TIME_WAIT side: real Go clients against the probe', () => {
  it.each([
    // The server's FIN and Go's race (see above): each connection leaves TIME_WAIT on the
    // server, the client or both, so any split of the two connections' sockets is possible
    // (observed against the lab, on an idle and a busy machine: server 0–2 of 2, client 0–2).
    ['no-keepalive', 'clientSendsCloseTimeWaitServer', { server: [0, 2], client: [0, 2] }],
    // The first connection, abandoned, is the server's; the second is the client's when the
    // process exits before the lab's 300 ms timer fires (the server's on a machine slow enough).
    ['transport-per-request', 'clientAbandonsTimeWaitServer', { server: [1, 2], client: [0, 1] }],
  ] as const)(
    'Go -mode %s: where its connections leave TIME_WAIT, against the probe (%s)',
    async (mode: GoClientMode, predictedMetric, seen) => {
      const predictedLab = await startLab({ idleTimeoutMs: IDLE_TIMEOUT_MS, maxRequests: 0 });
      const prediction = await probe(predictedLab.url, ['short-connections'], { maxIdleMs: 5000 });
      // The probe: all 20 of the pattern's connections on the server side.
      expect(metric(prediction, 'short-connections', predictedMetric)).toBe(20);

      const lab = await startLab({ idleTimeoutMs: IDLE_TIMEOUT_MS, maxRequests: 0 });
      const e = await runGo(lab.url, { idleMs: IDLE_TIMEOUT_MS + SLACK_MS, mode });
      expect(e.second).toEqual({ ok: true, status: 200 });
      expect(lab.accepted()).toBe(2);
      // The server side of the first connection, as predicted; with a new Transport per request
      // the second one is closed by the process exit (the client's side).
      const held = await timeWaitAt(lab.port);
      expect(held.server, 'server').toBeGreaterThanOrEqual(seen.server[0]);
      expect(held.server, 'server').toBeLessThanOrEqual(seen.server[1]);
      expect(held.client, 'client').toBeGreaterThanOrEqual(seen.client[0]);
      expect(held.client, 'client').toBeLessThanOrEqual(seen.client[1]);
      // Each connection leaves one socket in TIME_WAIT at least (two after a simultaneous close).
      expect(held.server + held.client, 'TIME_WAIT sockets').toBeGreaterThanOrEqual(2);
      expect(held.server + held.client, 'TIME_WAIT sockets').toBeLessThanOrEqual(4);
    },
    30_000,
  );
});
