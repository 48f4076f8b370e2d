import { describe, expect, test } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../src/util/duration.js';

describe('parseDuration', () => {
  test.each([
    ['1500ms', 1500],
    ['0ms', 0],
    ['2s', 2000],
    ['1.5s', 1500],
    ['0.25s', 250],
    ['2m', 120_000],
    ['1.5m', 90_000],
    ['1h', 3_600_000],
    ['1.5ms', 2], // rounded to whole milliseconds
    ['  2s\t', 2000],
    ['\n750ms ', 750],
    // Compound, any case, and the reports' own spelling.
    ['1m30s', 90_000],
    ['2S', 2000],
    ['1H', 3_600_000],
    ['1h2m3s4ms', 3_723_004],
    ['2 s', 2000],
    ['1 min 30 s', 90_000],
    ['5min', 300_000],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  // A bare number is ambiguous (nginx means seconds, Node means ms), and so is a trailing one.
  test.each(['5', '', '   ', '1m30', '-1s', '+1s', '1.5.5s', '.5s', '1.s', '2sec', '1d', 'ms', '1e3ms', 'Infinitys', '99999999999999999999h', 's2'])(
    'rejects %j',
    (input) => {
      expect(() => parseDuration(input)).toThrow(DurationError);
    },
  );

  test('the error keeps the input and says how to write a duration', () => {
    let caught: unknown;
    try {
      parseDuration('30');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DurationError);
    const err = caught as DurationError;
    expect(err.input).toBe('30');
    expect(err.name).toBe('DurationError');
    expect(err.message).toBe('invalid duration "30": give a unit (30s or 30ms?): a bare number could mean seconds or milliseconds');
    expect(new DurationError('2x').message).toBe('invalid duration "2x": use a number with a unit, for example 1500ms, 2s, 1.5s, 2m or 1m30s');
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0 ms'],
    [0.4, '0 ms'],
    [999, '999 ms'],
    [999.4, '999 ms'],
    [999.5, '1 s'],
    [1000, '1 s'],
    [1500, '1.5 s'],
    [1234, '1.23 s'],
    [2004, '2 s'],
    [9999, '10 s'],
    [12_345, '12.3 s'],
    [30_000, '30 s'],
    [59_900, '59.9 s'],
    [59_999, '1 min'],
    [60_000, '1 min'],
    [61_000, '1 min 1 s'],
    [90_000, '1 min 30 s'],
    [119_400, '1 min 59 s'],
    [119_600, '2 min'],
    [3_600_000, '60 min'],
    [-1500, '-1.5 s'],
  ])('%d ms reads %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test.each([
    ['1500ms', '1.5 s'],
    ['2s', '2 s'],
    ['2m', '2 min'],
    ['1h', '60 min'],
  ])('parseDuration(%j) formats as %j', (input, text) => {
    expect(formatDuration(parseDuration(input))).toBe(text);
  });
});
