import { readFileSync } from 'node:fs';
import path from 'node:path';
// The named export: under NodeNext the default import of this CommonJS module is its namespace, not the class.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ExpectStatic } from 'vitest';
import type { RunResult } from '../../src/model/result.js';

/** docs/report.schema.json, compiled once (JSON Schema 2020-12, strict). */
const SCHEMA_FILE = path.resolve(import.meta.dirname, '../../docs/report.schema.json');
const ajv = new Ajv2020({ strict: true, allErrors: true });
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
export const validateReport = ajv.compile<RunResult>(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);

/** Errors shown when a report does not validate; a broken shared shape repeats one error per connection. */
const SHOWN_ERRORS = 20;

/** Asserts `report` validates, showing the schema errors with their instance paths when it does not. */
export function expectValid(expect: ExpectStatic, report: unknown): asserts report is RunResult {
  if (validateReport(report)) return;
  const errors = validateReport.errors ?? [];
  // The params name what errorsText leaves out: the unknown property, the allowed values.
  const lines = errors.slice(0, SHOWN_ERRORS).map((e) => `${ajv.errorsText([e], { dataVar: 'report' })} ${JSON.stringify(e.params)}`);
  if (errors.length > SHOWN_ERRORS) lines.push(`… and ${errors.length - SHOWN_ERRORS} more`);
  expect.fail(`report does not match docs/report.schema.json:\n${lines.join('\n')}`);
}
