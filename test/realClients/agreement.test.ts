import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictClients, serverFacts } from '../../src/verdict/clients.js';
import { CLIENT_PROFILES } from '../../src/catalog/clientProfiles.js';
import type { LabProfile } from '../../src/options/labProfiles.js';
import type { ClientVerdict, RunResult } from '../../src/model/result.js';
import { serverBinary } from '../support/realServer.js';
import { CATALINA_HOME, startTomcat } from '../realServers/support-haproxy-tomcat.js';
import type { StartedServer } from '../realServers/support-haproxy-tomcat.js';
import { metric } from '../support/probe.js';
import { startLabServer } from '../../src/lab/labServer.js';
import { SERVE_DEFAULTS } from '../../src/options/labProfiles.js';
import { probe } from '../support/probe.js';
import { findCurl, findGo, findJava, findPython, runCurl, runNodeClient, runRequestsClient, useGoClient, useJavaClients } from '../support/realClients.js';
import type { ClientExperience, ClientRun, JavaClient, NodeClientMode } from '../support/realClients.js';

/**
 * The probe's client verdicts (verdict/clients.ts, from the profiles in docs/clients.md)
 * against what the real clients do on the same lab server: the probe measures the server,
 * predicts each client, then the real client idles and sends again.
 *   no          → the client drops the idle connection itself: request 2 is fine, on a new connection;
 *   race        → only a request racing the close fails: sent well clear of T, request 2 is fine;
 *   every-reuse → request 2 fails with one of the profile's error texts, unless the client
 *                 retries that method by itself (then it succeeds on a second connection).
 */
const go = findGo();
const runGo = useGoClient(go);
const java = findJava();
const runJava = useJavaClients(java);
const python = findPython();
const curl = findCurl();
const NODE_MODES: Record<string, NodeClientMode> = { 'node-agent': 'agent', 'node-global-agent': 'global-agent', undici: 'fetch' };
const JAVA: Record<string, JavaClient> = { httpclient4: 'httpclient4', httpclient5: 'httpclient5', okhttp: 'okhttp' };

/**
 * Starts a lab of its own (the tests of a describe run concurrently, so useLab's afterEach,
 * which stops every lab of the file, cannot be used), probes it, and hands the verdicts to
 * `check`; the lab is stopped whatever happens.
 */
async function predicted(
  profile: Partial<LabProfile>,
  maxIdleMs: number,
  check: (lab: { url: string; accepted: () => number; verdicts: Map<string, ClientVerdict> }) => Promise<void>,
): Promise<void> {
  const lab = await startLabServer({ ...SERVE_DEFAULTS, ...profile });
  try {
    const result = await probe(lab.url, ['idle-timeout', 'timeout-mismatch'], { maxIdleMs });
    const verdicts = new Map(predictClients(serverFacts(result.scenarios, result.options.maxIdleMs), null).map((v) => [v.client, v]));
    const before = lab.accepted();
    await check({ url: lab.url, accepted: () => lab.accepted() - before, verdicts });
  } finally {
    await lab.close();
  }
}

/** The real client behind a profile name (urllib3: a requests Session, which mounts urllib3's pool). */
async function runClient(client: string, url: string, idleMs: number, method: 'GET' | 'POST'): Promise<ClientExperience> {
  const run: ClientRun = { idleMs, method };
  const mode = NODE_MODES[client];
  if (mode !== undefined) return runNodeClient(mode, url, run);
  const javaClient = JAVA[client];
  if (javaClient !== undefined) return runJava(javaClient, url, run);
  if (client === 'urllib3') return runRequestsClient(python ?? 'python3', url, run);
  if (client === 'curl') return runCurl(curl ?? 'curl', url, run);
  return runGo(url, run);
}

function errorText(e: ClientExperience): string {
  if (e.second.ok) return '';
  return [e.second.error, e.second.causeMessage].filter((x) => x !== null).join(' | ');
}

/**
 * The real run agrees with the verdict (see the file comment). `beforeServerClose`: request 2
 * went out before the server's idle timeout, so nothing is stale yet whatever the verdict
 * says about idling past it, and request 2 must simply succeed.
 */
function expectAgreement(v: ClientVerdict, e: ClientExperience, accepted: number | null, method: 'GET' | 'POST', beforeServerClose = false): void {
  const what = `${v.client} (${v.staleReuse})`;
  if (beforeServerClose) {
    expect(e.second, what).toEqual({ ok: true, status: 200 });
    return;
  }
  const retries = v.retriesStale === 'all' || (v.retriesStale === 'idempotent' && method === 'GET');
  if (v.staleReuse === 'every-reuse' && !retries) {
    expect(e.second.ok, `${what}: request 2 should fail`).toBe(false);
    const profile = CLIENT_PROFILES.find((p) => p.name === v.client);
    const text = errorText(e);
    expect(
      profile?.staleErrors.some((known) => text.includes(known.replace(/^(Error|TypeError): /, ''))),
      `${what}: "${text}" is one of the profile's errors`,
    ).toBe(true);
    if (accepted !== null) expect(accepted, what).toBe(1);
  } else {
    expect(e.second, what).toEqual({ ok: true, status: 200 });
    if (v.staleReuse === 'every-reuse' && accepted !== null) expect(accepted, `${what}: retried on a new connection`).toBe(2);
    // Without a connection count (a real server), the client's own retry report says it (Node's clients give none).
    if (v.staleReuse === 'every-reuse' && accepted === null && 'retried' in e) expect(e.retried, `${what}: retried by itself`).toBe(true);
  }
}

/** Each profile with a runnable client here; one whose runtime is missing is left out (skipped loudly by its find*). */
const CLIENTS = [
  'node-agent',
  'node-global-agent',
  'undici',
  ...(go === null ? [] : ['go']),
  ...(java === null ? [] : ['httpclient4', 'httpclient5', 'okhttp']),
  ...(python === null ? [] : ['urllib3']),
  ...(curl === null ? [] : ['curl']),
];

/** Apache HttpClient checks a pooled connection only once it idled validateAfterInactivity (2 s). */
const CHECK_AFTER_2S = new Set(['httpclient4', 'httpclient5']);

describe.concurrent('a server that closes idle connections with FIN after 300 ms; clients idle 800 ms', () => {
  it.each([...CLIENTS.map((c) => [c, 'GET'] as const), ...CLIENTS.filter((c) => CHECK_AFTER_2S.has(c)).map((c) => [c, 'POST'] as const)])(
    '%s %s',
    (client, method) =>
      predicted({ idleTimeoutMs: 300, close: 'fin' }, 2000, async ({ url, accepted, verdicts }) => {
        const v = verdicts.get(client) as ClientVerdict;
        // Each keeps connections longer than 300 ms; those that notice the FIN fail only in a race.
        // OkHttp does not notice it, and HttpClient looks only at connections idle 2 s or more:
        // both reuse the closed one (a GET is then retried by itself, a POST fails).
        expect(v.staleReuse).toBe(client === 'okhttp' || CHECK_AFTER_2S.has(client) ? 'every-reuse' : 'race');
        expectAgreement(v, await runClient(client, url, 800, method), accepted(), method);
      }),
    30_000,
  );
});

describe.concurrent('a path that drops idle connections silently (no FIN; the next request gets an RST); clients idle 1300 ms', () => {
  it.each(
    CLIENTS.flatMap(
      (c) =>
        [
          [c, 'GET'],
          [c, 'POST'],
        ] as const,
    ),
  )(
    '%s %s',
    (client, method) =>
      // No close to time: timeout-mismatch sees the silent drop within --max-idle (800 ms) + 200 ms.
      predicted({ idleTimeoutMs: 300, close: 'drop' }, 800, async ({ url, accepted, verdicts }) => {
        const v = verdicts.get(client) as ClientVerdict;
        expect(v.staleReuse).toBe('every-reuse');
        expectAgreement(v, await runClient(client, url, 1300, method), accepted(), method);
      }),
    30_000,
  );
});

/** The profiles that read "Keep-Alive: timeout=" (docs/clients.md, "How each client reads Keep-Alive"). */
const HINT_READERS = new Set(['node-global-agent', 'undici', 'httpclient4', 'httpclient5']);

describe.concurrent('a server with a 2 s idle timeout that advertises "Keep-Alive: timeout=2"; clients idle 1500 ms', () => {
  it.each(CLIENTS)(
    '%s',
    (client) =>
      predicted({ idleTimeoutMs: 2000, close: 'fin', advertise: true }, 4000, async ({ url, accepted, verdicts }) => {
        const v = verdicts.get(client) as ClientVerdict;
        const e = await runClient(client, url, 1500, 'GET');
        expectAgreement(v, e, accepted(), 'GET', true);
        // Clients whose limit (from the hint: Node's globalAgent 1 s, undici 0 = never reuses)
        // is below 1.5 s drop the connection first (a new connection for request 2); the others,
        // Apache HttpClient with the hint's 2 s among them, still reuse it at 1.5 s, before the
        // server's close.
        const dropsFirst = typeof v.idleMs === 'number' && v.idleMs < 1500;
        expect(accepted(), `${v.client}: limit ${String(v.idleMs)} ms from ${v.idleFrom}`).toBe(dropsFirst ? 2 : 1);
        expect(v.idleFrom === 'keep-alive-hint').toBe(HINT_READERS.has(client));
      }),
    30_000,
  );
});

const catalina = serverBinary('tomcat10', [`${CATALINA_HOME}/bin/catalina.sh`], 'apt-get install tomcat10 (Java 17)');
/** Past Tomcat's slowest idle close (its poller checks about once a second) by a margin for a busy machine. */
const PAST_CLOSE_MS = 600;
/** Tomcat's NIO poller wakes at least this often (selectorTimeout, 1000 ms by default) to expire idle connections. */
const TOMCAT_POLL_MS = 1000;

describe.skipIf(catalina === null)(
  'real Tomcat 10, keepAliveTimeout 2000 (Keep-Alive: timeout=2 only to "Connection: keep-alive"); clients idle past its slowest close',
  () => {
    let tomcat: StartedServer | undefined;
    let result: RunResult;
    let verdicts: Map<string, ClientVerdict>;
    beforeAll(async () => {
      tomcat = await startTomcat(catalina ?? 'catalina.sh', { keepAliveTimeout: 2000, maxKeepAliveRequests: 100, connectionTimeout: 20000 });
      result = await probe(tomcat.url, ['idle-timeout', 'timeout-mismatch'], { maxIdleMs: 6000 });
      verdicts = new Map(predictClients(serverFacts(result.scenarios, result.options.maxIdleMs), null).map((v) => [v.client, v]));
    }, 90_000);
    afterAll(async () => {
      await tomcat?.stop();
    });

    it('the hint reaches only the clients that ask for it: httpclient4 expires at 2 s, go keeps its own default', () => {
      expect(verdicts.get('httpclient4')).toMatchObject({ idleFrom: 'keep-alive-hint', idleMs: 2000 });
      expect(verdicts.get('go')?.idleFrom).toBe('default');
    });

    it.concurrent.each(CLIENTS.flatMap((c) => [[c, 'GET'] as const, [c, 'POST'] as const]))(
      '%s %s',
      async (client, method) => {
        const v = verdicts.get(client) as ClientVerdict;
        // The three samples may all have met the poller early: its next check can come up to a
        // second (selectorTimeout) after the shortest, so idle past that too.
        const slowest = Math.max(
          metric(result, 'idle-timeout', 'idleTimeoutMaxMs') as number,
          (metric(result, 'idle-timeout', 'idleTimeoutMs') as number) + TOMCAT_POLL_MS,
        );
        const idle = Math.ceil(slowest) + PAST_CLOSE_MS;
        // Tomcat counts no connections for the test: what the client saw decides (accepted: null).
        expectAgreement(v, await runClient(client, tomcat?.url ?? '', idle, method), null, method);
      },
      30_000,
    );
  },
);

/** A server that answers every request and records each request's Connection header, in order. */
async function headerLogger(): Promise<{ url: string; connection: (string | null)[]; close: () => Promise<void> }> {
  const connection: (string | null)[] = [];
  const server = http.createServer((req, res) => {
    connection.push(req.headers.connection ?? null);
    req.resume();
    res.setHeader('Content-Length', 3);
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    connection,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.concurrent('the request form each profile says its client sends (sendsKeepAlive: the hint Tomcat and Apache send only to "Connection: keep-alive")', () => {
  it.each(CLIENTS)(
    '%s',
    async (client) => {
      const profile = CLIENT_PROFILES.find((p) => p.name === client);
      const server = await headerLogger();
      try {
        await runClient(client, server.url, 50, 'GET');
      } finally {
        await server.close();
      }
      const first = server.connection[0];
      expect(first, `${client}: request 1 was received`).not.toBeUndefined();
      if (profile?.sendsKeepAlive === true) expect(first?.toLowerCase(), client).toBe('keep-alive');
      else if (profile?.sendsKeepAlive === false) expect(first, client).toBeNull();
      else expect.fail(`${client}: a runnable client whose profile leaves sendsKeepAlive unconfirmed`);
    },
    30_000,
  );
});
