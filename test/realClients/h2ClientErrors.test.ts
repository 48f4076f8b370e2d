import { execFileSync } from 'node:child_process';
import http2 from 'node:http2';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CURL_H2_BEHAVIOUR, GO_H2_BEHAVIOUR, NODE_HTTP2_PROFILE, OKHTTP_H2_BEHAVIOUR } from '../../src/catalog/h2Profiles.js';
import type { H2Ending, H2ScriptedServer } from '../support/h2Scripted.js';
import { startH2Scripted } from '../support/h2Scripted.js';
import { findCurl, findGo, findJava, runCurl, useGoClient, useJavaClients } from '../support/realClients.js';
import { issueTestPki } from '../support/tls.js';

/**
 * The HTTP/2 profiles' GOAWAY and lost-connection facts (src/catalog/h2Profiles.ts), checked
 * with the real clients: a scripted server (test/support/h2Scripted.ts) answers request 1 and
 * meets request 2, on the same connection, with GOAWAY(NO_ERROR, last stream 1) — the request
 * raced a graceful close and was not processed —, a FIN or an RST. What each client then shows
 * must be what its profile says: resent or not, and an error text from its lists.
 */

/** Short: the race is scripted, not waited for. */
const IDLE_MS = 100;
/** Bound on every wait of the in-process Node client. */
const WAIT_MS = 3000;

const go = findGo();
const runGo = useGoClient(go);
const curl = findCurl();
const java = findJava();
const runJava = useJavaClients(java);
const curlVersion = curl === null ? '' : (execFileSync(curl, ['--version'], { encoding: 'utf8', timeout: 5000 }).split('\n')[0] ?? '');

const dir = mkdtempSync(path.join(tmpdir(), 'kap-h2errors-'));
const pki = issueTestPki(dir);
const tlsFiles = { key: readFileSync(pki.key), cert: readFileSync(pki.cert) };
const servers: H2ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function scripted(ending: H2Ending, overTls: boolean): Promise<H2ScriptedServer> {
  const server = await startH2Scripted(ending, overTls ? tlsFiles : null);
  servers.push(server);
  return server;
}

/** The texts of a profile that occur in what the client printed (the client adds the URL or the address around them). */
const quoted = (printed: string, texts: readonly string[]): string[] => texts.filter((t) => printed.includes(t));

describe.skipIf(go === null)('Go HTTP/2 transport (Go 1.19, TLS, ALPN h2): the go profile', () => {
  it.each(['GET', 'POST'] as const)('%s racing a GOAWAY is resent on a new connection: retriesUnprocessed replayable', async (method) => {
    expect(GO_H2_BEHAVIOUR.retriesUnprocessed).toBe('replayable');
    const server = await scripted('goaway', true);
    // The fixture's POST body is a strings.Reader, so http.NewRequest sets GetBody: replayable.
    const seen = await runGo(server.url, { idleMs: IDLE_MS, mode: 'h2-tls', method });
    expect(seen.first.ok).toBe(true);
    expect(seen.second).toEqual({ ok: true, status: 200 });
    expect(seen.gotConn).toEqual([
      { reused: true, wasIdle: true },
      { reused: false, wasIdle: false },
    ]);
    expect(server.requests).toEqual([[1, 3], [1]]);
  });

  it.each([
    ['fin', 'unexpected EOF'],
    ['rst', 'read: connection reset by peer'],
  ] as const)('a request racing a %s without GOAWAY fails with a lostErrors text and is not resent: retriesLost none', async (ending, text) => {
    expect(GO_H2_BEHAVIOUR.retriesLost).toBe('none');
    const server = await scripted(ending, true);
    const seen = await runGo(server.url, { idleMs: IDLE_MS, mode: 'h2-tls' });
    expect(seen.second.ok).toBe(false);
    const printed = seen.second.ok ? '' : seen.second.error;
    expect(quoted(printed, GO_H2_BEHAVIOUR.lostErrors)).toEqual([text]);
    expect(seen.retried).toBe(false);
    expect(server.requests).toEqual([[1, 3]]);
  });
});

// The curl profile's HTTP/2 facts are those of the CLI measured here (Debian 12's 7.88.1).
describe.skipIf(curl === null || !curlVersion.startsWith('curl 7.88.'))('curl 7.88 --http2 (TLS, ALPN h2): the curl profile', () => {
  const args = ['--http2', '--insecure'];

  it('a transfer racing a GOAWAY fails with the goawayErrors text and is not resent: retriesUnprocessed none', async () => {
    expect(CURL_H2_BEHAVIOUR.retriesUnprocessed).toBe('none');
    const server = await scripted('goaway', true);
    const seen = await runCurl(curl as string, server.url, { idleMs: IDLE_MS }, args);
    expect(seen.reused).toBe(true);
    expect(seen.second).toMatchObject({ ok: false, error: CURL_H2_BEHAVIOUR.goawayErrors[0] });
    expect(server.requests).toEqual([[1, 3]]);
  });

  it('racing a FIN it fails with (18); racing an RST it is resent on a new connection: retriesLost after-rst', async () => {
    expect(CURL_H2_BEHAVIOUR.retriesLost).toBe('after-rst');
    const fin = await scripted('fin', true);
    const afterFin = await runCurl(curl as string, fin.url, { idleMs: IDLE_MS }, args);
    expect(afterFin.second).toMatchObject({ ok: false, error: CURL_H2_BEHAVIOUR.lostErrors[0] });
    expect(fin.requests).toEqual([[1, 3]]);
    const rst = await scripted('rst', true);
    const afterRst = await runCurl(curl as string, rst.url, { idleMs: IDLE_MS }, args);
    expect(afterRst.second).toEqual({ ok: true, status: 200 });
    expect(afterRst.retried).toBe(true);
    expect(rst.requests).toEqual([[1, 3], [1]]);
  });
});

// OkHttp 3.13.1 (Debian's libokhttp-java) with H2_PRIOR_KNOWLEDGE: the profile is read at 5.4.0,
// where goAway and the reader's close work the same way (Http2Connection.kt cited in the profile).
describe.skipIf(java === null)('OkHttp 3.13 over HTTP/2 (h2c, prior knowledge): the okhttp profile', () => {
  it.each([
    ['goaway', 'GET'],
    ['goaway', 'POST'],
    ['fin', 'GET'],
    ['fin', 'POST'],
    ['rst', 'POST'],
  ] as const)('a request racing a %s (%s) is resent on a new connection: retryOnConnectionFailure', async (ending, method) => {
    expect(ending === 'goaway' ? OKHTTP_H2_BEHAVIOUR.retriesUnprocessed : OKHTTP_H2_BEHAVIOUR.retriesLost).toBe('replayable');
    const server = await scripted(ending, false);
    const seen = await runJava('okhttp-h2c', server.url, { idleMs: IDLE_MS, method });
    expect(seen.first.ok).toBe(true);
    expect(seen.second).toEqual({ ok: true, status: 200 });
    expect(seen.attempts).toBe(2);
    // OkHttp's first client stream is 3 (1 is kept for an HTTP/1 upgrade).
    expect(server.requests).toEqual([[3, 5], [3]]);
  });
});

/** What Node's http2 client showed for one request: its response status, the error as Node prints it, and the stream's close code. */
interface NodeStreamEnd {
  readonly status: number | null;
  readonly error: string | null;
  readonly rstCode: number | undefined;
}

function requestOnce(session: http2.ClientHttp2Session): Promise<NodeStreamEnd> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no 'close' within ${WAIT_MS} ms`)), WAIT_MS);
    let status: number | null = null;
    let error: string | null = null;
    const stream = session.request({ ':path': '/' });
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('error', (e: Error) => {
      error = String(e);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ status, error, rstCode: stream.rstCode });
    });
    stream.resume();
    stream.end();
  });
}

/** Connects with h2c prior knowledge, sends request 1 and, once it is answered, request 2; then tries a third. */
async function nodeRun(ending: H2Ending): Promise<{ second: NodeStreamEnd; third: string }> {
  const server = await scripted(ending, false);
  const session = http2.connect(server.url);
  session.on('error', () => {});
  try {
    const first = await requestOnce(session);
    expect(first).toMatchObject({ status: 200, error: null });
    const second = await requestOnce(session);
    let third = 'no error';
    try {
      session.request({ ':path': '/' }).on('error', () => {});
    } catch (e) {
      third = String(e);
    }
    expect(server.requests[0]).toEqual([1, 3]);
    return { second, third };
  } finally {
    session.destroy();
  }
}

describe('Node http2.connect() (Node 20, h2c): the node-http2 profile', () => {
  const h2 = NODE_HTTP2_PROFILE.h2;

  it('a request racing a GOAWAY fails with REFUSED_STREAM, and the session takes no new request: nothing is resent', async () => {
    expect(h2.retriesUnprocessed).toBe('none');
    const { second, third } = await nodeRun('goaway');
    expect(second).toEqual({ status: null, error: 'Error [ERR_HTTP2_STREAM_ERROR]: Stream closed with error code NGHTTP2_REFUSED_STREAM', rstCode: 7 });
    expect(h2.goawayErrors).toContain(second.error);
    expect(h2.goawayErrors).toContain(third);
  });

  it('a GOAWAY with an error code destroys the session with ERR_HTTP2_SESSION_ERROR', async () => {
    const { second } = await nodeRun('goaway-error');
    expect(second.error).toBe('Error [ERR_HTTP2_SESSION_ERROR]: Session closed with error code 2');
    expect(h2.goawayErrors).toContain(second.error);
  });

  it('a FIN without GOAWAY ends the racing request with rstCode 8 and no error at all, as onLost says', async () => {
    expect(h2.retriesLost).toBe('none');
    const { second } = await nodeRun('fin');
    expect(second).toEqual({ status: null, error: null, rstCode: http2.constants.NGHTTP2_CANCEL });
    expect(h2.onLost).toContain('rstCode 8');
  });

  it('an RST without GOAWAY gives read ECONNRESET, a lostErrors text', async () => {
    const { second } = await nodeRun('rst');
    expect(second.status).toBeNull();
    expect(h2.lostErrors).toContain(second.error);
  });
});
