import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_PROFILES, H2_CLIENTS } from '../src/catalog/clientProfiles.js';
import { findExplanations } from '../src/catalog/errorCatalog.js';
import { H2_ONLY_PROFILES } from '../src/catalog/h2Profiles.js';

/**
 * The HTTP/2 data of the client profiles (src/catalog/h2Profiles.ts) held to its shape: every
 * client that speaks HTTP/2 has sources, a setting or a stated absence of one, error texts that
 * `keepalive-probe explain` explains, and a row in docs/clients.md's HTTP/2 section.
 */

const clientsDoc = readFileSync(path.resolve(import.meta.dirname, '../docs/clients.md'), 'utf8');
const h2Section = clientsDoc.slice(clientsDoc.indexOf('\n## HTTP/2'));

/** A source names where the fact was read: a URL pinned to a tag or commit, a file at a named version, or a measurement. */
const PINNED_URL = /https:\/\/github\.com\/[^/]+\/[^/]+\/(blob|tree|commit)\/(?!main\/|master\/)[^/\s]+/;
const NAMED_VERSION = /\b\d+\.\d+(\.\d+)?\b/;

describe('HTTP/2 client profiles', () => {
  it('lists the clients issue 16 names, each once, and no HTTP/1 profile lost its HTTP/2 declaration', () => {
    const names = H2_CLIENTS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['go', 'node-http2', 'undici', 'curl', 'grpc-go', 'grpc-js', 'okhttp']));
    // An HTTP/2-only client is not an HTTP/1 profile: --client and the HTTP/1 verdict stay as they were.
    expect(H2_ONLY_PROFILES.filter((p) => CLIENT_PROFILES.some((c) => c.name === p.name))).toEqual([]);
    for (const p of CLIENT_PROFILES) expect(p, p.name).toHaveProperty('h2');
  });

  it.each(H2_CLIENTS.map((c) => [c.name, c] as const))('%s: every field is filled and every source is pinned', (_name, c) => {
    const h2 = c.h2;
    expect(h2.enabledBy.length).toBeGreaterThan(10);
    expect(h2.versions).toMatch(NAMED_VERSION);
    if (typeof h2.idleMs === 'number') expect(h2.idleMs).toBeGreaterThan(0);
    if (h2.setting !== null) expect(h2.setting.example).toContain(`{${h2.setting.unit}}`);
    // With no idle limit and no setting there is nothing to tell the user to change: only undici is in that case, and says so.
    if (h2.setting === null) expect(h2.idleMs).toBeNull();
    expect(h2.pings.setting.length).toBeGreaterThan(5);
    expect(['replayable', 'always', 'none', 'unconfirmed']).toContain(h2.retriesUnprocessed);
    expect(['replayable', 'after-rst', 'none', 'unconfirmed']).toContain(h2.retriesLost);
    expect(h2.onGoaway.length).toBeGreaterThan(20);
    expect(h2.onLost.length).toBeGreaterThan(20);
    expect(h2.lostErrors.length).toBeGreaterThan(0);
    expect(h2.sources.length).toBeGreaterThanOrEqual(3);
    expect(h2.sources.filter((s) => !PINNED_URL.test(s) && !NAMED_VERSION.test(s))).toEqual([]);
  });

  it('every HTTP/2 error text is explained, and a GOAWAY text by an HTTP/2 entry', () => {
    const unexplained = H2_CLIENTS.flatMap((c) =>
      [...c.h2.goawayErrors, ...c.h2.lostErrors].filter((t) => findExplanations(t).length === 0).map((t) => `${c.name}: ${t}`),
    );
    expect(unexplained).toEqual([]);
    const h2Entries = new Set(['HTTP/2 GOAWAY', 'REFUSED_STREAM']);
    const goawayElsewhere = H2_CLIENTS.flatMap((c) =>
      c.h2.goawayErrors
        .filter((t) => !t.startsWith('TypeError: fetch failed') && t !== 'UND_ERR_SOCKET' && !findExplanations(t).some((e) => h2Entries.has(e.id)))
        .map((t) => `${c.name}: ${t}`),
    );
    expect(goawayElsewhere).toEqual([]);
  });

  it('docs/clients.md has an HTTP/2 section with a card per client, quoting its error texts', () => {
    expect(h2Section.length).toBeGreaterThan(1000);
    for (const c of H2_CLIENTS) {
      expect(h2Section, c.name).toContain(`### \`${c.name}\``);
      const card = h2Section.slice(h2Section.indexOf(`### \`${c.name}\``)).split('\n### ')[0] ?? '';
      for (const text of [...c.h2.goawayErrors, ...c.h2.lostErrors]) expect(card, `${c.name}: ${text}`).toContain(text);
    }
  });
});
