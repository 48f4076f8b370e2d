import { describe, expect, test } from 'vitest';
import { headerValue, joinedValue, parseKeepAlive } from '../src/http/keepAliveHeader.js';
import { tokenize } from '../src/http/persistence.js';
import type { HeaderList } from '../src/http/keepAliveHeader.js';

describe('parseKeepAlive', () => {
  test('reads timeout and max as nginx and Apache send them', () => {
    expect(parseKeepAlive([['Keep-Alive', 'timeout=5, max=100']])).toEqual({ raw: 'timeout=5, max=100', timeoutS: 5, max: 100, invalid: [] });
  });

  test('either parameter may be absent', () => {
    expect(parseKeepAlive([['Keep-Alive', 'timeout=5']])).toEqual({ raw: 'timeout=5', timeoutS: 5, max: null, invalid: [] });
    expect(parseKeepAlive([['Keep-Alive', 'max=3']])).toEqual({ raw: 'max=3', timeoutS: null, max: 3, invalid: [] });
    expect(parseKeepAlive([['Keep-Alive', '']])).toEqual({ raw: '', timeoutS: null, max: null, invalid: [] });
  });

  test('quoted values and spaces around = are accepted', () => {
    expect(parseKeepAlive([['Keep-Alive', 'timeout="15", max = "7"']])).toEqual({
      raw: 'timeout="15", max = "7"',
      timeoutS: 15,
      max: 7,
      invalid: [],
    });
  });

  test('unknown parameters are ignored, not reported as invalid', () => {
    expect(parseKeepAlive([['Keep-Alive', 'foo=bar, timeout=5, x, max=9, y="z"']])).toEqual({
      raw: 'foo=bar, timeout=5, x, max=9, y="z"',
      timeoutS: 5,
      max: 9,
      invalid: [],
    });
  });

  test('unreadable timeout and max values are listed as sent and left null', () => {
    expect(parseKeepAlive([['Keep-Alive', 'timeout=abc, max=-1']])).toEqual({
      raw: 'timeout=abc, max=-1',
      timeoutS: null,
      max: null,
      invalid: ['timeout=abc', 'max=-1'],
    });
    expect(parseKeepAlive([['Keep-Alive', 'timeout, max=, timeout=1.5, max=1234567890']])?.invalid).toEqual([
      'timeout',
      'max=',
      'timeout=1.5',
      'max=1234567890',
    ]);
  });

  test('an invalid value does not hide a later valid one', () => {
    expect(parseKeepAlive([['Keep-Alive', 'timeout=x, timeout=7']])).toMatchObject({ timeoutS: 7, invalid: ['timeout=x'] });
  });

  test('the first valid value wins when a parameter repeats', () => {
    expect(parseKeepAlive([['Keep-Alive', 'timeout=5, timeout=60, max=2, max=50']])).toMatchObject({ timeoutS: 5, max: 2 });
  });

  test('several Keep-Alive fields are joined in order', () => {
    const headers: HeaderList = [
      ['Keep-Alive', 'timeout=5'],
      ['Content-Length', '0'],
      ['keep-alive', 'max=100'],
    ];
    expect(parseKeepAlive(headers)).toEqual({ raw: 'timeout=5, max=100', timeoutS: 5, max: 100, invalid: [] });
  });

  test('no Keep-Alive field gives null', () => {
    expect(parseKeepAlive([])).toBeNull();
    expect(
      parseKeepAlive([
        ['Connection', 'keep-alive'],
        ['Keep-Alive-Timeout', '5'],
      ]),
    ).toBeNull();
  });

  test('header and parameter names are case-insensitive', () => {
    expect(parseKeepAlive([['KEEP-ALIVE', 'Timeout=4, MAX=8']])).toEqual({ raw: 'Timeout=4, MAX=8', timeoutS: 4, max: 8, invalid: [] });
  });
});

describe('Connection tokens: tokenize(joinedValue(headers, "connection")), as the probe reads them', () => {
  test('lower-cases and trims tokens of every Connection field, skipping empty ones', () => {
    const headers: HeaderList = [
      ['Connection', ' Keep-Alive , Upgrade'],
      ['Host', 'x'],
      ['CONNECTION', 'close,,'],
    ];
    expect(tokenize(joinedValue(headers, 'connection'))).toEqual(['keep-alive', 'upgrade', 'close']);
  });

  test('no Connection field gives no tokens', () => {
    expect(tokenize(joinedValue([['Keep-Alive', 'timeout=5']], 'connection'))).toEqual([]);
    expect(tokenize(joinedValue([['Connection', '  ']], 'connection'))).toEqual([]);
  });
});

describe('headerValue', () => {
  const headers: HeaderList = [
    ['Server', 'nginx'],
    ['X-A', 'first'],
    ['x-a', 'second'],
    ['Empty', ''],
  ];

  test('returns the first value, matching the name case-insensitively', () => {
    expect(headerValue(headers, 'x-a')).toBe('first');
    expect(headerValue(headers, 'SERVER')).toBe('nginx');
  });

  test('an empty value is a value, an absent header is null', () => {
    expect(headerValue(headers, 'empty')).toBe('');
    expect(headerValue(headers, 'Keep-Alive')).toBeNull();
  });
});
