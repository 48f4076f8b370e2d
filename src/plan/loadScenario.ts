import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { ExpectationSyntaxError, parseExpectation } from './expectation.js';
import type { CountRef, DurationRef, MeasureName, MetricSpec, Scenario, Step } from './scenario.js';
import type { ParsedBuiltin, ParsedBuiltins } from './builtinCache.js';
import { SCENARIO_DIR, SCHEMA_FILE, ScenarioFileError, readScenarioText } from './scenarioFile.js';

/**
 * The schema's validator, compiled once per process: the promise is kept, not the result,
 * so the scenarios loaded at once share one compilation (each took ~100 ms of CPU).
 */
let validator: Promise<ValidateFunction> | null = null;

function schemaValidator(): Promise<ValidateFunction> {
  validator ??= readFile(SCHEMA_FILE, 'utf8').then((text) => new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(text) as object));
  return validator;
}

/** Reads, parses and validates one scenario file (YAML or JSON). Throws ScenarioFileError. */
export async function loadScenarioFile(file: string): Promise<Scenario> {
  return parseScenario(await readScenarioText(file), file);
}

/**
 * Every built-in scenario parsed, as the build stores them in the bundle (PARSED_BUILTINS in
 * builtinCache.ts): the schema's text, and each file's text and its scenario, keyed by file
 * name, with that name as `source` (the path where the package is installed replaces it when loaded).
 */
export async function parseBuiltins(): Promise<string> {
  const names = (await readdir(SCENARIO_DIR)).filter((f) => f.endsWith('.yaml'));
  const files: Record<string, ParsedBuiltin> = {};
  for (const name of names.sort()) {
    const file = path.join(SCENARIO_DIR, name);
    const text = await readScenarioText(file);
    files[name] = { text, scenario: { ...(await parseScenario(text, file)), source: name } };
  }
  const parsed: ParsedBuiltins = { schema: await readFile(SCHEMA_FILE, 'utf8'), files };
  const json = JSON.stringify(parsed);
  // The scenarios come back from JSON: nothing in them may be lost on the way (undefined, a Map, NaN).
  if (!isDeepStrictEqual(JSON.parse(json), parsed)) throw new Error('a built-in scenario does not survive JSON: it cannot be stored in the bundle');
  return json;
}

/** Parses and validates scenario text; `file` is used in messages and as the scenario's source. */
export async function parseScenario(text: string, file: string): Promise<Scenario> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = lines.linePos(firstError.pos[0]).line;
    throw new ScenarioFileError(file, line, null, `not valid YAML: ${firstError.message.split('\n')[0] ?? ''}`);
  }
  const data: unknown = doc.toJS();
  const validate = await schemaValidator();
  if (!validate(data)) {
    const err = mostSpecific(validate.errors ?? []);
    const where = pathOf(err);
    throw new ScenarioFileError(file, lineOf(doc, lines, where), fieldName(where), explain(err));
  }
  const raw = data as RawScenario;
  const locate = (p: (string | number)[]): number | null => lineOf(doc, lines, p);
  const opened = new Set<string>();
  const steps = raw.steps.map((s, i) => toStep(s, ['steps', i], opened, file, locate));
  // burst and ping are HTTP/2 frames' business: an HTTP/1 connection has neither.
  const h2Only = steps.findIndex((s) => (s.type === 'burst' || s.type === 'ping') && raw.protocol !== 'h2');
  if (h2Only >= 0) {
    const step = steps[h2Only] as Step;
    throw new ScenarioFileError(file, step.line, `steps[${h2Only}].${step.type}`, `the ${step.type} step needs "protocol: h2"`);
  }
  // A top-level `expect:` list reads as expect steps after the script.
  for (const [i, e] of (raw.expect ?? []).entries()) steps.push(expectStep(e, ['expect', i], locate(['expect', i]) ?? 0, file, locate));
  const metrics: Record<string, MetricSpec> = {};
  for (const [name, spec] of Object.entries(raw.metrics ?? {})) {
    if (spec.on !== undefined && !opened.has(spec.on)) {
      throw new ScenarioFileError(file, locate(['metrics', name, 'on']), `metrics.${name}.on`, `no step opens a connection "${spec.on}"`);
    }
    if (spec.measure === 'requestOutcome' && spec.request === undefined) {
      throw new ScenarioFileError(
        file,
        locate(['metrics', name]),
        `metrics.${name}.request`,
        'requestOutcome needs "request": which request on the connection (1 = the first)',
      );
    }
    metrics[name] = { measure: spec.measure, on: spec.on ?? null, request: spec.request ?? null };
  }
  checkExpectations(steps, metrics, file);
  if (raw.headline !== undefined && !(raw.headline in metrics)) {
    throw new ScenarioFileError(file, locate(['headline']), 'headline', `"${raw.headline}" is not one of the metrics`);
  }
  return {
    id: raw.id,
    title: raw.title,
    description: (raw.description ?? '').trim(),
    source: file,
    steps,
    metrics,
    headline: raw.headline ?? null,
    exclusive: raw.exclusive ?? false,
    needs: raw.needs ?? null,
    protocol: raw.protocol ?? 'http/1.1',
  };
}

interface RawScenario {
  id: string;
  title: string;
  description?: string;
  headline?: string;
  exclusive?: boolean;
  needs?: 'keep-alive';
  protocol?: 'http/1.1' | 'h2';
  steps: RawStep[];
  metrics?: Record<string, { measure: MeasureName; on?: string; request?: number }>;
  expect?: unknown[];
}

type RawStep = Record<string, unknown>;

function toStep(raw: RawStep, at: (string | number)[], opened: Set<string>, file: string, locate: (p: (string | number)[]) => number | null): Step {
  const [type, value] = Object.entries(raw)[0] as [string, unknown];
  const line = locate(at) ?? 0;
  const field = (name: string): string => `${fieldName(at)}.${type}${name === '' ? '' : `.${name}`}`;
  const needOpen = (label: string): string => {
    if (!opened.has(label)) {
      throw new ScenarioFileError(file, locate([...at, type, 'on']) ?? line, field('on'), `connection "${label}" is used before an "open" step opens it`);
    }
    return label;
  };
  const v = value as Record<string, unknown>;
  switch (type) {
    case 'open': {
      const as = typeof value === 'string' ? value : String(v.as);
      opened.add(as);
      return { type: 'open', line, as };
    }
    case 'request':
      return {
        type: 'request',
        line,
        on: needOpen(String(v.on)),
        version: (v.version as '1.0' | '1.1' | undefined) ?? '1.1',
        method: (v.method as string | undefined) ?? null,
        path: (v.path as string | undefined) ?? null,
        connection: (v.connection as 'keep-alive' | 'close' | 'none' | undefined) ?? 'none',
        headers: Object.entries((v.headers as Record<string, string> | undefined) ?? {}),
        ifOpen: (v['if-open'] as boolean | undefined) ?? false,
        timed: (v.timed as boolean | undefined) ?? false,
      };
    case 'wait':
      return { type: 'wait', line, ms: durationRef(value) };
    case 'wait-close':
      return {
        type: 'wait-close',
        line,
        on: needOpen(String(v.on)),
        max: durationRef(v.max),
        extra: typeof v.extra === 'string' ? parseDuration(v.extra) : 0,
        then: (v.then as 'close' | 'keep-open' | undefined) ?? 'close',
        ifClosing: (v['if-closing'] as boolean | undefined) ?? false,
      };
    case 'close':
      return { type: 'close', line, on: needOpen(String(v.on)), how: (v.how as 'fin' | 'rst' | undefined) ?? 'fin' };
    case 'repeat': {
      const on = needOpen(String(v.on));
      const inner = (v.steps as RawStep[]).map((s, i) => toStep(s, [...at, 'repeat', 'steps', i], opened, file, locate));
      const budget = typeof v.budget === 'string' ? parseDuration(v.budget) : null;
      return { type: 'repeat', line, on, max: countRef(v.max), budget, until: 'closed', steps: inner };
    }
    case 'race': {
      const as = (v.as as string | undefined) ?? 'race';
      const after = String(v.after);
      if (!opened.has(after)) {
        throw new ScenarioFileError(
          file,
          locate([...at, type, 'after']) ?? line,
          field('after'),
          `connection "${after}" is used before an "open" step opens it`,
        );
      }
      opened.add(as);
      const offsets = (v.offsets as string[]).map((o) => (o.startsWith('-') ? -parseDuration(o.slice(1)) : parseDuration(o.replace(/^\+/, ''))));
      const max = v.max === undefined ? '$maxIdle' : durationRef(v.max);
      return { type: 'race', line, after, as, offsets, max, repeat: (v.repeat as number | undefined) ?? 1, parallel: (v.parallel as number | undefined) ?? 32 };
    }
    case 'short': {
      const as = String(v.as);
      opened.add(as);
      return {
        type: 'short',
        line,
        as,
        count: v.count as number,
        connection: (v.connection as 'close' | 'none' | undefined) ?? 'none',
        then: (v.then as 'close' | 'abandon' | undefined) ?? 'close',
      };
    }
    case 'burst':
      return { type: 'burst', line, on: needOpen(String(v.on)), max: (v.max as number | undefined) ?? 100 };
    case 'ping':
      return {
        type: 'ping',
        line,
        on: needOpen(String(v.on)),
        every: parseDuration(String(v.every)),
        count: (v.count as number | undefined) ?? null,
        whileOpen: v['while-open'] === undefined ? null : needOpen(String(v['while-open'])),
        extra: typeof v.extra === 'string' ? parseDuration(v.extra) : 0,
        max: v.max === undefined ? '$maxIdle' : durationRef(v.max),
      };
    case 'expect':
      return expectStep(value, [...at, type], line, file, locate);
    default:
      throw new ScenarioFileError(file, line, fieldName(at), `unknown step "${type}"`);
  }
}

/** An expect step from `expect: "..."` or `expect: { that, severity, message }`; `at` is the path of that value. */
function expectStep(value: unknown, at: (string | number)[], line: number, file: string, locate: (p: (string | number)[]) => number | null): Step {
  const spec = typeof value === 'string' ? { that: value } : (value as { that: string; severity?: 'warn' | 'fail'; message?: string });
  try {
    parseExpectation(spec.that);
  } catch (err) {
    if (err instanceof ExpectationSyntaxError) {
      const thatAt = typeof value === 'string' ? at : [...at, 'that'];
      throw new ScenarioFileError(file, locate(thatAt) ?? line, `${fieldName(at)}.that`, err.message);
    }
    throw err;
  }
  return { type: 'expect', line, that: spec.that, severity: spec.severity ?? 'fail', message: spec.message ?? null };
}

function checkExpectations(steps: readonly Step[], metrics: Record<string, MetricSpec>, file: string): void {
  for (const step of steps) {
    if (step.type === 'repeat') checkExpectations(step.steps, metrics, file);
    if (step.type !== 'expect') continue;
    const { metric } = parseExpectation(step.that);
    if (!(metric in metrics)) {
      const known = Object.keys(metrics).join(', ') || 'none';
      throw new ScenarioFileError(file, step.line, 'expect.that', `"${metric}" is not a metric of this scenario (metrics: ${known})`);
    }
  }
}

function durationRef(value: unknown): DurationRef {
  return value === '$maxIdle' ? '$maxIdle' : parseDuration(String(value));
}

function countRef(value: unknown): CountRef {
  return value === '$maxRequests' ? '$maxRequests' : Number(value);
}

/** The error deepest in the document, skipping oneOf/anyOf summaries that only say "see above". */
function mostSpecific(errors: readonly ErrorObject[]): ErrorObject {
  const useful = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const pool = useful.length > 0 ? useful : errors;
  return pool.reduce((best, e) => (pathOf(e).length > pathOf(best).length ? e : best));
}

function pathOf(err: ErrorObject): (string | number)[] {
  const parts = err.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const extra = err.params as { additionalProperty?: string; missingProperty?: string };
  if (err.keyword === 'additionalProperties' && extra.additionalProperty !== undefined) parts.push(extra.additionalProperty);
  return parts;
}

function explain(err: ErrorObject): string {
  const params = err.params as { additionalProperty?: string; missingProperty?: string; allowedValues?: unknown[] };
  if (err.keyword === 'additionalProperties') return `unknown field "${params.additionalProperty ?? ''}"`;
  if (err.keyword === 'required') return `missing required field "${params.missingProperty ?? ''}"`;
  if (err.keyword === 'enum') return `must be one of ${(params.allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
  // Any failure inside the duration definition (a bare number, a typo, a missing unit) gets the same hint.
  if (err.schemaPath.startsWith('#/definitions/duration/')) return 'must be a duration such as 1500ms, 2s, 1.5s, or $maxIdle';
  if (err.keyword === 'pattern' && err.instancePath.endsWith('/extra')) return 'must be a duration such as 200ms, 2s or 1.5s';
  return err.message ?? 'invalid';
}

function fieldName(p: readonly (string | number)[]): string {
  return p.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`), '') || '(top level)';
}

/** The 1-based line of the deepest node of `p` that exists in the document. */
function lineOf(doc: Document, lines: LineCounter, p: readonly (string | number)[]): number | null {
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range !== undefined) return lines.linePos(range[0]).line;
  }
  return null;
}
