import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_PROFILES } from '../src/catalog/clientProfiles.js';
import { chooseClient } from '../src/plan/client.js';
import { adviceFor } from '../src/verdict/advice.js';
import { predictClients } from '../src/verdict/clients.js';
import type { ServerFacts } from '../src/verdict/clients.js';

/** The Keep-Alive hint as each client reads it (docs/clients.md, "How each client reads Keep-Alive"), and advice that never says "0". */
const FACTS: ServerFacts = { idleTimeoutMs: 900_000_000, keepAliveHeader: null, closeKind: 'fin', serverClose: 'full', windowMs: 0, maxIdleMs: 1_000_000_000 };

function idleOf(client: string, header: string | null): number | null | 'unconfirmed' {
  const v = predictClients({ ...FACTS, keepAliveHeader: header }, chooseClient(client, null)).find((x) => x.yours);
  if (v === undefined) throw new Error(client);
  return v.idleMs;
}

// header → the idle limit each client ends up with, ms (0: never reuses; defaults: Node's global
// agent 5 s, undici 4 s, HttpClient 4 none, HttpClient 5 3 min, .NET 1 min). Each column is that
// client's rule as read in its source; the table is docs/clients.md's.
const U = 'unconfirmed';
const TABLE: readonly (readonly [string, number | null | typeof U, number, number | null | typeof U, number | null | typeof U, number])[] = [
  // header                  node-global  undici    httpclient4          httpclient5          dotnet
  ['timeout=5', 4000, 3000, 5000, 5000, 4000],
  ['timeout=0', 0, 0, U, U, 0],
  ['timeout=1', 0, 0, 1000, 1000, 0],
  ['timeout=2', 1000, 0, 2000, 2000, 1000],
  ['timeout=-5', 5000, 4000, U, U, 60_000],
  ['timeout=abc', 5000, 4000, null, 180_000, 60_000],
  ['timeout=5s', 4000, 3000, null, 180_000, 60_000],
  ['timeout=99999999999', 5000, 600_000, 99_999_999_999_000, 99_999_999_999_000, 60_000],
  ['max=100, timeout=5', 5000, 3000, 5000, 5000, 4000],
  ['TIMEOUT=5', 5000, 4000, 5000, 5000, 4000],
  ['xtimeout=7', 5000, 5000, null, 180_000, 60_000],
  ['timeout="5"', 5000, 4000, 5000, 5000, 60_000],
  ['max=0', 5000, 4000, null, 180_000, 0],
  ['timeout=5, max=0', 4000, 3000, 5000, 5000, 0],
];

describe('each client reads Keep-Alive by its own rule', () => {
  it.each(TABLE)('Keep-Alive: %s', (header, node, undici, hc4, hc5, dotnet) => {
    expect({
      'node-global-agent': idleOf('node-global-agent', header),
      undici: idleOf('undici', header),
      httpclient4: idleOf('httpclient4', header),
      httpclient5: idleOf('httpclient5', header),
      dotnet: idleOf('dotnet', header),
    }).toEqual({ 'node-global-agent': node, undici, httpclient4: hc4, httpclient5: hc5, dotnet });
  });

  it("Node's own agent (no timeout set) ignores any hint but one of 1 s or less, which stops reuse", () => {
    expect(idleOf('node-agent', 'timeout=5')).toBeNull();
    expect(idleOf('node-agent', 'timeout=1')).toBe(0);
  });

  it('clients that never read the header keep their default, whatever it says', () => {
    const others = CLIENT_PROFILES.filter((p) => p.hintRule === null);
    expect(others.length).toBeGreaterThan(3);
    for (const p of others) for (const [header] of TABLE) expect(idleOf(p.name, header)).toEqual(p.idleMs);
  });
});

/** Every idle limit an advice sentence or a fix states: "to N or less", "at most N", "about N or less", "before N", "at N or less". */
function statedLimitsMs(text: string): number[] {
  const durations = [...text.matchAll(/(?:to about|to at most|at most|to|before|at) (\d+(?:\.\d+)?) (ms|s|min)(?: (\d+) s)?(?: or less|:| stays|\b)/g)];
  return durations
    .filter((m) => /or less|at most|before/.test(text.slice(Math.max(0, (m.index ?? 0) - 2), (m.index ?? 0) + m[0].length + 8)))
    .map((m) => Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000) + Number(m[3] ?? 0) * 1000);
}

describe('advice never gives a limit a client would read as "never expire" or as nonsense', () => {
  const headers = fc.constantFrom(null, 'timeout=0', 'timeout=1', 'timeout=-5', 'timeout=99999999999', 'timeout=abc', 'max=0', 'timeout=5', 'timeout=60');
  it('every stated limit is positive and below the measured idle timeout; every sentence reads as one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400_000 }),
        fc.integer({ min: 0, max: 3000 }),
        headers,
        fc.constantFrom(...CLIENT_PROFILES.map((p) => p.name)),
        (T, window, header, client) => {
          const facts: ServerFacts = { ...FACTS, idleTimeoutMs: T, windowMs: window, keepAliveHeader: header };
          const sentences = [
            ...predictClients(facts, chooseClient(client, null)).flatMap((v) => (v.fix === null ? [] : [v.fix])),
            ...adviceFor({ idleTimeoutMs: T, advertisedTimeoutS: null, failureWindowMs: window, safeClientIdleMs: Math.max(1, T / 2) }),
          ];
          for (const s of sentences) {
            expect(s).not.toMatch(/set none|undefined|NaN|null/);
            for (const limit of statedLimitsMs(s)) {
              expect(limit, s).toBeGreaterThan(0);
              expect(limit, s).toBeLessThan(Math.max(T, 1));
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a server that closes right after a keep-alive response: no limit at all, the advice says not to reuse', () => {
    for (const T of [0, 3, 9, 49]) {
      const advice = adviceFor({ idleTimeoutMs: T, advertisedTimeoutS: 2 }).join(' ');
      expect(advice).toContain('allows one request per connection without saying so');
      expect(statedLimitsMs(advice)).toEqual([]);
      for (const v of predictClients({ ...FACTS, idleTimeoutMs: T }, null)) {
        if (v.fix !== null) expect(v.fix).toMatch(/^do not reuse connections to this server/);
      }
    }
  });

  it('urllib3 reads as a sentence', () => {
    const v = predictClients({ ...FACTS, idleTimeoutMs: 2000 }, chooseClient('urllib3', null)).find((x) => x.yours);
    expect(v?.fix).toBe(
      "set the pool's idle limit (urllib3 has none: close the session yourself) to 1 s or less: if (time.monotonic() - last_used) * 1000 > 1000: session.close()",
    );
  });
});
