import { describe, expect, test } from 'vitest';
import { isPersistent, tokenize } from '../src/http/persistence.js';
import type { PersistenceInput } from '../src/http/persistence.js';

const exchange = (over: Partial<PersistenceInput>): PersistenceInput => ({
  requestVersion: '1.1',
  requestTokens: [],
  responseVersionMinor: 1,
  responseTokens: [],
  framing: { kind: 'length', length: 2 },
  ...over,
});

describe('isPersistent (RFC 9112 §9.3)', () => {
  test('HTTP/1.1 on both sides persists by default, whatever the self-delimited framing', () => {
    expect(isPersistent(exchange({}))).toBe(true);
    expect(isPersistent(exchange({ framing: { kind: 'chunked' } }))).toBe(true);
    expect(isPersistent(exchange({ framing: { kind: 'none' } }))).toBe(true);
    expect(isPersistent(exchange({ framing: { kind: 'length', length: 0 } }))).toBe(true);
  });

  test('"close" in the request ends the connection', () => {
    expect(isPersistent(exchange({ requestTokens: ['close'] }))).toBe(false);
    expect(isPersistent(exchange({ requestTokens: ['keep-alive', 'close'], responseTokens: ['keep-alive'] }))).toBe(false);
  });

  test('"close" in the response ends the connection', () => {
    expect(isPersistent(exchange({ responseTokens: ['close'] }))).toBe(false);
    expect(isPersistent(exchange({ responseTokens: ['upgrade', 'close'] }))).toBe(false);
    expect(
      isPersistent(exchange({ requestVersion: '1.0', requestTokens: ['keep-alive'], responseVersionMinor: 0, responseTokens: ['keep-alive', 'close'] })),
    ).toBe(false);
  });

  test('an HTTP/1.0 response persists only with "keep-alive"', () => {
    expect(isPersistent(exchange({ responseVersionMinor: 0 }))).toBe(false);
    expect(isPersistent(exchange({ responseVersionMinor: 0, responseTokens: ['keep-alive'] }))).toBe(true);
  });

  test('an HTTP/1.0 request without "keep-alive" is not persistent, even with an HTTP/1.1 response (Appendix C.2.2)', () => {
    expect(isPersistent(exchange({ requestVersion: '1.0' }))).toBe(false);
    expect(isPersistent(exchange({ requestVersion: '1.0', responseTokens: ['keep-alive'] }))).toBe(false);
    expect(isPersistent(exchange({ requestVersion: '1.0', responseVersionMinor: 0, responseTokens: ['keep-alive'] }))).toBe(false);
  });

  test('an HTTP/1.0 request with "keep-alive" persists if the response agrees', () => {
    expect(isPersistent(exchange({ requestVersion: '1.0', requestTokens: ['keep-alive'] }))).toBe(true);
    expect(isPersistent(exchange({ requestVersion: '1.0', requestTokens: ['keep-alive'], responseVersionMinor: 0, responseTokens: ['keep-alive'] }))).toBe(
      true,
    );
    expect(isPersistent(exchange({ requestVersion: '1.0', requestTokens: ['keep-alive'], responseVersionMinor: 0 }))).toBe(false);
  });

  test('a close-delimited body can never be followed by another response', () => {
    expect(isPersistent(exchange({ framing: { kind: 'close' } }))).toBe(false);
    expect(isPersistent(exchange({ framing: { kind: 'close' }, requestTokens: ['keep-alive'], responseTokens: ['keep-alive'] }))).toBe(false);
  });

  test('tokens other than close and keep-alive change nothing', () => {
    expect(isPersistent(exchange({ requestTokens: ['upgrade'], responseTokens: ['te'] }))).toBe(true);
    expect(isPersistent(exchange({ responseVersionMinor: 0, responseTokens: ['keep-alive-ish'] }))).toBe(false);
  });
});

describe('tokenize', () => {
  test.each([
    [null, []],
    ['', []],
    ['close', ['close']],
    ['Keep-Alive', ['keep-alive']],
    [' Keep-Alive , Upgrade ', ['keep-alive', 'upgrade']],
    [',, CLOSE,,', ['close']],
  ] as const)('%j → %j', (value, tokens) => {
    expect(tokenize(value)).toEqual(tokens);
  });

  test('feeds isPersistent: "Connection: Close" from a server ends the connection', () => {
    expect(isPersistent(exchange({ responseTokens: tokenize('Close') }))).toBe(false);
  });
});
