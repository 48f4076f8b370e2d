import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC_ENTRIES, METRICS, readMetric, unitOfName } from '../src/model/metrics.js';
import { loadBuiltinScenarios } from '../src/plan/loadBuiltins.js';
import { MEASURES } from '../src/plan/scenario.js';

/**
 * The registry (src/model/metrics.ts) is the only link between the metric names chosen in
 * scenarios/*.yaml and the code that reads them (advice, client verdicts, --expect aliases,
 * the hop rule, formatting). Renaming a metric in a file must fail here, not switch a verdict off.
 */
describe('metric registry', () => {
  it('every entry resolves in the built-in scenarios it names, with its measure', async () => {
    const builtins = await loadBuiltinScenarios();
    const missing: string[] = [];
    for (const entry of METRIC_ENTRIES) {
      for (const id of entry.scenarios) {
        const spec = builtins.find((s) => s.id === id)?.metrics[entry.name];
        if (spec?.measure !== entry.measure)
          missing.push(`${id}.${entry.name} (${entry.measure}): ${spec === undefined ? 'absent' : `measure ${spec.measure}`}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every entry names a measure the interpreter has, and aliases are unique', () => {
    expect(METRIC_ENTRIES.filter((e) => !(MEASURES as readonly string[]).includes(e.measure)).map((e) => e.name)).toEqual([]);
    const aliases = METRIC_ENTRIES.flatMap((e) => e.alias ?? []);
    expect(new Set(aliases).size).toBe(aliases.length);
    // One name may mean one thing per scenario (idleTimeoutMs: HTTP/1 close or HTTP/2 GOAWAY), never two in one scenario, and always one unit.
    const pairs = METRIC_ENTRIES.flatMap((e) => e.scenarios.map((id) => `${id}.${e.name}`));
    expect(new Set(pairs).size).toBe(pairs.length);
    for (const e of METRIC_ENTRIES) expect(METRIC_ENTRIES.filter((x) => x.name === e.name).every((x) => x.unit === e.unit)).toBe(true);
  });

  it('a renamed metric is caught: the check fails for a file without the name', async () => {
    const builtins = await loadBuiltinScenarios();
    const idle = builtins.find((s) => s.id === 'idle-timeout');
    const renamed = { ...idle?.metrics };
    delete renamed.idleTimeoutMs;
    expect(METRICS.idleTimeout.name in renamed).toBe(false);
    expect(METRICS.idleTimeout.name in (idle?.metrics ?? {})).toBe(true);
  });

  it('docs/scenarios.md lists exactly the registry, with units and aliases', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../docs/scenarios.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Metrics the code reads'), doc.indexOf('### Measures'));
    const rows = [...section.matchAll(/^\| `([A-Za-z]+)` \| (\w+) \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => ({
      name: m[1],
      unit: m[2],
      scenarios: (m[3] ?? '').trim(),
      alias: (m[4] ?? '').trim(),
    }));
    expect(rows).toEqual(
      METRIC_ENTRIES.map((e) => ({
        name: e.name,
        unit: e.unit,
        scenarios: e.scenarios.map((s) => `\`${s}\``).join(', '),
        alias: e.alias === null ? '—' : `\`${e.alias}\``,
      })),
    );
  });

  it('reads values by unit and leaves other types out', () => {
    expect(readMetric({ idleTimeoutMs: 2000.4 }, METRICS.idleTimeout)).toBe(2000.4);
    expect(readMetric({ idleTimeoutMs: 'fin' }, METRICS.idleTimeout)).toBeNull();
    expect(readMetric({ reused: true }, METRICS.reused)).toBe(true);
    expect(readMetric({}, METRICS.closeKind)).toBeNull();
    expect(unitOfName('advertisedTimeoutS')).toBe('s');
    expect(unitOfName('myOwnMs')).toBe('ms');
    expect(unitOfName('requests')).toBeNull();
  });
});
