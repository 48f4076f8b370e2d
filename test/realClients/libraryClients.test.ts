import { describe, expect, it } from 'vitest';
import { startLabServer } from '../../src/lab/labServer.js';
import { SERVE_DEFAULTS } from '../../src/options/labProfiles.js';
import type { LabProfile } from '../../src/options/labProfiles.js';
import { findCurl, findJava, findPython, maskPorts, runCurl, runRequestsClient, useJavaClients } from '../support/realClients.js';
import type { ClientExperience, ClientRun, CurlExperience, JavaClient, JavaExperience, RequestsExperience } from '../support/realClients.js';

/**
 * Real library clients against the lab, as clients.test.ts does for Node and Go: request 1,
 * an idle pause, request 2; what each client did is asserted as observed, with the source
 * line that makes it so. Versions (Debian bookworm packages; each client prints its own):
 * Apache HttpClient 4.5.14 / HttpCore 4.4.16 (libhttpclient-java), HttpClient 5.2.1 /
 * HttpCore 5.2.1 (libhttpclient5-java), OkHttp 3.13.1 / Okio 1.16.0 (libokhttp-java) on
 * OpenJDK 17, requests 2.28.1 / urllib3 1.26.12 on Python 3.11.2 (python3-requests), curl
 * 7.88.1. Sources: the rel/v4.5.14, rel/v4.4.16, rel/v5.2.1 and parent-3.13.1 tags; urllib3
 * 1.26.12 as installed (/usr/lib/python3/dist-packages/urllib3); curl-7_88_1.
 *
 * Each test starts its own lab and stops it, so the tests of a describe run concurrently (the
 * JVMs start while others idle). Timing as in clients.test.ts: request 2 goes out SLACK_MS
 * after the server acts; a slow client only idles longer, which changes nothing here.
 */
const SLACK_MS = 500;
const IDLE_TIMEOUT_MS = 300;
const CLIENT_IDLE_MS = IDLE_TIMEOUT_MS + SLACK_MS;
/** The hint case: "Keep-Alive: timeout=2", the flow dropped silently at 2 s, request 2 after it. */
const HINT_S = 2;
const HINT_CLIENT_IDLE_MS = HINT_S * 1000 + SLACK_MS;

const OK = { ok: true, status: 200 } as const;
const java = findJava();
const runJava = useJavaClients(java);
const python = findPython();
const curl = findCurl();

/** Runs the client against its own lab with `profile`; the lab is stopped whatever happens. */
async function observe<E extends ClientExperience>(
  profile: Partial<LabProfile>,
  run: (url: string) => Promise<E>,
): Promise<{ experience: E; accepted: number; port: number }> {
  const lab = await startLabServer({ ...SERVE_DEFAULTS, ...profile });
  try {
    const experience = await run(lab.url);
    expect(experience.first).toEqual(OK);
    return { experience, accepted: lab.accepted(), port: lab.port };
  } finally {
    await lab.close();
  }
}

const javaRun =
  (client: JavaClient) =>
  (url: string, run: ClientRun): Promise<JavaExperience> =>
    runJava(client, url, run);
const requestsRun = (url: string, run: ClientRun): Promise<RequestsExperience> => runRequestsClient(python ?? 'python3', url, run);
const curlRun = (url: string, run: ClientRun): Promise<CurlExperience> => runCurl(curl ?? 'curl', url, run);

const FIN: Partial<LabProfile> = { idleTimeoutMs: IDLE_TIMEOUT_MS, close: 'fin' };
const DROP: Partial<LabProfile> = { idleTimeoutMs: IDLE_TIMEOUT_MS, close: 'drop' };
const HINT: Partial<LabProfile> = { idleTimeoutMs: HINT_S * 1000, close: 'drop', advertise: true };

describe.skipIf(java === null).concurrent('Apache HttpClient 4.5 and 5.2 (HttpClients.custom().build(), i.e. createDefault())', () => {
  it.each(['httpclient4', 'httpclient5'] as const)(
    `%s, close 'fin' at ${IDLE_TIMEOUT_MS} ms, GET at ${CLIENT_IDLE_MS} ms: reuses the closed connection, gets EOF, retries on a new one`,
    async (client) => {
      const { experience, accepted } = await observe(FIN, (url) => javaRun(client)(url, { idleMs: CLIENT_IDLE_MS }));
      // The stale check runs only on a connection idle >= validateAfterInactivity, 2000 ms by
      // default (4.5.14 PoolingHttpClientConnectionManager.java L182-183; in 5.2.1 the same
      // manager's lease with validateAfterInactivity defaulting to 2 s), so at 800 ms the FIN goes unnoticed. The
      // request's read sees EOF: NoHttpResponseException, which the default retry handler
      // resends for a GET (4.5.14 DefaultHttpRequestRetryHandler.java L154-165; 5.2.1
      // DefaultHttpRequestRetryStrategy: idempotent methods, NoHttpResponseException not excluded).
      expect(experience.second).toEqual(OK);
      expect(experience.retried).toBe(true);
      expect(accepted).toBe(2);
    },
  );

  it.each([
    ['httpclient4', 'org.apache.http.NoHttpResponseException: 127.0.0.1:<server> failed to respond'],
    ['httpclient5', 'org.apache.hc.core5.http.NoHttpResponseException: 127.0.0.1:<server> failed to respond'],
  ] as const)(`%s, close 'fin', POST at ${CLIENT_IDLE_MS} ms: not retried (the request was sent), "%s"`, async (client, error) => {
    const { experience, accepted, port } = await observe(FIN, (url) => javaRun(client)(url, { idleMs: CLIENT_IDLE_MS, method: 'POST' }));
    // A POST encloses an entity and was fully sent, so it is not retried (4.5.14
    // DefaultHttpRequestRetryHandler L160-165, requestSentRetryEnabled false; 5.2.1
    // DefaultHttpRequestRetryStrategy.handleAsIdempotent: POST is not idempotent).
    expect(experience.second.ok).toBe(false);
    if (!experience.second.ok) expect(maskPorts(experience.second.error, port)).toBe(error);
    expect(experience.retried).toBe(false);
    expect(accepted).toBe(1);
  });

  it.each(['httpclient4', 'httpclient5'] as const)(`%s, close 'drop', GET at ${CLIENT_IDLE_MS} ms: the RST is retried on a new connection`, async (client) => {
    const { experience, accepted } = await observe(DROP, (url) => javaRun(client)(url, { idleMs: CLIENT_IDLE_MS }));
    expect(experience.second).toEqual(OK);
    expect(experience.retried).toBe(true);
    expect(accepted).toBe(2);
  });

  it.each(['httpclient4', 'httpclient5'] as const)(
    `%s, close 'drop', POST at ${CLIENT_IDLE_MS} ms: "java.net.SocketException: Connection reset", not retried`,
    async (client) => {
      const { experience, accepted } = await observe(DROP, (url) => javaRun(client)(url, { idleMs: CLIENT_IDLE_MS, method: 'POST' }));
      expect(experience.second).toMatchObject({ ok: false, error: 'java.net.SocketException: Connection reset' });
      expect(experience.retried).toBe(false);
      expect(accepted).toBe(1);
    },
  );

  it.each(['httpclient4', 'httpclient5'] as const)(
    `%s, "Keep-Alive: timeout=${HINT_S}" and a silent drop at ${HINT_S} s, GET at ${HINT_CLIENT_IDLE_MS} ms: honours the hint, a new connection, no retry`,
    async (client) => {
      const { experience, accepted } = await observe(HINT, (url) => javaRun(client)(url, { idleMs: HINT_CLIENT_IDLE_MS }));
      // The stale check (idle >= 2 s) cannot see a silent drop: only the hint's expiry
      // (DefaultConnectionKeepAliveStrategy, 4.5.14 L55-70, 5.2.1 L63-79: timeout × 1000 ms)
      // keeps the dead connection from being leased; a reuse would have been retried.
      expect(experience.second).toEqual(OK);
      expect(experience.retried).toBe(false);
      expect(accepted).toBe(2);
    },
  );
});

describe.skipIf(java === null).concurrent('OkHttp 3.13 (new OkHttpClient())', () => {
  it.each([
    ['fin', 'GET', CLIENT_IDLE_MS, FIN],
    ['fin', 'POST', CLIENT_IDLE_MS, FIN],
    ['drop', 'GET', CLIENT_IDLE_MS, DROP],
    ['drop', 'POST', CLIENT_IDLE_MS, DROP],
    [`drop at ${HINT_S} s, "Keep-Alive: timeout=${HINT_S}"`, 'GET', HINT_CLIENT_IDLE_MS, HINT],
  ] as const)('close %s, %s after %i ms: reuses the dead connection, fails, retries on a new one by itself', async (_name, method, idleMs, profile) => {
    const { experience, accepted } = await observe(profile, (url) => javaRun('okhttp')(url, { idleMs, method }));
    // Idle pooled sockets are not read, and the socket health check runs only for non-GET
    // requests on a connection idle >= 10 s (3.13.1 RealConnection.isHealthy,
    // StreamAllocation.findHealthyConnection), so the FIN goes unnoticed; the Keep-Alive header
    // is never read. retryOnConnectionFailure (default true, OkHttpClient.Builder) resends any
    // request whose body is not unrepeatable (RetryAndFollowUpInterceptor.recover), POST included.
    expect(experience.second).toEqual(OK);
    expect(experience.retried).toBe(true);
    expect(accepted).toBe(2);
  });
});

describe.skipIf(python === null).concurrent('Python requests.Session (urllib3 1.26)', () => {
  it.each(['GET', 'POST'] as const)(
    `close 'fin', %s at ${CLIENT_IDLE_MS} ms: the poll before reuse sees the FIN, a new connection, no error`,
    async (method) => {
      const { experience, accepted } = await observe(FIN, (url) => requestsRun(url, { idleMs: CLIENT_IDLE_MS, method }));
      // _get_conn: is_connection_dropped(conn) (a zero-timeout wait_for_read) → conn.close(),
      // logged "Resetting dropped connection" (urllib3 1.26.12 connectionpool.py L273-275).
      expect(experience.second).toEqual(OK);
      expect(experience).toMatchObject({ resetDropped: true, retried: false });
      expect(accepted).toBe(2);
    },
  );

  it.each(['GET', 'POST'] as const)(
    `close 'drop', %s at ${CLIENT_IDLE_MS} ms: ConnectionResetError, not retried (requests: Retry(0, read=False))`,
    async (method) => {
      const { experience, accepted } = await observe(DROP, (url) => requestsRun(url, { idleMs: CLIENT_IDLE_MS, method }));
      // requests 2.28.1 adapters.py L67, L144: DEFAULT_RETRIES = 0 → Retry(0, read=False); the
      // ProtocolError("Connection aborted.", err) of urlopen (connectionpool.py L787) is raised
      // as requests.exceptions.ConnectionError.
      expect(experience.second).toMatchObject({
        ok: false,
        error: "requests.exceptions.ConnectionError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
      });
      expect(experience).toMatchObject({ resetDropped: false, retried: false });
      expect(accepted).toBe(1);
    },
  );

  it(`"Keep-Alive: timeout=${HINT_S}" and a silent drop, GET at ${HINT_CLIENT_IDLE_MS} ms: the hint is ignored, the reuse fails`, async () => {
    const { experience, accepted } = await observe(HINT, (url) => requestsRun(url, { idleMs: HINT_CLIENT_IDLE_MS }));
    expect(experience.second).toMatchObject({ ok: false, error: expect.stringContaining('Connection reset by peer') });
    expect(accepted).toBe(1);
  });
});

describe.skipIf(curl === null).concurrent('curl CLI, both URLs in one invocation, --rate spacing the transfers', () => {
  it.each(['GET', 'POST'] as const)(`close 'fin', %s at ${CLIENT_IDLE_MS} ms: "seems to be dead" before reuse, a new connection`, async (method) => {
    const { experience, accepted } = await observe(FIN, (url) => curlRun(url, { idleMs: CLIENT_IDLE_MS, method }));
    // ConnectionExists → extract_if_dead → Curl_conn_seems_dead polls the socket (curl-7_88_1
    // lib/url.c), "Connection %ld seems to be dead".
    expect(experience.second).toEqual(OK);
    expect(experience).toMatchObject({ seemsDead: true, reused: false, retried: false });
    expect(accepted).toBe(2);
  });

  it.each([
    ['drop', 'GET', CLIENT_IDLE_MS, DROP],
    ['drop', 'POST', CLIENT_IDLE_MS, DROP],
    [`drop at ${HINT_S} s, "Keep-Alive: timeout=${HINT_S}"`, 'GET', HINT_CLIENT_IDLE_MS, HINT],
  ] as const)('close %s, %s after %i ms: reuses, gets the RST, retries on a fresh connection (any method)', async (_name, method, idleMs, profile) => {
    const { experience, accepted } = await observe(profile, (url) => curlRun(url, { idleMs, method }));
    // Curl_retry_request (curl-7_88_1 lib/transfer.c): a reused connection that got no byte
    // back is retried for HTTP whatever the method, "Connection died, retrying a fresh connect".
    expect(experience.second).toEqual(OK);
    expect(experience).toMatchObject({ seemsDead: false, reused: true, retried: true });
    expect(accepted).toBe(2);
  });
});
