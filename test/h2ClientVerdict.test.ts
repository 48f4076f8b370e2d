import http2 from 'node:http2';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { H2_CLIENTS } from '../src/catalog/clientProfiles.js';
import type { H2ClientVerdict } from '../src/model/result.js';
import { renderHtml } from '../src/report/html.js';
import { renderTerminal } from '../src/report/terminal.js';
import { predictH2Clients } from '../src/verdict/h2Clients.js';
import type { H2ServerFacts } from '../src/verdict/h2Clients.js';
import { probe } from './support/probe.js';
import { expectValid } from './support/reportSchema.js';

/**
 * The HTTP/2 client verdicts (src/verdict/h2Clients.ts, `h2Clients` in the JSON report): the
 * rules over every profile, then the report of a real run against Node's http2 server ending
 * idle sessions with a GOAWAY, and against one that closes them without.
 */

const byName = (verdicts: readonly H2ClientVerdict[], name: string): H2ClientVerdict => {
  const v = verdicts.find((x) => x.client === name);
  if (v === undefined) throw new Error(`no verdict for ${name}`);
  return v;
};

const facts = (over: Partial<H2ServerFacts> = {}): H2ServerFacts => ({ idleTimeoutMs: 2000, goaway: true, reset: false, windowMs: 0, ...over });

describe('predictH2Clients', () => {
  it('judges every HTTP/2 client once, and none without a measured T', () => {
    expect(predictH2Clients(null, null)).toEqual([]);
    expect(predictH2Clients(facts(), null).map((v) => v.client)).toEqual(H2_CLIENTS.map((c) => c.name));
  });

  it('past a graceful GOAWAY at T = 2 s: Go resends a replayable request, gRPC resends, undici and Node http2 fail, each with its fix', () => {
    const verdicts = predictH2Clients(facts(), null);
    const go = byName(verdicts, 'go');
    expect(go).toMatchObject({ idleMs: 90000, endsFirst: 'server', serverEnds: 'goaway', race: 'resent-if-replayable' });
    expect(go.errors).toContain("http2: Transport received Server's graceful shutdown GOAWAY");
    // safeIdleMs(2000) = 1000 ms: whole seconds for Go's setting.
    expect(go.fix).toBe('set Transport.IdleConnTimeout to 1 s or less: http.DefaultTransport.(*http.Transport).IdleConnTimeout = 1 * time.Second');
    expect(byName(verdicts, 'grpc-go')).toMatchObject({ race: 'resent', errors: [], fix: null });
    expect(byName(verdicts, 'undici')).toMatchObject({ idleMs: null, race: 'fails', fix: null });
    expect(byName(verdicts, 'node-http2').fix).toBe('set session.setTimeout to 1 s or less: session.setTimeout(1000, () => session.close())');
  });

  it('without GOAWAY: curl resends only after an RST; every race error is a lost-connection text', () => {
    const fin = predictH2Clients(facts({ goaway: false }), null);
    expect(byName(fin, 'curl')).toMatchObject({ serverEnds: 'close', race: 'fails' });
    expect(byName(predictH2Clients(facts({ goaway: false, reset: true }), null), 'curl')).toMatchObject({ race: 'resent', errors: [], fix: null });
    for (const v of fin) {
      const lost = H2_CLIENTS.find((c) => c.name === v.client)?.h2.lostErrors ?? [];
      expect(
        v.errors.filter((e) => !lost.includes(e)),
        v.client,
      ).toEqual([]);
    }
  });

  it('a client whose limit is below T less the margin closes first: no race, nothing to fix', () => {
    // T = 10 min: OkHttp's 5 min and curl's 118 s are below the 7.5 min margin, gRPC's 30 min is not.
    const verdicts = predictH2Clients(facts({ idleTimeoutMs: 600_000 }), null);
    for (const name of ['okhttp', 'curl', 'go']) expect(byName(verdicts, name)).toMatchObject({ endsFirst: 'client', race: 'none', errors: [], fix: null });
    expect(byName(verdicts, 'grpc-go').endsFirst).toBe('server');
    // The race window widens the margin (twice the window): with a 200 s window the safe limit is 200 s, below OkHttp's 5 min.
    expect(byName(predictH2Clients(facts({ idleTimeoutMs: 600_000, windowMs: 200_000 }), null), 'okhttp').endsFirst).toBe('server');
  });

  it("puts the user's client first", () => {
    const verdicts = predictH2Clients(facts(), 'okhttp');
    expect(verdicts[0]).toMatchObject({ client: 'okhttp', yours: true });
    expect(verdicts.filter((v) => v.yours)).toHaveLength(1);
  });
});

/** Node's http2 server on 127.0.0.1 (h2c): sessions idle `idleMs` after their last stream are closed gracefully (GOAWAY, then FIN) or by destroying the socket (FIN, no GOAWAY). */
async function nodeH2Server(idleMs: number, ending: 'goaway' | 'close'): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http2.createServer();
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // The raw socket: destroying it ends the connection with a FIN and no GOAWAY.
    if (ending === 'close') socket.setTimeout(idleMs, () => socket.destroy());
  });
  server.on('session', (session: http2.ServerHttp2Session) => {
    if (ending === 'goaway') session.setTimeout(idleMs, () => session.close());
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const IDLE_MS = 800;
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

describe('h2Clients in the report of a real run (Node http2 server, h2c)', () => {
  it.each([
    ['goaway', 'goaway'],
    ['close', 'close'],
  ] as const)('a server ending idle sessions with %s: every client judged against the measured T', async (ending, serverEnds) => {
    const server = await nodeH2Server(IDLE_MS, ending);
    stops.push(server.close);
    const result = await probe(server.url, ['h2-idle-timeout'], { maxIdleMs: 5000, protocol: 'h2' });
    const T = result.scenarios[0]?.metrics.idleTimeoutMs;
    expect(typeof T).toBe('number');
    // Node's timers fire late, never early; a loaded machine adds well under a second.
    expect(T as number).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(T as number).toBeLessThan(IDLE_MS + 1000);
    expect(result.h2Clients.map((v) => v.client)).toEqual(H2_CLIENTS.map((c) => c.name));
    expect(result.h2Clients.every((v) => v.serverEnds === serverEnds && v.endsFirst === 'server')).toBe(true);
    const go = byName(result.h2Clients, 'go');
    expect(go.race).toBe(ending === 'goaway' ? 'resent-if-replayable' : 'fails');
    expect(go.errors).toContain(ending === 'goaway' ? "http2: Transport received Server's graceful shutdown GOAWAY" : 'unexpected EOF');
    // T under 2 s: the margin is half of T, below Go's whole-second setting.
    expect(go.fix).toMatch(/^set Transport\.IdleConnTimeout to at most \d+ ms/);
    expectValid(expect, JSON.parse(JSON.stringify(result)));
    // The terminal groups the clients by what a racing request meets (the full table with -v); the HTML has a row each.
    const terminal = renderTerminal(result, { color: false });
    expect(terminal).toContain('HTTP/2 clients against this server');
    expect(terminal).toMatch(
      ending === 'goaway' ? /racing its GOAWAY: [^\n]*resent if its body can be replayed: go\b/ : /racing its close \(no GOAWAY\): fails: [^;\n]*\bgo\b/,
    );
    expect(renderTerminal(result, { color: false, verbose: true })).toMatch(/node-http2 .* none .* the server \((GOAWAY|close, no GOAWAY)\)/);
    expect(renderHtml(result)).toContain(`<tr data-client="go" data-race="${go.race}">`);
  });
});
