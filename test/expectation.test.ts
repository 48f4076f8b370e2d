import { describe, expect, test } from 'vitest';
import { ExpectationSyntaxError, parseExpectation } from '../src/plan/expectation.js';
import { holds } from '../src/verdict/expectations.js';
import type { MetricValue } from '../src/model/result.js';

describe('parseExpectation', () => {
  test('a metric alone means "= true"', () => {
    expect(parseExpectation('reused')).toEqual({ text: 'reused', metric: 'reused', op: '=', value: true });
    expect(parseExpectation('  keepAliveHonoured  ')).toEqual({ text: '  keepAliveHonoured  ', metric: 'keepAliveHonoured', op: '=', value: true });
  });

  test.each([
    ['a = 1', '=', 1],
    ['a != 1', '!=', 1],
    ['a < 1', '<', 1],
    ['a <= 1', '<=', 1],
    ['a > 1', '>', 1],
    ['a >= 1', '>=', 1],
    ['a>=1', '>=', 1],
    ['a   !=   -2.5  ', '!=', -2.5],
  ] as const)('%j has op %s and value %d', (text, op, value) => {
    expect(parseExpectation(text)).toEqual({ text, metric: 'a', op, value });
  });

  test.each([
    ['idleTimeoutMs >= 60s', 60_000],
    ['idleTimeoutMs < 1500ms', 1500],
    ['idleTimeoutMs = 1.5s', 1500],
    ['idleTimeoutMs <= 2m', 120_000],
    ['idleTimeoutMs > 1h', 3_600_000],
  ])('durations become milliseconds: %j', (text, ms) => {
    expect(parseExpectation(text).value).toBe(ms);
  });

  test('true, false and null are literals, not strings', () => {
    expect(parseExpectation('signalled != false').value).toBe(false);
    expect(parseExpectation('signalled = true').value).toBe(true);
    expect(parseExpectation('maxRequests != null').value).toBeNull();
  });

  test('anything else after = or != is a string', () => {
    expect(parseExpectation('closeKind = fin')).toEqual({ text: 'closeKind = fin', metric: 'closeKind', op: '=', value: 'fin' });
    expect(parseExpectation('outcome != ECONNRESET').value).toBe('ECONNRESET');
    expect(parseExpectation('outcome = premature-close').value).toBe('premature-close');
    expect(parseExpectation('x = True').value).toBe('True');
    expect(parseExpectation('x = 5x').value).toBe('5x');
  });

  test('metric names may hold digits, dots and hyphens after a letter', () => {
    expect(parseExpectation('main.idle-2 > 0').metric).toBe('main.idle-2');
  });

  test.each(['', '   ', '5 > x', 'x >', 'x = ', '= 5', 'x = a b', 'x == 5', 'x 5', 'x ~ 5', '_x'])('%j is a syntax error', (text) => {
    expect(() => parseExpectation(text)).toThrow(
      new ExpectationSyntaxError(`cannot read expectation "${text}": expected "<metric>" or "<metric> <op> <value>" with op one of = != < <= > >=`),
    );
  });

  // Without a space the second operator character would be read as the start of a string value
  // ("=false"), and the expectation would silently never (or always) hold.
  test.each([
    ['x ==5', '=', '='],
    ['signalled !==false', '!=', '='],
    ['x =<5', '=', '<'],
    ['x =>5', '=', '>'],
    ['x =!y', '=', '!'],
  ])('%j is a syntax error, not a comparison with a string', (text, op, ch) => {
    expect(() => parseExpectation(text)).toThrow(
      new ExpectationSyntaxError(`cannot read expectation "${text}": unexpected "${ch}" after "${op}"; op is one of = != < <= > >=`),
    );
  });

  test.each([
    ['closeKind > fin', '>', 'fin'],
    ['x <= true', '<=', 'true'],
    ['x < null', '<', 'null'],
    ['x >= -1s', '>=', '-1s'],
    ['x > 1.5.5s', '>', '1.5.5s'],
  ])('ordering needs a number or a duration: %j', (text, op, raw) => {
    expect(() => parseExpectation(text)).toThrow(
      new ExpectationSyntaxError(`cannot read expectation "${text}": ${op} needs a number or a duration, got "${raw}"`),
    );
  });
});

describe('holds', () => {
  const check = (text: string, measured: MetricValue): boolean => holds(parseExpectation(text), measured);

  test('a metric alone holds only for true, not for other truthy values', () => {
    expect(check('reused', true)).toBe(true);
    expect(check('reused', false)).toBe(false);
    expect(check('reused', null)).toBe(false);
    expect(check('reused', 1)).toBe(false);
    expect(check('reused', 'true')).toBe(false);
  });

  test('= and != compare type and value strictly', () => {
    expect(check('n = 3', 3)).toBe(true);
    expect(check('n = 3', 4)).toBe(false);
    expect(check('n = 3', '3')).toBe(false);
    expect(check('n != 3', '3')).toBe(true);
    expect(check('n != null', null)).toBe(false);
    expect(check('n != null', 0)).toBe(true);
    expect(check('n = null', null)).toBe(true);
    expect(check('s = false', false)).toBe(true);
    expect(check('s != false', null)).toBe(true);
    expect(check('k = fin', 'fin')).toBe(true);
    expect(check('k = fin', 'FIN')).toBe(false);
    expect(check('k != fin', 'rst')).toBe(true);
  });

  test('ordering operators at and around the boundary', () => {
    expect([59_999, 60_000, 60_001].map((ms) => check('t < 60s', ms))).toEqual([true, false, false]);
    expect([59_999, 60_000, 60_001].map((ms) => check('t <= 60s', ms))).toEqual([true, true, false]);
    expect([59_999, 60_000, 60_001].map((ms) => check('t > 60s', ms))).toEqual([false, false, true]);
    expect([59_999, 60_000, 60_001].map((ms) => check('t >= 60s', ms))).toEqual([false, true, true]);
    expect(check('t > -1', 0)).toBe(true);
  });

  test('ordering with a measured value that is not a number never holds', () => {
    expect(check('t >= 0', null)).toBe(false);
    expect(check('t < 60s', '1000')).toBe(false);
    expect(check('t < 1', true)).toBe(false);
  });

  test('a duration literal compares with a metric in milliseconds', () => {
    expect(check('idleTimeoutMs = 5s', 5000)).toBe(true);
    expect(check('idleTimeoutMs = 5s', 5)).toBe(false);
  });
});
