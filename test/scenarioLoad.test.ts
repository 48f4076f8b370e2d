import path from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { BUILTIN_ORDER } from '../src/catalog/builtinScenarios.js';
import { loadBuiltinScenarios } from '../src/plan/loadBuiltins.js';
import { loadScenarioFile, parseBuiltins, parseScenario } from '../src/plan/loadScenario.js';
import { SCENARIO_DIR, ScenarioFileError } from '../src/plan/scenarioFile.js';

/** Joins lines with \n; line N of the file is element N-1, so the line numbers below can be read off. */
const lines = (...text: string[]): string => `${text.join('\n')}\n`;

/** The ScenarioFileError that parsing `text` as `file` throws. */
async function failure(text: string, file = 'custom.yaml'): Promise<ScenarioFileError> {
  const err = await parseScenario(text, file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ScenarioFileError);
  return err as ScenarioFileError;
}

/** file, line, field and the start of the reason, as the error carries them and as its message shows them. */
function expectError(err: ScenarioFileError, file: string, line: number | null, field: string | null, reason: string): void {
  expect({ file: err.file, line: err.line, field: err.field, reason: err.reason }).toEqual({ file, line, field, reason });
  expect(err.message).toBe(`${file}${line === null ? '' : `:${line}`}: ${field === null ? '' : `${field}: `}${reason}`);
}

describe('loadBuiltinScenarios', () => {
  test('compiles the scenario schema once per process, however many files load at once (issue 14: it was once per file)', async () => {
    vi.resetModules();
    const { Ajv } = await import('ajv');
    const compile = vi.spyOn(Ajv.prototype, 'compile');
    try {
      const fresh = await import('../src/plan/loadScenario.js');
      const builtins = await import('../src/plan/loadBuiltins.js');
      await Promise.all([builtins.loadBuiltinScenarios(), builtins.loadBuiltinScenarios()]);
      await fresh.loadScenarioFile(path.join(SCENARIO_DIR, 'idle-timeout.yaml'));
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
  });

  test('returns the built-ins in run order', async () => {
    const scenarios = await loadBuiltinScenarios();
    expect(scenarios.map((s) => s.id)).toEqual([
      'http11-reuse',
      'http10-keepalive',
      'connection-close',
      'idle-timeout',
      'request-cap',
      'timeout-mismatch',
      'stale-race',
      'short-connections',
      'h2-idle-timeout',
      'h2-request-cap',
      'h2-race',
      'h2-concurrency',
      'h2-ping',
    ]);
    expect(BUILTIN_ORDER).toEqual(scenarios.map((s) => s.id));
    expect(scenarios.map((s) => s.source)).toEqual(scenarios.map((s) => path.join(SCENARIO_DIR, `${s.id}.yaml`)));
  });

  test('the parse stored at build time gives the same scenarios as parsing the files', async () => {
    const stored = await loadBuiltinScenarios(await parseBuiltins());
    expect(stored).toEqual(await loadBuiltinScenarios(null));
    // Field for field in the same order (what JSON.stringify of a scenario would show).
    expect(JSON.stringify(stored)).toBe(JSON.stringify(await loadBuiltinScenarios(null)));
  });

  test('a stored parse is used only for a file whose text, and schema, it was made from', async () => {
    const stored = JSON.parse(await parseBuiltins()) as { schema: string; files: Record<string, { text: string; scenario: { title: string } }> };
    const edited = stored.files['idle-timeout.yaml'];
    const kept = stored.files['request-cap.yaml'];
    if (edited === undefined || kept === undefined) throw new Error('built-ins missing');
    // Two stored parses marked: one as if its file had been edited since the build, one with its text unchanged.
    edited.text += '# edited\n';
    edited.scenario.title = 'stale';
    kept.scenario.title = 'stored';
    const scenarios = await loadBuiltinScenarios(JSON.stringify(stored));
    const title = (id: string): string | undefined => scenarios.find((s) => s.id === id)?.title;
    expect(title('idle-timeout')).toBe((await loadBuiltinScenarios(null)).find((s) => s.id === 'idle-timeout')?.title);
    expect(title('idle-timeout')).not.toBe('stale');
    expect(title('request-cap')).toBe('stored');
    expect(scenarios.map((s) => s.source)).toEqual(scenarios.map((s) => path.join(SCENARIO_DIR, `${s.id}.yaml`)));
    // Made with another schema than the one beside the files: no stored parse is used.
    stored.schema += ' ';
    const revalidated = await loadBuiltinScenarios(JSON.stringify(stored));
    expect(revalidated.find((s) => s.id === 'request-cap')?.title).not.toBe('stored');
    expect(revalidated).toEqual(await loadBuiltinScenarios(null));
  });
});

describe('parseScenario', () => {
  test('a valid scenario with every step kind becomes the typed model, each step with its line', async () => {
    const text = lines(
      'id: all-steps', // 1
      'title: Every step', // 2
      'description: |', // 3
      '  Two lines', // 4
      '  of text.', // 5
      'headline: reused', // 6
      'steps:', // 7
      '  - open: a', // 8
      '  - open: { as: b }', // 9
      '  - request: { on: a, version: "1.0", method: HEAD, path: /x?y=1, connection: keep-alive, headers: { X-A: "1", X-B: "2" }, if-open: true, timed: true }', // 10
      '  - wait: 1.5s', // 11
      '  - wait: $maxIdle', // 12
      '  - wait-close: { on: a, max: 2s, extra: 200ms, then: keep-open }', // 13
      '  - wait-close: { on: b, max: $maxIdle, if-closing: true }', // 14
      '  - repeat:', // 15
      '      on: b', // 16
      '      max: $maxRequests', // 17
      '      until: closed', // 18
      '      steps:', // 19
      '        - request: { on: b }', // 20
      '        - expect: reused', // 21
      '  - close: { on: a, how: rst }', // 22
      '  - close: { on: b }', // 23
      '  - expect:', // 24
      '      that: idle >= 60s', // 25
      '      severity: warn', // 26
      '      message: too short', // 27
      'metrics:', // 28
      '  reused: { measure: reused, on: a }', // 29
      '  idle: { measure: idleBeforeClose, on: b }', // 30
      '  total: { measure: connections }', // 31
    );
    expect(await parseScenario(text, 'all.yaml')).toEqual({
      id: 'all-steps',
      title: 'Every step',
      description: 'Two lines\nof text.',
      source: 'all.yaml',
      headline: 'reused',
      exclusive: false,
      needs: null,
      protocol: 'http/1.1',
      steps: [
        { type: 'open', line: 8, as: 'a' },
        { type: 'open', line: 9, as: 'b' },
        {
          type: 'request',
          line: 10,
          on: 'a',
          version: '1.0',
          method: 'HEAD',
          path: '/x?y=1',
          connection: 'keep-alive',
          headers: [
            ['X-A', '1'],
            ['X-B', '2'],
          ],
          ifOpen: true,
          timed: true,
        },
        { type: 'wait', line: 11, ms: 1500 },
        { type: 'wait', line: 12, ms: '$maxIdle' },
        { type: 'wait-close', line: 13, on: 'a', max: 2000, extra: 200, then: 'keep-open', ifClosing: false },
        { type: 'wait-close', line: 14, on: 'b', max: '$maxIdle', extra: 0, then: 'close', ifClosing: true },
        {
          type: 'repeat',
          line: 15,
          on: 'b',
          max: '$maxRequests',
          budget: null,
          until: 'closed',
          steps: [
            { type: 'request', line: 20, on: 'b', version: '1.1', method: null, path: null, connection: 'none', headers: [], ifOpen: false, timed: false },
            { type: 'expect', line: 21, that: 'reused', severity: 'fail', message: null },
          ],
        },
        { type: 'close', line: 22, on: 'a', how: 'rst' },
        { type: 'close', line: 23, on: 'b', how: 'fin' },
        { type: 'expect', line: 24, that: 'idle >= 60s', severity: 'warn', message: 'too short' },
      ],
      metrics: {
        reused: { measure: 'reused', on: 'a', request: null },
        idle: { measure: 'idleBeforeClose', on: 'b', request: null },
        total: { measure: 'connections', on: null, request: null },
      },
    });
  });

  test('an unknown step type names the step and its line', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - request: { on: main }', // 5
        '  - sleep: 1s', // 6
      ),
    );
    expectError(err, 'custom.yaml', 6, 'steps[2].sleep', 'unknown field "sleep"');
  });

  test('a request without `on` names the request step', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - request:', // 5
        '      version: "1.0"', // 6
      ),
    );
    expectError(err, 'custom.yaml', 6, 'steps[1].request', 'missing required field "on"');
  });

  test('a request whose `timed` is not a boolean names the field', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - request: { on: main, timed: "yes" }', // 5
      ),
    );
    expectError(err, 'custom.yaml', 5, 'steps[1].request.timed', 'must be boolean');
  });

  test.each([
    ['a bare number', '5'],
    ['a quoted bare number', '"5"'],
    ['a space before the unit', '"2 s"'],
    ['an unknown unit', '2sec'],
  ])('a wait of %s is not a duration, and the message shows one', async (_, value) => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        `  - wait: ${value}`, // 5
      ),
    );
    expectError(err, 'custom.yaml', 5, 'steps[1].wait', 'must be a duration such as 1500ms, 2s, 1.5s, or $maxIdle');
  });

  test('a bad wait-close max or extra points at that field', async () => {
    const text = (field: string): string =>
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - wait-close:', // 5
        '      on: main', // 6
        field, // 7
      );
    expectError(await failure(text('      max: 5')), 'custom.yaml', 7, 'steps[1].wait-close.max', 'must be a duration such as 1500ms, 2s, 1.5s, or $maxIdle');
    expectError(
      await failure(`${text('      max: 1s')}      extra: "5"\n`),
      'custom.yaml',
      8,
      'steps[1].wait-close.extra',
      'must be a duration such as 200ms, 2s or 1.5s',
    );
  });

  test('a YAML syntax error gives the line of the mistake', async () => {
    const duplicate = lines(
      'id: t', // 1
      'title: T', // 2
      'steps:', // 3
      '  - open: main', // 4
      'title: U', // 5
    );
    expectError(await failure(duplicate), 'custom.yaml', 5, null, 'not valid YAML: Map keys must be unique');
    const tab = lines(
      'id: t', // 1
      'title: T', // 2
      'steps:', // 3
      '  - open: main', // 4
      '\t- close: { on: main }', // 5
    );
    expectError(await failure(tab), 'custom.yaml', 5, null, 'not valid YAML: Tabs are not allowed as indentation');
  });

  test('an unknown measure lists the known ones', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        'metrics:', // 5
        '  reused: { measure: reused, on: main }', // 6
        '  latency:', // 7
        '    measure: latency', // 8
      ),
    );
    expectError(
      err,
      'custom.yaml',
      8,
      'metrics.latency.measure',
      'must be one of "reused", "responses", "connections", "closedBy", "closeKind", "timeWaitSide", "idleBeforeClose", "advertisedTimeout", "advertisedMax", "keepAliveHeader", "responseStall", "requestsBeforeClose", "closeSignalled", "lastOutcome", "requestOutcome", "closeMode", "clientIdle", "raceWindow", "raceWindowUpper", "raceSafeIdle", "timePerRequest", "timeWaitClient", "timeWaitServer", "idleBeforeCloseMedian", "idleBeforeCloseMin", "idleBeforeCloseMax", "h2IdleBeforeGoaway", "goawayErrorCode", "goawayLastStreamId", "goawayDebug", "closeAfterGoaway", "twoStepGoaway", "h2StreamsBeforeGoaway", "goawaySignalled", "maxConcurrentStreams", "streamLimitEnforced", "pingRtt", "pingResetsIdle", "pingPolicy"',
    );
  });

  test('a connection used before its `open` step', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - request:', // 4
        '      path: /', // 5
        '      on: main', // 6
        '  - open: main', // 7
      ),
    );
    expectError(err, 'custom.yaml', 6, 'steps[0].request.on', 'connection "main" is used before an "open" step opens it');
  });

  test('a connection used inside a repeat before it is opened', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - repeat:', // 5
        '      on: main', // 6
        '      max: 3', // 7
        '      until: closed', // 8
        '      steps:', // 9
        '        - close: { on: other }', // 10
      ),
    );
    expectError(err, 'custom.yaml', 10, 'steps[1].repeat.steps[0].close.on', 'connection "other" is used before an "open" step opens it');
  });

  test('a metric on a connection that no step opens', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        'metrics:', // 5
        '  closeKind:', // 6
        '    measure: closeKind', // 7
        '    on: mian', // 8
      ),
    );
    expectError(err, 'custom.yaml', 8, 'metrics.closeKind.on', 'no step opens a connection "mian"');
  });

  test('short: Connection: close, a client close (the default) and an abandon, each a step of its own', async () => {
    const parsed = await parseScenario(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - short: { as: sends, count: 3, connection: close }', // 4
        '  - short: { as: closes, count: 2 }', // 5
        '  - short: { as: abandons, count: 4, then: abandon }', // 6
        'metrics:', // 7
        '  idle: { measure: idleBeforeCloseMedian, on: abandons }', // 8
      ),
      'short.yaml',
    );
    expect(parsed.steps).toEqual([
      { type: 'short', line: 4, as: 'sends', count: 3, connection: 'close', then: 'close' },
      { type: 'short', line: 5, as: 'closes', count: 2, connection: 'none', then: 'close' },
      { type: 'short', line: 6, as: 'abandons', count: 4, connection: 'none', then: 'abandon' },
    ]);
    expect(parsed.metrics.idle).toEqual({ measure: 'idleBeforeCloseMedian', on: 'abandons', request: null });
    const err = await failure(lines('id: t', 'title: T', 'steps:', '  - short: { as: a, count: 2, then: leave }'));
    expectError(err, 'custom.yaml', 4, 'steps[0].short.then', 'must be one of "close", "abandon"');
  });

  test('an expectation that does not parse points at its `that`', async () => {
    const short = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - expect: reused >', // 5
        'metrics:', // 6
        '  reused: { measure: reused }', // 7
      ),
    );
    expectError(
      short,
      'custom.yaml',
      5,
      'steps[1].expect.that',
      'cannot read expectation "reused >": expected "<metric>" or "<metric> <op> <value>" with op one of = != < <= > >=',
    );
    const long = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - expect:', // 5
        '      severity: warn', // 6
        '      that: idle < fast', // 7
        'metrics:', // 8
        '  idle: { measure: idleBeforeClose }', // 9
      ),
    );
    expectError(long, 'custom.yaml', 7, 'steps[1].expect.that', 'cannot read expectation "idle < fast": < needs a number or a duration, got "fast"');
  });

  test('an expectation on a metric the scenario does not define lists the metrics', async () => {
    const err = await failure(
      lines(
        'id: t', // 1
        'title: T', // 2
        'steps:', // 3
        '  - open: main', // 4
        '  - expect: reused', // 5
        'metrics:', // 6
        '  reuse: { measure: reused }', // 7
        '  total: { measure: connections }', // 8
      ),
    );
    expectError(err, 'custom.yaml', 5, 'expect.that', '"reused" is not a metric of this scenario (metrics: reuse, total)');
  });

  test('a headline that is not a metric', async () => {
    const err = await failure(lines('id: t', 'title: T', 'headline: speed', 'steps:', '  - open: main'));
    expectError(err, 'custom.yaml', 3, 'headline', '"speed" is not one of the metrics');
  });

  test('an empty file or a list instead of a mapping', async () => {
    expectError(await failure(''), 'custom.yaml', null, '(top level)', 'must be object');
    expectError(await failure(lines('- open: main')), 'custom.yaml', 1, '(top level)', 'must be object');
  });

  test('JSON is read too, with line numbers for both syntax and schema errors', async () => {
    const valid = lines(
      '{', // 1
      '  "id": "json-one",', // 2
      '  "title": "From JSON",', // 3
      '  "steps": [', // 4
      '    { "open": "main" },', // 5
      '    { "request": { "on": "main", "connection": "close" } }', // 6
      '  ]', // 7
      '}', // 8
    );
    const scenario = await parseScenario(valid, 'one.json');
    expect(scenario.steps).toEqual([
      { type: 'open', line: 5, as: 'main' },
      { type: 'request', line: 6, on: 'main', version: '1.1', method: null, path: null, connection: 'close', headers: [], ifOpen: false, timed: false },
    ]);
    expect([scenario.id, scenario.title, scenario.description, scenario.headline, scenario.metrics]).toEqual(['json-one', 'From JSON', '', null, {}]);

    const missingComma = lines(
      '{', // 1
      '  "id": "t",', // 2
      '  "title": "T"', // 3
      '  "steps": []', // 4
      '}', // 5
    );
    expectError(await failure(missingComma, 'bad.json'), 'bad.json', 4, null, 'not valid YAML: Missing , between flow map items');

    const badVersion = lines(
      '{', // 1
      '  "id": "t",', // 2
      '  "title": "T",', // 3
      '  "steps": [', // 4
      '    { "open": "main" },', // 5
      '    {', // 6
      '      "request": {', // 7
      '        "on": "main",', // 8
      '        "version": "2"', // 9
      '      }', // 10
      '    }', // 11
      '  ]', // 12
      '}', // 13
    );
    expectError(await failure(badVersion, 'bad.json'), 'bad.json', 9, 'steps[1].request.version', 'must be one of "1.0", "1.1"');
  });
});

describe('loadScenarioFile', () => {
  test('a file that cannot be read is a ScenarioFileError with the errno code', async () => {
    const file = path.join(SCENARIO_DIR, 'does-not-exist.yaml');
    const err = await loadScenarioFile(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ScenarioFileError);
    expectError(err as ScenarioFileError, file, null, null, 'cannot read the file (ENOENT)');
  });
});

describe('a top-level expect section', () => {
  test('becomes expect steps after the script, each with its line', async () => {
    const scenario = await parseScenario(
      [
        'id: t',
        'title: T',
        'steps:',
        '  - open: main',
        'metrics:',
        '  reused: { measure: reused, on: main }',
        'expect:',
        '  - reused',
        '  - { that: reused = true, severity: warn }',
        '',
      ].join('\n'),
      'top.yaml',
    );
    expect(scenario.steps.slice(1)).toEqual([
      { type: 'expect', line: 8, that: 'reused', severity: 'fail', message: null },
      { type: 'expect', line: 9, that: 'reused = true', severity: 'warn', message: null },
    ]);
  });

  test('a bad entry names its field and line', async () => {
    const err = await failure(['id: t', 'title: T', 'steps:', '  - open: main', 'expect:', '  - reused >'].join('\n'));
    expect({ line: err.line, field: err.field }).toEqual({ line: 6, field: 'expect[0].that' });
  });
});

describe('the schema and the engine agree', () => {
  test('every measure the schema allows is one the engine implements, and no other', async () => {
    const { readFile } = await import('node:fs/promises');
    const { MEASURES } = await import('../src/plan/scenario.js');
    const schema = JSON.parse(await readFile(path.join(SCENARIO_DIR, 'schema.json'), 'utf8')) as {
      properties: { metrics: { additionalProperties: { properties: { measure: { enum: string[] } } } } };
    };
    expect([...schema.properties.metrics.additionalProperties.properties.measure.enum].sort()).toEqual([...MEASURES].sort());
  });
});
