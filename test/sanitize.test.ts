import { describe, expect, test } from 'vitest';
import { sanitize } from '../src/util/sanitize.js';

describe('sanitize', () => {
  test('CSI colour sequences are shown, not obeyed', () => {
    expect(sanitize('\u001b[31mred\u001b[0m')).toBe('\\x1b[31mred\\x1b[0m');
  });

  test('an OSC 8 hyperlink with a BEL terminator is shown, not obeyed', () => {
    expect(sanitize('\u001b]8;;http://x\u0007click\u001b]8;;\u0007')).toBe('\\x1b]8;;http://x\\x07click\\x1b]8;;\\x07');
  });

  test('C1 controls (single-byte CSI, NEL) and DEL are escaped', () => {
    expect(sanitize('a\u009b2Jb')).toBe('a\\x9b2Jb');
    expect(sanitize('\u0085\u0080\u009f')).toBe('\\x85\\x80\\x9f');
    expect(sanitize('x\u007fy')).toBe('x\\x7fy');
  });

  test('bidi overrides, isolates and invisible format characters are escaped (Trojan Source)', () => {
    expect(sanitize('abc\u202edcba')).toBe('abc\\u202edcba');
    expect(sanitize('\u2066x\u2069')).toBe('\\u2066x\\u2069');
    expect(sanitize('\u202a\u202b\u202c\u202d')).toBe('\\u202a\\u202b\\u202c\\u202d');
    expect(sanitize('\u200e\u200f\u061c\u200b\ufeff\u2028\u2029\u2060')).toBe('\\u200e\\u200f\\u061c\\u200b\\ufeff\\u2028\\u2029\\u2060');
  });

  test('NUL, CR, LF and TAB are escaped (they would break or forge table rows)', () => {
    expect(sanitize('a\u0000b')).toBe('a\\x00b');
    expect(sanitize('OK\r\nX-Forged: 1\tz')).toBe('OK\\x0d\\x0aX-Forged: 1\\x09z');
  });

  test('printable ASCII and ordinary Unicode pass unchanged', () => {
    const text = 'nginx/1.25.3 (Ubuntu) — café 日本 😀 ÿ\u00a0end ~!@#$%^&*()';
    expect(sanitize(text)).toBe(text);
    expect(sanitize('')).toBe('');
  });

  test('text up to maxLength is kept whole; longer text is cut and says how much was left out', () => {
    expect(sanitize('abcdef', 6)).toBe('abcdef');
    expect(sanitize('abcdef', 3)).toBe('abc… (3 more)');
    expect(sanitize('a'.repeat(200), 200)).toBe('a'.repeat(200));
    expect(sanitize('a'.repeat(250), 200)).toBe(`${'a'.repeat(200)}… (50 more)`);
    expect(sanitize('a'.repeat(1000))).toBe('a'.repeat(1000));
  });

  test('the length limit applies to the escaped text', () => {
    expect(sanitize('\u001b', 4)).toBe('\\x1b');
    expect(sanitize('ab\u001bcd', 6)).toBe('ab\\x1b… (2 more)');
  });

  test('the cut never splits an escape or a surrogate pair', () => {
    // 'ab\\x1' would read as a different, truncated escape.
    expect(sanitize('ab\u001bcd', 5)).toBe('ab… (3 more)');
    expect(sanitize('\u202e'.repeat(3), 13)).toBe('\\u202e\\u202e… (1 more)');
    // A lone surrogate would print as U+FFFD and is not valid XML in the HTML report.
    const cut = sanitize('a😀b😀c', 3);
    expect(cut).toBe('a😀b… (2 more)');
    expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    expect(sanitize('😀'.repeat(10), 4)).toBe(`${'😀'.repeat(4)}… (6 more)`);
  });
});
