import http2 from 'node:http2';
import type net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { useLab } from './support/lab.js';
import { metric, probe, scenario } from './support/probe.js';
import { PROBE_LAG_MS } from './support/timing.js';
import { issueTestPki } from './support/tls.js';

/**
 * The probe's HTTP/2 against Node's own http2 server (nghttp2 underneath), a real server whose
 * idle handling the test sets: `session.setTimeout(T)` fires after T without socket activity,
 * and `session.close()` ends it gracefully (GOAWAY NO_ERROR, then FIN). Node cannot close an
 * HTTP/2 connection without a GOAWAY (session.destroy sends one too; the session's socket
 * proxy refuses end and destroy): the lab server's `--goaway none` covers that case.
 */

const servers: (http2.Http2Server | http2.Http2SecureServer)[] = [];
const sessions = new Set<http2.ServerHttp2Session>();
afterEach(async () => {
  for (const session of sessions) session.destroy();
  sessions.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** Keeps every session of `server` so afterEach can end them (server.close waits for open sessions). */
function track<S extends http2.Http2Server | http2.Http2SecureServer>(server: S): S {
  servers.push(server);
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return server;
}

/** An h2c server that ends idle sessions after `idleMs` (GOAWAY, then FIN) and caps streams per session at `cap` (0: none). */
async function h2cServer(idleMs: number, cap = 0): Promise<string> {
  const server = track(http2.createServer({ settings: { maxConcurrentStreams: 64 } }));
  server.on('session', (session) => {
    let streams = 0;
    session.setTimeout(idleMs, () => session.close());
    session.on('stream', () => {
      streams += 1;
      // As nginx does at keepalive_requests: GOAWAY naming this stream, close once it is served.
      if (cap > 0 && streams === cap) session.close();
    });
  });
  server.on('stream', (stream) => {
    stream.on('error', () => undefined); // a stream the session error ends (the burst over the limit)
    stream.respond({ ':status': 200, server: 'node-h2-test' });
    stream.end('ok\n');
  });
  server.on('sessionError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

describe('HTTP/2 idle timeout against Node http2 (h2c, prior knowledge)', () => {
  it('a graceful idle close: GOAWAY NO_ERROR after T, then the FIN; the idle time is measured to the GOAWAY', async () => {
    const url = await h2cServer(1200);
    const result = await probe(url, ['h2-idle-timeout'], { maxIdleMs: 5000, protocol: 'h2' });
    expect(result.target.protocols).toEqual(['h2']);
    expect(result.target.server).toBe('node-h2-test');
    const s = scenario(result, 'h2-idle-timeout');
    expect(s.protocol).toBe('h2');
    expect(s.status).toBe('pass');
    const idle = metric(result, 'h2-idle-timeout', 'idleTimeoutMs') as number;
    // Node's session timer fires after 1200 ms without socket activity (its own timer slack aside).
    expect(idle).toBeGreaterThanOrEqual(1200 - 5);
    expect(idle).toBeLessThan(1200 + PROBE_LAG_MS + 100);
    expect(metric(result, 'h2-idle-timeout', 'goawayErrorCode')).toBe('NO_ERROR');
    expect(metric(result, 'h2-idle-timeout', 'goawayLastStreamId')).toBe(1);
    expect(metric(result, 'h2-idle-timeout', 'closedBy')).toBe('server');
    expect(metric(result, 'h2-idle-timeout', 'closeKind')).toBe('fin');
    expect(metric(result, 'h2-idle-timeout', 'maxConcurrentStreams')).toBe(64);
    expect(metric(result, 'h2-idle-timeout', 'closeAfterGoawayMs')).toBeLessThan(PROBE_LAG_MS);
    // Every frame is on the timeline: the GOAWAY with its fields.
    const goaway = s.connections[0]?.events.find((e) => e.kind === 'h2-frame' && e.dir === 'in' && e.frame.type === 'GOAWAY');
    expect(goaway).toMatchObject({ frame: { errorCode: 'NO_ERROR', lastStreamId: 1 } });
    expect(s.advice.join(' ')).toContain('HTTP/2 clients must not idle a connection past');
  });

  it('a stream cap announced by GOAWAY: maxRequests counts the streams served, signalled', async () => {
    const url = await h2cServer(10_000, 7);
    const result = await probe(url, ['h2-request-cap'], { maxIdleMs: 5000, protocol: 'h2', maxRequests: 50 });
    expect(metric(result, 'h2-request-cap', 'maxRequests')).toBe(7);
    expect(metric(result, 'h2-request-cap', 'signalled')).toBe(true);
    expect(metric(result, 'h2-request-cap', 'goawayErrorCode')).toBe('NO_ERROR');
  });
});

describe('HTTP/2 race, concurrency and PING against Node http2', () => {
  it('h2-race: requests before T are answered; one due after the GOAWAY is not sent (a client takes a new connection)', async () => {
    const url = await h2cServer(1000);
    const result = await probe(url, ['h2-race'], { maxIdleMs: 5000, protocol: 'h2' });
    const race = scenario(result, 'h2-race').race;
    expect(race?.idleTimeoutMs).toBeGreaterThanOrEqual(1000 - 5);
    const trials = race?.trials ?? [];
    expect(trials).toHaveLength(20);
    // Node's session timer restarts on every frame, so only requests well before T are sure to be answered.
    for (const t of trials.filter((x) => x.offsetMs <= -100)) expect(t.outcome, `${t.connection}`).toBe('answered');
    for (const t of trials.filter((x) => x.closeSeenBeforeWrite)) expect(['above-last-stream-id', 'not-sent']).toContain(t.outcome);
    expect(metric(result, 'h2-race', 'safeClientIdleMs')).toBeLessThan(1000);
  });

  it('h2-concurrency: one stream over MAX_CONCURRENT_STREAMS ends the connection (nghttp2 answers with GOAWAY)', async () => {
    const url = await h2cServer(10_000);
    const result = await probe(url, ['h2-concurrency'], { maxIdleMs: 5000, protocol: 'h2' });
    expect(metric(result, 'h2-concurrency', 'maxConcurrentStreams')).toBe(64);
    // RFC 9113 §5.1.2 allows a stream error (PROTOCOL_ERROR or REFUSED_STREAM); Node's session treats it as a connection error.
    expect(metric(result, 'h2-concurrency', 'enforced')).toBe('goaway');
    const goaway = scenario(result, 'h2-concurrency').connections[0]?.events.find((e) => e.kind === 'h2-frame' && e.frame.type === 'GOAWAY' && e.dir === 'in');
    expect(goaway).toMatchObject({ frame: { errorCode: 'INTERNAL_ERROR' } });
  });

  it('h2-ping: PINGs do not keep a Node session open (nghttp2 answers them below the session timer), polices none', async () => {
    const url = await h2cServer(800);
    const result = await probe(url, ['h2-ping'], { maxIdleMs: 5000, protocol: 'h2' });
    expect(metric(result, 'h2-ping', 'idleTimeoutMs')).toBeGreaterThanOrEqual(800 - 5);
    // session.setTimeout counts stream activity; the PINGs nghttp2 acknowledges by itself do not
    // refresh it: the pinged connection gets its GOAWAY with the quiet one, in the middle of the pings.
    expect(metric(result, 'h2-ping', 'pingResetsIdle')).toBe(false);
    expect(metric(result, 'h2-ping', 'pingPolicy')).toBe('ok');
    expect(metric(result, 'h2-ping', 'pingRttMs')).toBeLessThan(PROBE_LAG_MS);
  });
});

describe('protocol choice', () => {
  const lab = useLab();

  it('auto against an HTTP/1-only server: the HTTP/2 scenarios are left out and the report says why', async () => {
    const server = await lab({});
    const result = await probe(server.url, ['http11-reuse', 'h2-idle-timeout'], { maxIdleMs: 6000 });
    expect(result.target.protocols).toEqual(['http/1.1']);
    expect(result.target.h2Refusal).toMatch(/does not speak HTTP\/2 with prior knowledge: it answered the preface with "HTTP\/1\.1 400/);
    expect(result.scenarios.map((s) => s.id)).toEqual(['http11-reuse']);
  });

  it('--protocol h2 against an HTTP/1-only server: one error line, exit code 3', async () => {
    const server = await lab({});
    const { code, stdout, stderr } = await runCli(['run', server.url, '--protocol', 'h2', '--json', '-s', 'h2-idle-timeout']);
    expect(code).toBe(3);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('[h2-unsupported]');
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: 'h2-unsupported' }, scenarios: [] });
  });

  describe('over TLS', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kap-h2tls-'));
    const pki = issueTestPki(dir);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('ALPN offers h2 and http/1.1: each scenario speaks its own protocol on the same port', async () => {
      const server = track(http2.createSecureServer({ key: readFileSync(pki.key), cert: readFileSync(pki.cert), allowHTTP1: true }));
      server.on('session', (session) => session.setTimeout(1000, () => session.close()));
      server.on('request', (_req, res) => {
        res.setHeader('server', 'node-h2-tls');
        res.end('ok\n');
      });
      // HTTP/1 connections of allowHTTP1 idle out by the server's keepAliveTimeout (5 s by default).
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
      const result = await probe(url, ['http11-reuse', 'h2-idle-timeout'], { maxIdleMs: 5000, insecure: true });
      expect(result.target.protocols).toEqual(['http/1.1', 'h2']);
      const alpn = (id: string): unknown => scenario(result, id).connections[0]?.events.find((e) => e.kind === 'tls');
      expect(alpn('http11-reuse')).toMatchObject({ alpn: 'http/1.1' });
      expect(alpn('h2-idle-timeout')).toMatchObject({ alpn: 'h2' });
      expect(metric(result, 'http11-reuse', 'reused')).toBe(true);
      expect(metric(result, 'h2-idle-timeout', 'goawayErrorCode')).toBe('NO_ERROR');
    });
  });
});
