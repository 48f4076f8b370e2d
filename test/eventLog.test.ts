import { describe, expect, it } from 'vitest';
import type { ConnEvent } from '../src/model/events.js';
import type { ConnectionRecord, Finding, RunResult } from '../src/model/result.js';
import { SERVE_HTTP2_DEFAULTS } from '../src/options/labProfiles.js';
import { classifyClose } from '../src/timeline/classifyClose.js';
import { closeAfterGoaway, goawaysOf, h2IdleTimeout, h2Responses, responsesBeforeGoaway } from '../src/timeline/h2.js';
import { idleBeforeLastRequest, idleSince, lastHead, mayReuse, outstandingRequest, phases, responsesOf } from '../src/timeline/queries.js';
import { EventLog } from '../src/wire/eventLog.js';
import type { Compaction } from '../src/wire/eventLog.js';
import { measure } from '../src/measures/metrics.js';
import type { Trace } from '../src/measures/metrics.js';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { useLab } from './support/lab.js';
import { onRequestHeads, useRawServer } from './support/rawServer.js';
import { useServerProcesses } from './support/process.js';
import { probe, scenario } from './support/probe.js';
import { expectValid } from './support/reportSchema.js';

/**
 * A long connection's events keep its first and last exchanges and count the middle
 * (wire/eventLog.ts): every metric, finding and verdict the built-in scenarios report must
 * come out the same as with every event kept. Real runs against the lab, over HTTP/1 and
 * HTTP/2, with a low threshold so that a few dozen requests are folded.
 */

const startLab = useLab();
const startRaw = useRawServer();
const LOW: Compaction = { head: 2, tail: 3 };
const CAP = 40;

/** What a scenario reports, with what differs from run to run (times, ports) masked. */
function reported(result: RunResult, id: string): unknown {
  const s = scenario(result, id);
  const mask = (text: string): string => text.replace(/\d+(\.\d+)?\s?(ms|µs|s)\b/g, '<duration>');
  const finding = (f: Finding): unknown => ({
    text: mask(f.text),
    evidence: f.evidence.map((e) => ({ connection: e.connection, requestIndex: e.requestIndex, detail: mask(e.detail), timed: e.t !== null })),
  });
  return {
    status: s.status,
    error: s.error,
    metrics: s.metrics,
    findings: s.findings.map(finding),
    expectations: s.expectations.map((e) => ({ ok: e.ok, message: e.message })),
    advice: s.advice.map(mask),
    ends: s.connections.map((c) => ({ id: c.id, kind: c.end.kind, closedBy: c.end.closedBy, signal: c.end.signal, responses: c.end.responses })),
  };
}

function elidedOf(c: ConnectionRecord): Extract<ConnEvent, { kind: 'elided' }>[] {
  return c.events.filter((e): e is Extract<ConnEvent, { kind: 'elided' }> => e.kind === 'elided');
}

/** Runs `id` against `url` with every event kept and with LOW, and checks that both report the same. */
async function sameEitherWay(url: string, id: string, protocol: 'http1' | 'h2', maxRequests: number): Promise<{ full: RunResult; folded: RunResult }> {
  const full = await probe(url, [id], { maxRequests, protocol, compaction: null });
  const folded = await probe(url, [id], { maxRequests, protocol, compaction: LOW });
  expect(reported(folded, id)).toEqual(reported(full, id));
  // The folded run did fold: the main connection's middle is one elided event that counts it.
  const main = scenario(folded, id).connections[0] as ConnectionRecord;
  const whole = scenario(full, id).connections[0] as ConnectionRecord;
  const [elided, ...more] = elidedOf(main);
  expect(more).toEqual([]);
  expect(elided?.counts.requests).toBe(main.end.responses - LOW.head - LOW.tail);
  expect(elided?.counts.responses).toBe(elided?.counts.requests);
  expect(elided?.counts.firstIndex).toBe(LOW.head + 1);
  expect(main.events.length).toBeLessThan(whole.events.length / 3);
  expect(elidedOf(whole)).toEqual([]);
  // The elided event is in the JSON schema (docs/report.schema.json).
  expectValid(expect, JSON.parse(JSON.stringify(folded)));
  return { full, folded };
}

describe('a long connection keeps its first and last exchanges and counts the rest', () => {
  it('request-cap over HTTP/1 reports the same at the lab cap and without a cap', async () => {
    const capped = await startLab({ maxRequests: CAP, idleTimeoutMs: 5000 });
    const { folded } = await sameEitherWay(capped.url, 'request-cap', 'http1', 200);
    expect(scenario(folded, 'request-cap').metrics.maxRequests).toBe(CAP);
    const open = await startLab({ maxRequests: 0, idleTimeoutMs: 5000 });
    const uncapped = await sameEitherWay(open.url, 'request-cap', 'http1', CAP);
    expect(scenario(uncapped.folded, 'request-cap').connections[0]?.end.responses).toBe(CAP);
  });

  it('h2-request-cap over HTTP/2 (every frame an event) reports the same at the lab cap and without a cap', async () => {
    const capped = await startLab({ maxRequests: CAP, idleTimeoutMs: 5000, http2: SERVE_HTTP2_DEFAULTS });
    const { folded } = await sameEitherWay(capped.url, 'h2-request-cap', 'h2', 200);
    expect(scenario(folded, 'h2-request-cap').metrics.maxRequests).toBe(CAP);
    expect(scenario(folded, 'h2-request-cap').metrics.signalled).toBe(true);
    const open = await startLab({ maxRequests: 0, idleTimeoutMs: 5000, http2: SERVE_HTTP2_DEFAULTS });
    await sameEitherWay(open.url, 'h2-request-cap', 'h2', CAP);
  });

  it('every query answers the same on the folded log as on every event, after each event (real HTTP/1 and HTTP/2 connections)', async () => {
    const lab = await startLab({ maxRequests: CAP, idleTimeoutMs: 5000, http2: SERVE_HTTP2_DEFAULTS });
    const h1 = await probe(lab.url, ['request-cap'], { maxRequests: 200, protocol: 'http1', compaction: null });
    const h2 = await probe(lab.url, ['h2-request-cap'], { maxRequests: 200, protocol: 'h2', compaction: null });
    const records = [...scenario(h1, 'request-cap').connections, ...scenario(h2, 'h2-request-cap').connections];
    expect(records.length).toBeGreaterThanOrEqual(3);
    for (const record of records) {
      const all = record.events;
      const log = new EventLog(LOW);
      // Read only at the end: its folds wait for a batch of exchanges past the tail, and end the same.
      const unread = new EventLog(LOW);
      for (const [i, e] of all.entries()) {
        log.push(e);
        unread.push(e);
        const upTo = all.slice(0, i + 1);
        expect(mayReuse(log.events)).toBe(mayReuse(upTo));
        expect(mayReuse(unread.recent)).toBe(mayReuse(upTo));
        expect(idleSince(log.events)).toBe(idleSince(upTo));
        expect(outstandingRequest(log.events)).toEqual(outstandingRequest(upTo));
        expect(responsesOf(log.events)).toBe(responsesOf(upTo));
      }
      const kept = log.events;
      expect(kept.some((e) => e.kind === 'elided')).toBe(true);
      expect(unread.events).toEqual(kept);
      expect(classifyClose(kept)).toEqual(classifyClose(all));
      const end = classifyClose(all);
      expect(lastHead(kept)).toEqual(lastHead(all));
      expect(idleBeforeLastRequest(kept)).toBe(idleBeforeLastRequest(all));
      expect(goawaysOf(kept).map(({ at: _, ...g }) => g)).toEqual(goawaysOf(all).map(({ at: _, ...g }) => g));
      expect(h2Responses(kept)).toBe(h2Responses(all));
      expect(responsesBeforeGoaway(kept)).toBe(responsesBeforeGoaway(all));
      expect(closeAfterGoaway(kept, end)).toBe(closeAfterGoaway(all, end));
      expect(h2IdleTimeout(kept, end)).toBe(h2IdleTimeout(all, end));
      // The phases cover the same span: the folded ones as one elided stretch.
      const span = (p: ReturnType<typeof phases>): [number | undefined, number | undefined] => [p[0]?.from, p.at(-1)?.to];
      expect(span(phases(kept))).toEqual(span(phases(all)));
      expect(phases(kept).filter((p) => p.kind === 'elided')).toHaveLength(1);
    }
  });

  it('keeps an exchange that holds more than requests and responses in full, in its place', async () => {
    const lab = await startLab({ maxRequests: 0, idleTimeoutMs: 5000, http2: SERVE_HTTP2_DEFAULTS });
    const h2 = await probe(lab.url, ['h2-request-cap'], { maxRequests: 30, protocol: 'h2', compaction: null });
    const all = (scenario(h2, 'h2-request-cap').connections[0] as ConnectionRecord).events;
    // A PING ACK from the server in the middle of the 15th exchange (a frame the folded stretch must not swallow).
    const at = all.findIndex((e) => e.kind === 'request' && e.index === 15) + 1;
    const ping: ConnEvent = {
      kind: 'h2-frame',
      t: all[at - 1]?.t ?? 0,
      dir: 'in',
      frame: { type: 'PING', streamId: 0, flags: ['ACK'], length: 8, errorCode: null, lastStreamId: null, debug: null, settings: null },
    };
    const log = new EventLog(LOW);
    for (const e of [...all.slice(0, at), ping, ...all.slice(at)]) log.push(e);
    const kinds = log.events.map((e) => (e.kind === 'h2-frame' && e.frame.type === 'PING' ? 'PING' : e.kind));
    const elided = log.events.filter((e): e is Extract<ConnEvent, { kind: 'elided' }> => e.kind === 'elided');
    expect(elided).toHaveLength(2);
    expect(kinds.indexOf('elided')).toBeLessThan(kinds.indexOf('PING'));
    expect(kinds.lastIndexOf('elided')).toBeGreaterThan(kinds.indexOf('PING'));
    expect(elided[0]?.counts.lastIndex).toBe(14);
    expect(elided[1]?.counts.firstIndex).toBe(16);
    expect(log.events.some((e) => e.kind === 'request' && e.index === 15)).toBe(true);
    expect(responsesOf(log.events)).toBe(responsesOf(all));
  });

  it('holds as many events after 600 requests as after 60 (the per-request cost does not grow)', async () => {
    const lab = await startLab({ maxRequests: 0, idleTimeoutMs: 5000 });
    const lengths: number[] = [];
    for (const n of [60, 600]) {
      const run = await probe(lab.url, ['request-cap'], { maxRequests: n, protocol: 'http1', compaction: LOW });
      const main = scenario(run, 'request-cap').connections[0] as ConnectionRecord;
      expect(main.end.responses).toBe(n);
      expect(elidedOf(main)[0]?.counts.responses).toBe(n - LOW.head - LOW.tail);
      lengths.push(main.events.length);
    }
    expect(lengths[1]).toBe(lengths[0]);
  });

  describe("on Python's http.server, whose responses stall (head, then the body ~40 ms later)", () => {
    const start = useServerProcesses();
    const dir = mkdtempSync(path.join(tmpdir(), 'kap-fold-'));
    writeFileSync(path.join(dir, 'index.html'), 'hello from python\n');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('keeps every stalled exchange and counts the rest: the stall finding is the same, word for word', async () => {
      const url = await start('python3', [path.resolve(import.meta.dirname, 'fixtures/python-server.py'), 'HTTP/1.1', dir]);
      const run = await probe(url, ['request-cap'], { maxRequests: 30, protocol: 'http1', compaction: null });
      const record = scenario(run, 'request-cap').connections[0] as ConnectionRecord;
      const log = new EventLog({ head: 2, tail: 2 });
      for (const e of record.events) log.push(e);
      const stall = (events: readonly ConnEvent[]) => {
        const trace: Trace = { connections: [{ label: 'main', record: { ...record, events } }], exchanges: [], race: null, repeats: [], pings: [] };
        return measure({ measure: 'responseStall', on: 'main', request: null }, trace, { maxIdleMs: 5000, maxRequests: 30 });
      };
      const whole = stall(record.events);
      const folded = stall(log.events);
      expect(whole.value).toBeGreaterThanOrEqual(30);
      expect(folded).toEqual(whole);
      expect(folded.value).toBe(scenario(run, 'request-cap').metrics.responseStallMs);
      // Every stalled response is still there, one by one.
      const gaps = (events: readonly ConnEvent[]) => {
        const heads = new Map(events.flatMap((e) => (e.kind === 'response-head' ? [[e.index, e.t] as const] : [])));
        return events.flatMap((e) => (e.kind === 'response-complete' && e.t - (heads.get(e.index) ?? e.t) >= 30 ? [e.index] : []));
      };
      expect(gaps(log.events)).toEqual(gaps(record.events));
    });
  });

  it('counts the small responses of an elided stretch, which did not stall: the stall finding says "of" all of them', async () => {
    // A server that writes responses 1–10 in one send, then head and body in two with Nagle on
    // (the body waits for the ACK of the head, which the probe's kernel delays ~40 ms).
    const url = await startRaw((socket) => {
      socket.setNoDelay(false);
      onRequestHeads(socket, (n) => {
        const head = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n';
        if (n <= 10) socket.write(`${head}ok\n`);
        else {
          socket.write(head);
          setImmediate(() => socket.write('ok\n'));
        }
      });
    });
    const run = await probe(url, ['request-cap'], { maxRequests: 24, protocol: 'http1', compaction: null });
    const record = scenario(run, 'request-cap').connections[0] as ConnectionRecord;
    const log = new EventLog({ head: 2, tail: 2 });
    for (const e of record.events) log.push(e);
    const stall = (events: readonly ConnEvent[]) => {
      const trace: Trace = { connections: [{ label: 'main', record: { ...record, events } }], exchanges: [], race: null, repeats: [], pings: [] };
      return measure({ measure: 'responseStall', on: 'main', request: null }, trace, { maxIdleMs: 5000, maxRequests: 24 });
    };
    const whole = stall(record.events);
    expect(whole.value).toBeGreaterThanOrEqual(30);
    expect(stall(log.events)).toEqual(whole);
    expect(elidedOf({ ...record, events: log.events }).reduce((n, e) => n + e.counts.smallBodies, 0)).toBeGreaterThanOrEqual(5);
  });
});
