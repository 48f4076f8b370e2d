import { describe, expect, it } from 'vitest';
import { predictClients, serverFacts } from '../../src/verdict/clients.js';
import { CLIENT_PROFILES } from '../../src/catalog/clientProfiles.js';
import type { LabProfile } from '../../src/options/labProfiles.js';
import type { ClientVerdict } from '../../src/model/result.js';
import { useLab } from '../support/lab.js';
import { probe } from '../support/probe.js';
import { findGo, runNodeClient, useGoClient } from '../support/realClients.js';
import type { ClientExperience, NodeClientMode } from '../support/realClients.js';

/**
 * The probe's client verdicts (verdict/clients.ts, from the profiles in docs/clients.md)
 * against what the real clients do on the same lab server: the probe measures the server,
 * predicts each client, then the real client idles and sends again.
 *   no          → the client drops the idle connection itself: request 2 is fine, on a new connection;
 *   race        → only a request racing the close fails: sent well clear of T, request 2 is fine;
 *   every-reuse → request 2 fails with one of the profile's error texts, unless the client
 *                 retries that method by itself (then it succeeds on a second connection).
 */
const startLab = useLab();
const runGo = useGoClient(findGo());
const NODE_MODES: Record<string, NodeClientMode> = { 'node-agent': 'agent', 'node-global-agent': 'global-agent', undici: 'fetch' };

async function predicted(
  profile: Partial<LabProfile>,
  maxIdleMs: number,
): Promise<{ url: string; accepted: () => number; verdicts: Map<string, ClientVerdict> }> {
  const lab = await startLab(profile);
  const result = await probe(lab.url, ['idle-timeout', 'timeout-mismatch'], { maxIdleMs });
  const verdicts = new Map(predictClients(serverFacts(result.scenarios, result.options.maxIdleMs), null).map((v) => [v.client, v]));
  const before = lab.accepted();
  return { url: lab.url, accepted: () => lab.accepted() - before, verdicts };
}

async function runClient(client: string, url: string, idleMs: number, method: 'GET' | 'POST'): Promise<ClientExperience> {
  const mode = NODE_MODES[client];
  return mode === undefined ? runGo(url, { idleMs, method }) : runNodeClient(mode, url, { idleMs, method });
}

function errorText(e: ClientExperience): string {
  if (e.second.ok) return '';
  return [e.second.error, e.second.causeMessage].filter((x) => x !== null).join(' | ');
}

/** The real run agrees with the verdict (see the file comment). */
function expectAgreement(v: ClientVerdict, e: ClientExperience, accepted: number, method: 'GET' | 'POST'): void {
  const what = `${v.client} (${v.staleReuse})`;
  const retries = v.retriesStale === 'all' || (v.retriesStale === 'idempotent' && method === 'GET');
  if (v.staleReuse === 'every-reuse' && !retries) {
    expect(e.second.ok, `${what}: request 2 should fail`).toBe(false);
    const profile = CLIENT_PROFILES.find((p) => p.name === v.client);
    const text = errorText(e);
    expect(
      profile?.staleErrors.some((known) => text.includes(known.replace(/^(Error|TypeError): /, ''))),
      `${what}: "${text}" is one of the profile's errors`,
    ).toBe(true);
    expect(accepted, what).toBe(1);
  } else {
    expect(e.second, what).toEqual({ ok: true, status: 200 });
    if (v.staleReuse === 'every-reuse') expect(accepted, `${what}: retried on a new connection`).toBe(2);
  }
}

const CLIENTS = ['node-agent', 'node-global-agent', 'undici', 'go'];

describe('a server that closes idle connections with FIN after 300 ms; clients idle 800 ms', () => {
  it.each(CLIENTS)(
    '%s',
    async (client) => {
      const { url, accepted, verdicts } = await predicted({ idleTimeoutMs: 300, close: 'fin' }, 2000);
      const v = verdicts.get(client) as ClientVerdict;
      // Each keeps connections longer than 300 ms but notices the FIN: only a racing request fails.
      expect(v.staleReuse).toBe('race');
      expectAgreement(v, await runClient(client, url, 800, 'GET'), accepted(), 'GET');
    },
    30_000,
  );
});

describe('a path that drops idle connections silently (no FIN; the next request gets an RST); clients idle 1300 ms', () => {
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
    async (client, method) => {
      // No close to time: timeout-mismatch sees the silent drop within --max-idle (800 ms) + 200 ms.
      const { url, accepted, verdicts } = await predicted({ idleTimeoutMs: 300, close: 'drop' }, 800);
      const v = verdicts.get(client) as ClientVerdict;
      expect(v.staleReuse).toBe('every-reuse');
      expectAgreement(v, await runClient(client, url, 1300, method), accepted(), method);
    },
    30_000,
  );
});

describe('a server with a 2 s idle timeout that advertises "Keep-Alive: timeout=2"; clients idle 1500 ms', () => {
  it.each(CLIENTS)(
    '%s',
    async (client) => {
      const { url, accepted, verdicts } = await predicted({ idleTimeoutMs: 2000, close: 'fin', advertise: true }, 4000);
      const v = verdicts.get(client) as ClientVerdict;
      const e = await runClient(client, url, 1500, 'GET');
      expectAgreement(v, e, accepted(), 'GET');
      // Clients that take their limit from the hint drop the connection before 1.5 s (a new
      // connection for request 2); the others still reuse it at 1.5 s, before the server's close.
      expect(accepted(), `${v.client}: limit ${String(v.idleMs)} ms from ${v.idleFrom}`).toBe(v.idleFrom === 'keep-alive-hint' ? 2 : 1);
      expect(v.idleFrom === 'keep-alive-hint').toBe(client === 'node-global-agent' || client === 'undici');
    },
    30_000,
  );
});
