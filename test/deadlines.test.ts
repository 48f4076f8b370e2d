import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ExchangeDeadlines } from '../src/wire/connection.js';
import { startClock } from '../src/wire/clock.js';
import { openLoopback } from './support/probe.js';
import { onRequestHeads, useRawServer } from './support/rawServer.js';

/**
 * The per-exchange deadlines share one timer, re-armed as each is met (wire/connection.ts
 * armHead): first-byte and headers both count from the request, the earlier one armed first,
 * first-byte on a tie; body counts from the end of the head. Raw servers on 127.0.0.1 stall at
 * each point of a response; the deadline that ends the exchange is the one the stall breaks,
 * never before its limit.
 */

/** What a raw server writes on each request, then it stalls (the connection stays open). */
type Script = (socket: Socket) => void;

const rawServer = useRawServer();

/** A raw server that runs `script` on the first request head of each connection; its port. */
async function serve(script: Script): Promise<number> {
  const url = await rawServer((socket) => onRequestHeads(socket, (n) => n === 1 && script(socket)));
  return Number(new URL(url).port);
}

/** One request with these deadlines: the outcome, how long after the write it came, and the connection's events `idleAfterMs` later. */
async function exchange(
  script: Script,
  deadlines: ExchangeDeadlines,
  idleAfterMs = 0,
): Promise<{ outcome: { kind: string; deadline?: string; limitMs?: number }; ms: number; events: readonly { kind: string }[] }> {
  const port = await serve(script);
  const clock = startClock();
  const { conn, get } = await openLoopback(port, clock);
  const sent = clock.now();
  const outcome = await conn.send(get, deadlines);
  const ms = clock.now() - sent;
  await new Promise((resolve) => setTimeout(resolve, idleAfterMs));
  const events = [...conn.events];
  await conn.close('rst', 'cleanup');
  clock.stop();
  return { outcome, ms, events };
}

/** Node may fire a timer up to 1 ms before its duration (it rounds to whole ms); no deadline fires earlier than that. */
const EARLY_MS = 1;
/** A deadline that fires is not a tight figure on a busy machine: it fires within this of its limit. */
const LATE_MS = 1500;

const silent: Script = () => undefined;
const statusLineOnly: Script = (s) => s.write('HTTP/1.1 200 OK\r\n');
const partialBody: Script = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
const late =
  (ms: number, then: Script): Script =>
  (s) =>
    setTimeout(() => then(s), ms);

describe('per-exchange deadlines on one timer', () => {
  const cases: { name: string; script: Script; deadlines: ExchangeDeadlines; expect: string; limitMs: number }[] = [
    {
      name: 'nothing comes: first-byte',
      script: silent,
      deadlines: { firstByteTimeoutMs: 300, headersTimeoutMs: 700, bodyTimeoutMs: 5000 },
      expect: 'first-byte',
      limitMs: 300,
    },
    {
      name: 'nothing comes, headers shorter than first-byte: headers, armed first',
      script: silent,
      deadlines: { firstByteTimeoutMs: 700, headersTimeoutMs: 300, bodyTimeoutMs: 5000 },
      expect: 'headers',
      limitMs: 300,
    },
    {
      name: 'nothing comes, a tie: first-byte',
      script: silent,
      deadlines: { firstByteTimeoutMs: 300, headersTimeoutMs: 300, bodyTimeoutMs: 5000 },
      expect: 'first-byte',
      limitMs: 300,
    },
    {
      name: 'a status line, then nothing: headers, re-armed after first-byte passed',
      script: statusLineOnly,
      deadlines: { firstByteTimeoutMs: 300, headersTimeoutMs: 700, bodyTimeoutMs: 5000 },
      expect: 'headers',
      limitMs: 700,
    },
    {
      name: 'a status line after 150 ms, then nothing: headers, counted from the request',
      script: late(150, statusLineOnly),
      deadlines: { firstByteTimeoutMs: 300, headersTimeoutMs: 700, bodyTimeoutMs: 5000 },
      expect: 'headers',
      limitMs: 700,
    },
    {
      name: 'a head and part of the body: body, counted from the head',
      script: partialBody,
      deadlines: { firstByteTimeoutMs: 5000, headersTimeoutMs: 5000, bodyTimeoutMs: 400 },
      expect: 'body',
      limitMs: 400,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { outcome, ms } = await exchange(c.script, c.deadlines);
      expect(outcome).toMatchObject({ kind: 'timeout', deadline: c.expect, limitMs: c.limitMs });
      expect(ms).toBeGreaterThanOrEqual(c.limitMs - EARLY_MS);
      expect(ms).toBeLessThan(c.limitMs + LATE_MS);
    });
  }

  it('a response within every deadline: no timeout, and none fires later on the idle connection', async () => {
    const ok: Script = (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const { outcome, events } = await exchange(late(100, ok), { firstByteTimeoutMs: 300, headersTimeoutMs: 300, bodyTimeoutMs: 300 }, 600);
    expect(outcome).toMatchObject({ kind: 'response', status: 200 });
    expect(events.map((e) => e.kind)).toEqual(['connect', 'request', 'response-head', 'response-complete']);
  });
});
