import { describe, expect, it } from 'vitest';
import type { LabProfile } from '../../src/options/labProfiles.js';
import { useLab } from '../support/lab.js';
import { findGo, maskPorts, runNodeClient, useGoClient } from '../support/realClients.js';
import type { ClientExperience, NodeClientMode } from '../support/realClients.js';

/**
 * Real clients against the lab: request 1, an idle pause past the server's idle timeout,
 * request 2. What each client experienced (error, retry, new connection) is asserted as
 * observed; the comments cite the source line that makes the client behave so. Versions:
 * Node v20.20.2 (its bundled undici is 6.24.1, process.versions.undici) and Debian bookworm's
 * Go 1.19.8. Node lines are lib/ of v20.20.2 as embedded in the node binary (the files
 * verbatim, read with process.binding('natives')); undici lines from the nodejs/undici v6.24.1
 * tag; Go lines from /usr/lib/go-1.19/src/net/http.
 *
 * Timing: the lab acts at its idle timeout and each client sends request 2 SLACK_MS later, so
 * a timer or a process delayed by up to SLACK_MS on a busy 2-core machine cannot change which
 * side of the server's timeout request 2 lands on. Only counts and error texts are asserted,
 * never durations.
 */
const SLACK_MS = 500;
const IDLE_TIMEOUT_MS = 300;
const CLIENT_IDLE_MS = IDLE_TIMEOUT_MS + SLACK_MS;

/**
 * The Keep-Alive hint case: the lab advertises timeout=HINT_S and drops the flow at
 * HINT_S seconds. Node's agent discards at hint − 1000 ms (HTTP_AGENT_KEEP_ALIVE_TIMEOUT_BUFFER,
 * lib/_http_agent.js L54); the client idles halfway between that and the server's timeout.
 */
const HINT_S = 2;
const AGENT_HINT_BUFFER_MS = 1000;
const HINT_CLIENT_IDLE_MS = (HINT_S * 1000 - AGENT_HINT_BUFFER_MS + HINT_S * 1000) / 2;
const HINT_PROFILE: Partial<LabProfile> = { idleTimeoutMs: HINT_S * 1000, close: 'drop', advertise: true };

const OK = { ok: true, status: 200 } as const;
const startLab = useLab();
const go = findGo();
const runGo = useGoClient(go);

/** Starts a lab with `profile`, runs the client against it, and reads how many connections it accepted. */
async function observe<E extends ClientExperience>(
  profile: Partial<LabProfile>,
  run: (url: string) => Promise<E>,
): Promise<{ experience: E; accepted: number; port: number }> {
  const lab = await startLab(profile);
  const experience = await run(lab.url);
  expect(experience.first).toEqual(OK);
  return { experience, accepted: lab.accepted(), port: lab.port };
}

const node = (mode: NodeClientMode, profile: Partial<LabProfile>, idleMs: number, method: 'GET' | 'POST' = 'GET') =>
  observe(profile, (url) => runNodeClient(mode, url, { idleMs, method }));

describe(`close 'fin': the server closes the idle connection with FIN at ${IDLE_TIMEOUT_MS} ms, the client sends again at ${CLIENT_IDLE_MS} ms`, () => {
  const FIN: Partial<LabProfile> = { idleTimeoutMs: IDLE_TIMEOUT_MS, close: 'fin' };

  it.each(['agent', 'global-agent'] as const)(
    'Node http %s: drops the closed socket from the pool, request 2 goes out on a new connection, no error',
    async (mode) => {
      const { experience, accepted } = await node(mode, FIN, CLIENT_IDLE_MS);
      // The client socket is not half-open (lib/net.js L408: allowHalfOpen defaults to false), so
      // on the FIN the stream ends its own side and is destroyed (lib/internal/streams/readable.js
      // L1700-1701); 'close' removes it from the agent (lib/_http_agent.js L375-383, "the only
      // place where sockets get removed"), and addRequest skips destroyed free sockets (L256-258).
      expect(experience.second).toEqual(OK);
      expect(experience.reusedSocket).toBe(false);
      expect(accepted).toBe(2);
    },
  );

  it('Node fetch (undici): discards the closed connection, request 2 goes out on a new connection, no error', async () => {
    const { experience, accepted } = await node('fetch', FIN, CLIENT_IDLE_MS);
    // undici's 'end' listener destroys the socket with SocketError('other side closed')
    // (lib/dispatcher/client-h1.js L692-701); with no request running that error is dropped
    // (lib/dispatcher/client.js L369-374 ignore UND_ERR_SOCKET when kRunning is 0) and the
    // 'close' listener clears client[kSocket], so the next request connects anew.
    expect(experience.second).toEqual(OK);
    expect(accepted).toBe(2);
  });

  describe.skipIf(go === null)('Go', () => {
    it('Go DefaultClient: the pooled connection is gone, request 2 gets one fresh connection, no retry, no error', async () => {
      const { experience, accepted } = await observe(FIN, (url) => runGo(url, { idleMs: CLIENT_IDLE_MS }));
      // Every idle persistConn has its readLoop parked in br.Peek(1) (transport.go L2093); the
      // FIN makes it return io.EOF with no response expected (L2096-2097), readLoopPeekFailLocked
      // closes it with errServerClosedIdle (L2251-2253) and the deferred removeIdleConn
      // (L2060-2063) takes it out of the pool before request 2 looks there.
      expect(experience.second).toEqual(OK);
      expect(experience.gotConn).toEqual([{ reused: false, wasIdle: false }]);
      expect(experience.retried).toBe(false);
      expect(accepted).toBe(2);
    });
  });
});

describe(`close 'drop': nothing on the wire at ${IDLE_TIMEOUT_MS} ms, request 2 at ${CLIENT_IDLE_MS} ms is answered with RST`, () => {
  const DROP: Partial<LabProfile> = { idleTimeoutMs: IDLE_TIMEOUT_MS, close: 'drop' };

  it.each(['agent', 'global-agent'] as const)('Node http %s: GET and POST both fail with "read ECONNRESET" on the reused socket; no retry', async (mode) => {
    for (const method of ['GET', 'POST'] as const) {
      const { experience, accepted } = await node(mode, DROP, CLIENT_IDLE_MS, method);
      // Nothing told the pool the flow was gone, so the socket is reused (reuseSocket sets
      // req.reusedSocket, lib/_http_agent.js L510-515). The RST surfaces as the socket's read
      // error, which socketErrorListener hands to the request as is and then destroys the
      // socket (lib/_http_client.js L495-516): node:http never retries, whatever the method.
      expect(experience.second, method).toEqual({ ok: false, error: 'read ECONNRESET', code: 'ECONNRESET', causeCode: null, causeMessage: null });
      expect(experience.reusedSocket, method).toBe(true);
      expect(accepted, method).toBe(1);
    }
  });

  it('Node fetch (undici): GET and POST both reject with TypeError "fetch failed", cause ECONNRESET "read ECONNRESET"; no retry', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const { experience, accepted } = await node('fetch', DROP, CLIENT_IDLE_MS, method);
      // The socket error is stored and the running request is failed with it when the socket
      // closes (lib/dispatcher/client-h1.js L668-681 and L703-736, util.errorRequest); fetch
      // wraps it as the cause of TypeError('fetch failed') (lib/web/fetch/index.js L230).
      // Neither Client nor fetch re-dispatches a failed request, idempotent or not.
      expect(experience.second, method).toEqual({ ok: false, error: 'fetch failed', code: null, causeCode: 'ECONNRESET', causeMessage: 'read ECONNRESET' });
      expect(accepted, method).toBe(1);
    }
  });

  describe.skipIf(go === null)('Go', () => {
    // The RST comes back as the read error of a reused connection, wrapped as
    // transportReadFromServerError (transport.go L2110). shouldRetryRequest (L685-730): the
    // connection was reused (L699), so an idempotent request is retried on a new connection
    // (L714-722); isReplayable (request.go L1435-1449) says GET, HEAD, OPTIONS, TRACE, or any
    // method with an Idempotency-Key or X-Idempotency-Key header (L1444) and a rewindable body.

    it('GET: retried on its own on a new connection, request 2 succeeds', async () => {
      const { experience, accepted } = await observe(DROP, (url) => runGo(url, { idleMs: CLIENT_IDLE_MS, method: 'GET' }));
      expect(experience.second).toEqual(OK);
      expect(experience.gotConn).toEqual([
        { reused: true, wasIdle: true },
        { reused: false, wasIdle: false },
      ]);
      expect(experience.retried).toBe(true);
      expect(accepted).toBe(2);
    });

    it('POST without Idempotency-Key: not retried; the raw read error comes back', async () => {
      const { experience, accepted, port } = await observe(DROP, (url) => runGo(url, { idleMs: CLIENT_IDLE_MS, method: 'POST' }));
      // Not replayable (L714-716), so roundTrip unwraps the read error and returns it (L606-616);
      // http.Client wraps it in a url.Error naming the method and URL.
      expect(experience.second.ok).toBe(false);
      if (experience.second.ok) return;
      expect(maskPorts(experience.second.error, port)).toBe(
        'Post "http://127.0.0.1:<server>/": read tcp 127.0.0.1:<client>->127.0.0.1:<server>: read: connection reset by peer',
      );
      expect(experience.gotConn).toEqual([{ reused: true, wasIdle: true }]);
      expect(experience.retried).toBe(false);
      expect(accepted).toBe(1);
    });

    it('POST with Idempotency-Key: retried on its own on a new connection, request 2 succeeds', async () => {
      const { experience, accepted } = await observe(DROP, (url) => runGo(url, { idleMs: CLIENT_IDLE_MS, method: 'POST', idempotencyKey: true }));
      expect(experience.second).toEqual(OK);
      expect(experience.gotConn).toEqual([
        { reused: true, wasIdle: true },
        { reused: false, wasIdle: false },
      ]);
      expect(experience.retried).toBe(true);
      expect(accepted).toBe(2);
    });
  });
});

describe(`Keep-Alive: timeout=${HINT_S} advertised, flow dropped at ${HINT_S} s, request 2 after ${HINT_CLIENT_IDLE_MS} ms: who honours the hint`, () => {
  it('Node http agent (keepAlive, no timeout option): ignores the hint, reuses the socket (still alive at the server), no error', async () => {
    const { experience, accepted } = await node('agent', HINT_PROFILE, HINT_CLIENT_IDLE_MS);
    // keepSocketAlive (lib/_http_agent.js L475-508) turns the hint into hint − 1000 ms (L490)
    // but only uses it to shorten the agent's own timeout: `serverHintTimeout < agentTimeout`
    // (L496) with agentTimeout = options.timeout || 0 (L478) is never true without a timeout
    // option, so the socket keeps no idle timer at all. It survives here only because the
    // server's timeout has not passed yet; past it, the agent would reuse the dropped flow as
    // in the 'drop' case above.
    expect(experience.second).toEqual(OK);
    expect(experience.reusedSocket).toBe(true);
    expect(accepted).toBe(1);
  });

  it('Node http globalAgent (timeout 5000): honours the hint, discards the socket 1 s before it, request 2 on a new connection', async () => {
    const { experience, accepted } = await node('global-agent', HINT_PROFILE, HINT_CLIENT_IDLE_MS);
    // The global agent has timeout: 5000 (lib/_http_agent.js L552), so the hint wins:
    // agentTimeout = 2 s − 1 s (L490, L496-497) becomes the free socket's setTimeout (L503-505),
    // and a free socket that times out is destroyed (onTimeout, L385-394).
    expect(experience.second).toEqual(OK);
    expect(experience.reusedSocket).toBe(false);
    expect(accepted).toBe(2);
  });

  it('Node fetch (undici): keepAliveTimeoutThreshold (2 s) eats the whole hint, request 2 on a new connection', async () => {
    const { experience, accepted } = await node('fetch', HINT_PROFILE, HINT_CLIENT_IDLE_MS);
    // undici subtracts keepAliveTimeoutThreshold, 2e3 by default (lib/dispatcher/client.js
    // L231), from the hint; a result <= 0 marks the socket kReset, i.e. not reusable at all
    // (lib/dispatcher/client-h1.js L496-502). The next test shows this is not a 1 s timer.
    expect(experience.second).toEqual(OK);
    expect(accepted).toBe(2);
  });

  it(`after only ${SLACK_MS / 2} ms idle: fetch still opens a new connection (timeout=${HINT_S} is never reused), the globalAgent reuses`, async () => {
    const fetch = await node('fetch', HINT_PROFILE, SLACK_MS / 2);
    expect(fetch.experience.second).toEqual(OK);
    expect(fetch.accepted).toBe(2);
    const global = await node('global-agent', HINT_PROFILE, SLACK_MS / 2);
    expect(global.experience.second).toEqual(OK);
    expect(global.experience.reusedSocket).toBe(true);
    expect(global.accepted).toBe(1);
  });

  describe.skipIf(go === null)('Go', () => {
    it('Go DefaultClient: ignores the hint, reuses the connection (still alive at the server), no retry', async () => {
      const { experience, accepted } = await observe(HINT_PROFILE, (url) => runGo(url, { idleMs: HINT_CLIENT_IDLE_MS }));
      // Go's Transport never parses the Keep-Alive header (transport.go has no reader for it);
      // an idle connection lives until IdleConnTimeout, 90 s in DefaultTransport (L51), or
      // until the readLoop sees the peer close it.
      expect(experience.second).toEqual(OK);
      expect(experience.gotConn).toEqual([{ reused: true, wasIdle: true }]);
      expect(experience.retried).toBe(false);
      expect(accepted).toBe(1);
    });
  });
});

describe.skipIf(go === null)('Go without a shared pool: a new Transport per request, or DisableKeepAlives', () => {
  const PROFILES = [
    ['fin', { idleTimeoutMs: IDLE_TIMEOUT_MS, close: 'fin' }, CLIENT_IDLE_MS],
    ['drop', { idleTimeoutMs: IDLE_TIMEOUT_MS, close: 'drop' }, CLIENT_IDLE_MS],
    [`drop at ${HINT_S} s with "Keep-Alive: timeout=${HINT_S}"`, HINT_PROFILE, HINT_CLIENT_IDLE_MS],
  ] as const;

  it.each(PROFILES)('close %s: each request on its own connection, no stale reuse, no retry (both modes)', async (_name, profile, idleMs) => {
    for (const mode of ['transport-per-request', 'no-keepalive'] as const) {
      const { experience, accepted } = await observe(profile, (url) => runGo(url, { idleMs, mode }));
      // transport-per-request: request 2's Transport has an empty pool, so getConn dials
      // (transport.go L1355: queueForIdleConn delivers nothing); the first Transport's idle
      // connection is left for the server to close. no-keepalive: the request says
      // Connection: close (transport.go L2579-2582), queueForIdleConn never delivers (L1009)
      // and tryPutIdleConn never pools (L913).
      expect(experience.mode).toBe(mode);
      expect(experience.second, mode).toEqual(OK);
      expect(experience.gotConn, mode).toEqual([{ reused: false, wasIdle: false }]);
      expect(experience.retried, mode).toBe(false);
      expect(accepted, mode).toBe(2);
    }
  });
});
