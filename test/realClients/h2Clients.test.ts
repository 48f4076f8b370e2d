import http2 from 'node:http2';
import type net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { metric, probe } from '../support/probe.js';
import { findCurl, findGo, runCurl, useGoClient } from '../support/realClients.js';
import { issueTestPki } from '../support/tls.js';

/**
 * What the HTTP/2 report predicts, checked with real clients. The probe measures T, the idle
 * time to the server's GOAWAY, and says the GOAWAY (NO_ERROR) comes before the close: a
 * client idling past T then finds its connection ended and opens a new one, without an
 * error; below T it reuses the connection. Go's HTTP/2 transport and curl --http2 (both over
 * TLS, ALPN h2) idle on either side of the T the probe measured.
 * The servers are Node's http2 (nghttp2): session.setTimeout(T) then session.close(), a
 * graceful GOAWAY and FIN.
 */

const T = 800;
/** Well below T and well past it, for a loaded machine. */
const BELOW_MS = 250;
const PAST_MS = T + 700;

const go = findGo();
const runGo = useGoClient(go);
const curl = findCurl();

const dir = mkdtempSync(path.join(tmpdir(), 'kap-h2clients-'));
const pki = issueTestPki(dir);
const servers: (http2.Http2Server | http2.Http2SecureServer)[] = [];
const sessions = new Set<http2.ServerHttp2Session>();
afterAll(async () => {
  for (const s of sessions) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  rmSync(dir, { recursive: true, force: true });
});

async function serve(server: http2.Http2Server | http2.Http2SecureServer, scheme: 'http' | 'https'): Promise<string> {
  servers.push(server);
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(T, () => session.close());
  });
  server.on('stream', (stream: http2.ServerHttp2Stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `${scheme}://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

/** The probe's word on the server: T (to the GOAWAY) and a graceful GOAWAY before the server's close. */
async function expectGracefulGoaway(url: string): Promise<void> {
  const result = await probe(url, ['h2-idle-timeout'], { maxIdleMs: 5000, protocol: 'h2', insecure: true });
  const idle = metric(result, 'h2-idle-timeout', 'idleTimeoutMs') as number;
  expect(idle).toBeGreaterThanOrEqual(T - 5);
  expect(idle).toBeLessThan(BELOW_MS + T);
  expect(metric(result, 'h2-idle-timeout', 'goawayErrorCode')).toBe('NO_ERROR');
  expect(metric(result, 'h2-idle-timeout', 'closedBy')).toBe('server');
}

describe.skipIf(go === null)('Go HTTP/2 transport (TLS, ALPN h2)', () => {
  it('below T it reuses the connection; past T (after the GOAWAY) it opens a new one, no error: as the report says', async () => {
    const url = await serve(http2.createSecureServer({ key: readFileSync(pki.key), cert: readFileSync(pki.cert) }), 'https');
    await expectGracefulGoaway(url);
    const below = await runGo(url, { idleMs: BELOW_MS, mode: 'h2-tls' });
    expect(below.second).toEqual({ ok: true, status: 200 });
    expect(below.gotConn).toEqual([{ reused: true, wasIdle: true }]);
    const past = await runGo(url, { idleMs: PAST_MS, mode: 'h2-tls' });
    expect(past.second).toEqual({ ok: true, status: 200 });
    expect(past.gotConn).toEqual([{ reused: false, wasIdle: false }]);
  });
});

// curl 7.88.1 (Debian 12) fails a second request on a reused h2c prior-knowledge connection with
// "(16) Error in the HTTP2 framing layer" (curl/curl#10634, fixed in 8.0 by #10643), so curl is
// checked over TLS, where ALPN picks h2.
describe.skipIf(curl === null)('curl --http2 (TLS, ALPN h2)', () => {
  it('below T it reuses the connection; past T it finds it dead and connects again, no error', async () => {
    const url = await serve(http2.createSecureServer({ key: readFileSync(pki.key), cert: readFileSync(pki.cert) }), 'https');
    await expectGracefulGoaway(url);
    const args = ['--http2', '--insecure'];
    const below = await runCurl(curl as string, url, { idleMs: BELOW_MS }, args);
    expect(below.second).toEqual({ ok: true, status: 200 });
    expect(below.reused).toBe(true);
    const past = await runCurl(curl as string, url, { idleMs: PAST_MS }, args);
    expect(past.second).toEqual({ ok: true, status: 200 });
    expect(past.reused).toBe(false);
  });
});
