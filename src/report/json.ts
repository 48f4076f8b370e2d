import type { RunResult } from '../model/result.js';

/**
 * Characters JSON.stringify leaves raw that a terminal may still act on: DEL, C1 controls
 * (U+009B is an 8-bit CSI) and bidi overrides. Escaping them keeps the document's value.
 */
const UNSAFE = /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** The --json document: the run result as-is (docs/json-report.md), one document, newline-terminated. */
export function renderJson(result: RunResult): string {
  const text = JSON.stringify(result, null, 2).replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${text}\n`;
}
