import { describe, expect, it } from 'vitest';
import { UnknownClientError, chooseClient } from '../src/plan/client.js';
import { predictClients } from '../src/verdict/clients.js';
import type { ServerFacts } from '../src/verdict/clients.js';
import type { ClientVerdict } from '../src/model/result.js';
import { adviceFor } from '../src/verdict/advice.js';

/** The verdict rules of docs/clients.md over measured facts (the real clients check them in test/realClients). */
const FIN_10S: ServerFacts = { idleTimeoutMs: 10_000, keepAliveHeader: null, closeKind: 'fin', serverClose: 'full', windowMs: 0, maxIdleMs: 90_000 };

function verdict(facts: ServerFacts, client: string, idleMs?: number): ClientVerdict {
  const found = predictClients(facts, chooseClient(client, idleMs ?? null)).find((v) => v.yours);
  if (found === undefined) throw new Error(`no verdict for ${client}`);
  return found;
}

describe('client verdicts', () => {
  it('a pool that keeps connections past T but notices the FIN fails only in the race; the fix is T minus the margin', () => {
    const go = verdict(FIN_10S, 'go');
    expect(go).toMatchObject({ staleReuse: 'race', idleMs: 90_000, idleFrom: 'default' });
    // 10 s − max(25 %, 1 s, 2 × window) = 7.5 s → whole seconds for Go's example.
    expect(go.fix).toBe('set Transport.IdleConnTimeout to 7 s or less: http.DefaultTransport.(*http.Transport).IdleConnTimeout = 7 * time.Second');
  });

  it('a limit in whole seconds cannot go below 1 s: the fix names the limit instead of a wrong value', () => {
    const go = verdict({ ...FIN_10S, idleTimeoutMs: 1500 }, 'go');
    expect(go.fix).toBe('set Transport.IdleConnTimeout to at most 750 ms: below the 1 s its example takes (docs/clients.md shows the setting)');
  });

  it('a pool that does not notice an idle FIN fails on every reuse after T', () => {
    expect(verdict(FIN_10S, 'okhttp').staleReuse).toBe('every-reuse');
  });

  it('--client-idle below the margin: nothing to change', () => {
    expect(verdict(FIN_10S, 'go', 5000)).toMatchObject({ staleReuse: 'no', idleMs: 5000, idleFrom: 'client-idle', fix: null });
  });

  it("a Keep-Alive hint shortens Node's limit but replaces undici's, capped at 600 s", () => {
    const hinted = { ...FIN_10S, idleTimeoutMs: 700_000, keepAliveHeader: 'timeout=900' };
    expect(verdict(hinted, 'node-global-agent')).toMatchObject({ idleMs: 5000, idleFrom: 'default', staleReuse: 'no' });
    expect(verdict(hinted, 'undici')).toMatchObject({ idleMs: 600_000, idleFrom: 'keep-alive-hint' });
    const short = { ...FIN_10S, keepAliveHeader: 'timeout=3' };
    expect(verdict(short, 'node-global-agent')).toMatchObject({ idleMs: 2000, idleFrom: 'keep-alive-hint', staleReuse: 'no' });
    expect(verdict(short, 'undici')).toMatchObject({ idleMs: 1000, idleFrom: 'keep-alive-hint', staleReuse: 'no' });
  });

  it('a silent drop (no T): any client keeping connections longer than --max-idle meets it', () => {
    const drop: ServerFacts = { idleTimeoutMs: null, keepAliveHeader: null, closeKind: null, serverClose: 'silent-drop', windowMs: null, maxIdleMs: 800 };
    expect(verdict(drop, 'go').staleReuse).toBe('every-reuse');
    expect(verdict(drop, 'go', 500).staleReuse).toBe('unknown');
  });

  it('an unconfirmed fact gives no verdict; no T and no drop gives no table', () => {
    expect(verdict(FIN_10S, 'reactor-netty').staleReuse).toBe('unknown');
    expect(predictClients({ ...FIN_10S, idleTimeoutMs: null, serverClose: null }, null)).toEqual([]);
  });

  it('an unknown --client lists the known ones', () => {
    expect(() => chooseClient('wget', null)).toThrow(UnknownClientError);
    expect(() => chooseClient('wget', null)).toThrow(/known clients are node-agent, node-global-agent, undici, go, /);
  });
});

describe('what the verdicts need', () => {
  it('an idle RST is noticed like a FIN; without a close kind (no idle-timeout or stale-race in the run) there is no verdict', () => {
    expect(verdict({ ...FIN_10S, closeKind: 'rst' }, 'go').staleReuse).toBe('race');
    expect(verdict({ ...FIN_10S, closeKind: null }, 'go').staleReuse).toBe('unknown');
  });
});

describe('advice quotes the client profiles', () => {
  it('names the clients whose default outlasts the server, and only the ones that honour the Keep-Alive hint', () => {
    const advice = adviceFor({ idleTimeoutMs: 10_000, advertisedTimeoutS: null }).join('\n');
    expect(advice).toContain('Longer by default: go, httpclient5, okhttp, java-httpclient, dotnet, curl (see the clients table).');
    expect(advice).not.toMatch(/Longer by default:[^.]*(node-global-agent|undici)/); // 5 s and 4 s: below 10 s, not too long
    expect(advice).toContain('clients that honour that hint (node-global-agent, undici, httpclient4, httpclient5, dotnet)');
  });
});

describe('the two request forms (with and without "Connection: keep-alive")', () => {
  it('says so when the server answers them differently, naming the clients on each side', () => {
    const advice = adviceFor({ maxRequests: 100, maxRequestsAsked: null }).join('\n');
    expect(advice).toContain('The server answers a request that says "Connection: keep-alive" differently: no cap seen with it, a cap of 100 without.');
    expect(advice).toMatch(/Clients that send it \([^)]*httpclient4[^)]*\) get the first, the others \([^)]*go[^)]*\) the second/);
    const idle = adviceFor({ idleTimeoutMs: 5000, idleTimeoutAskedMs: 15_000, advertisedKeepAlive: null, advertisedKeepAliveAsked: 'timeout=15' }).join('\n');
    expect(idle).toContain('Keep-Alive "timeout=15" with it, none without; idle timeout 15 s with it, 5 s without');
  });

  it('says nothing when they agree (within the idle measurement error)', () => {
    const advice = adviceFor({
      maxRequests: 100,
      maxRequestsAsked: 100,
      idleTimeoutMs: 5000,
      idleTimeoutAskedMs: 5100,
      advertisedKeepAlive: null,
      advertisedKeepAliveAsked: null,
    });
    expect(advice.join('\n')).not.toContain('differently');
  });
});
