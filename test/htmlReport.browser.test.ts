import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/model/result.js';
import { artifactPath, useChromium } from './support/browser.js';
import { runCli } from './support/cli.js';
import { answerEachRequest, useRawServer } from './support/rawServer.js';

/**
 * The --html report as a person sees it: loaded from disk in headless Chromium, checked in
 * the DOM against the JSON report of the same run, and kept as a screenshot
 * (test-artifacts/html-report.png; the README shows one).
 */
const dir = mkdtempSync(path.join(tmpdir(), 'kap-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const browser = useChromium();
const rawServer = useRawServer();

/** Opens the file and records every network request and page error it causes. */
async function open(file: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  if (browser === null) throw new Error('unreachable: tests are skipped without chromium');
  const page = await (await browser()).newPage({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(pathToFileURL(file).href);
  return { page, requests, errors };
}

interface LaneView {
  readonly connection: string;
  readonly closedBy: string;
  readonly signal: string;
  readonly marks: Record<string, number>;
  readonly idle: { ms: number; width: number }[];
}

/** Each lane of one scenario's timeline, as the DOM has it. */
function lanes(page: Page, scenario: string): Promise<LaneView[]> {
  return page.$$eval(`section.scenario[data-scenario="${scenario}"] g.lane`, (gs) =>
    gs.map((g) => {
      const marks: Record<string, number> = {};
      for (const m of g.querySelectorAll('g.mark')) {
        const kind = m.getAttribute('data-kind') ?? '?';
        marks[kind] = (marks[kind] ?? 0) + 1;
      }
      return {
        connection: g.getAttribute('data-connection') ?? '',
        closedBy: g.getAttribute('data-closed-by') ?? '',
        signal: g.getAttribute('data-signal') ?? '',
        marks,
        idle: [...g.querySelectorAll('rect.idle')].map((r) => ({ ms: Number(r.getAttribute('data-ms')), width: Number(r.getAttribute('width')) })),
      };
    }),
  );
}

describe.skipIf(browser === null)('HTML report in Chromium', () => {
  it('shows every scenario, a lane per connection, its requests, responses, idle gaps to scale and the close with its side', async () => {
    const html = path.join(dir, 'demo.html');
    const json = path.join(dir, 'demo.json');
    const run = await runCli(['run', '--html', html, '--json', json, '--quiet']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    const result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    const { page, requests, errors } = await open(html);

    // Self-contained: the file itself is the only thing the page loads.
    expect(requests).toEqual([pathToFileURL(html).href]);
    expect(errors).toEqual([]);
    const rows = await page.$$eval('table.summary tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-scenario'), tr.getAttribute('data-status')]));
    expect(rows).toEqual(result.scenarios.map((s) => [s.id, s.status]));

    for (const scenario of result.scenarios) {
      const shown = await lanes(page, scenario.id);
      expect(shown.map((l) => l.connection)).toEqual(scenario.connections.map((c) => c.id));
      for (const [i, conn] of scenario.connections.entries()) {
        const lane = shown[i] as LaneView;
        const count = (kind: string): number => conn.events.filter((e) => e.kind === kind).length;
        expect(lane.marks.request ?? 0, `${scenario.id} ${conn.id} requests`).toBe(count('request'));
        expect(lane.marks.response ?? 0, `${scenario.id} ${conn.id} responses`).toBe(count('response-head'));
        expect([lane.closedBy, lane.signal]).toEqual([conn.end.closedBy, conn.end.signal ?? 'none']);
      }
    }

    // idle-timeout: each lane's idle gap is its connection's own idle time, and the measured idle timeout is one of them
    // (the metric is the shortest certain sample of several, which a busy machine spreads by more than the drawing's rounding).
    const idleScenario = result.scenarios.find((s) => s.id === 'idle-timeout');
    const idleMs = idleScenario?.metrics.idleTimeoutMs as number;
    const idleLanes = await lanes(page, 'idle-timeout');
    const gaps = idleLanes.map((l) => l.idle.find((g) => g.ms > 1000));
    for (const [i, conn] of (idleScenario?.connections ?? []).entries()) {
      if (conn.end.idleMs !== null && conn.end.idleMs > 1000) expect(gaps[i]?.ms, conn.id).toBeCloseTo(conn.end.idleMs, 0);
    }
    const drawn = gaps.flatMap((g) => (g === undefined ? [] : [g]));
    expect(drawn.length).toBeGreaterThan(0);
    const gap = drawn.reduce((best, g) => (Math.abs(g.ms - idleMs) < Math.abs(best.ms - idleMs) ? g : best));
    expect(gap.ms).toBeCloseTo(idleMs, 0); // the gap ends at the FIN the metric ends at
    const ticks = await page.$$eval('section.scenario[data-scenario="idle-timeout"] line.tick', (ls) => ls.map((l) => Number(l.getAttribute('x1'))));
    const tickLabels = await page.$$eval('section.scenario[data-scenario="idle-timeout"] text.tick-label', (ts) => ts.map((t) => t.textContent));
    expect(tickLabels.slice(0, 2)).toEqual(['0 ms', '500 ms']);
    const unitsPerMs = ((ticks[1] as number) - (ticks[0] as number)) / 500;
    // To scale: the gap drawn as long as its own duration.
    expect(gap.width).toBeCloseTo(gap.ms * unitsPerMs, 0);
    expect(await page.textContent('section.scenario[data-scenario="idle-timeout"] g.mark.fin .mark-label')).toBe('FIN ← server');

    // timeout-mismatch: the late request's failure is a red error mark.
    // One red mark per error event of the scenario's connections, as in the JSON.
    const mismatch = page.locator('section.scenario[data-scenario="timeout-mismatch"] g.mark.error');
    const errorEvents = (result.scenarios.find((s) => s.id === 'timeout-mismatch')?.connections ?? [])
      .flatMap((c) => c.events)
      .filter((e) => e.kind === 'error' || e.kind === 'protocol-error');
    expect(errorEvents.length).toBeGreaterThan(0);
    expect(await mismatch.count()).toBe(errorEvents.length);
    const fill = `getComputedStyle(document.querySelector('section.scenario[data-scenario="timeout-mismatch"] g.mark.error circle')).fill`;
    expect(await page.evaluate(fill)).toBe('rgb(197, 48, 48)');

    // stale-race: its table shows every trial's outcome; the clients table, every verdict.
    const trials = await page.$$eval('section.scenario[data-scenario="stale-race"] table.race .trial', (ts) => ts.map((t) => t.getAttribute('data-outcome')));
    const race = result.scenarios.find((s) => s.id === 'stale-race')?.race;
    expect(trials.sort()).toEqual((race?.trials ?? []).map((t) => t.outcome).sort());
    expect(trials).toHaveLength(30);
    const clients = await page.$$eval('section.clients:not(.h2-clients) table.clients tr[data-client]', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-client'), tr.getAttribute('data-stale-reuse')]),
    );
    expect(result.clients).toHaveLength(12); // every profile judged: the comparison below is not of two empty lists
    expect(clients).toEqual(result.clients.map((v) => [v.client, v.staleReuse]));
    // HTTP/2 lanes mark the server's GOAWAY (the lab drains in two steps: two on each connection, the sample taken again after a late stamp too).
    const h2Lanes = result.scenarios.find((s) => s.id === 'h2-idle-timeout')?.connections.length ?? 0;
    expect(h2Lanes).toBeGreaterThanOrEqual(1);
    expect(await page.$$eval('section.scenario[data-scenario="h2-idle-timeout"] .mark.goaway', (ms) => ms.length)).toBe(2 * h2Lanes);
    // The lab speaks h2c too: a row per HTTP/2 client, with what a request racing its GOAWAY meets.
    const h2 = await page.$$eval('section.h2-clients tr[data-client]', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-client'), tr.getAttribute('data-race')]),
    );
    expect(result.h2Clients.length).toBeGreaterThan(3);
    expect(h2).toEqual(result.h2Clients.map((v) => [v.client, v.race]));

    await page.screenshot({ path: artifactPath('html-report.png'), fullPage: true });
    await page.screenshot({ path: artifactPath('html-report-top.png') });
    await page.locator('section.scenario[data-scenario="timeout-mismatch"]').screenshot({ path: artifactPath('html-report-timeout-mismatch.png') });
    await page.close();
  }, 60_000);

  it('server text is shown as text: an injected <script> or handler does not run', async () => {
    const payload = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
    const url = await rawServer((socket) =>
      answerEachRequest(socket, () =>
        Buffer.from(
          `HTTP/1.1 200 OK\r\nServer: ${payload}\r\nKeep-Alive: timeout=1, "><script>window.__pwned=3</script>\r\nContent-Length: 2\r\n\r\nok`,
          'latin1',
        ),
      ),
    );
    const html = path.join(dir, 'hostile.html');
    const run = await runCli(['run', url, '-s', 'http11-reuse', '--html', html, '--quiet']);
    expect(run.code).toBe(0);
    const { page, requests, errors } = await open(html);
    // The element count is what proves the escaping: the page's CSP would stop an injected
    // script or image from running or loading anyway (checked too, as the second line of defence).
    expect(await page.locator('script, img').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await page.textContent('.target')).toContain(`Server: ${payload}`);
    const tooltips = await page.$$eval('g.mark.response title', (ts) => ts.map((t) => t.textContent ?? ''));
    expect(tooltips.some((t) => t.includes('Keep-Alive: timeout=1, "><script>window.__pwned=3</script>'))).toBe(true);
    expect(requests).toEqual([pathToFileURL(html).href]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
