import os from 'node:os';
import { describe, expect, test } from 'vitest';
import { TargetError, applyResolves, parseResolve, parseTarget } from '../src/plan/target.js';
import { isLocalAddress } from '../src/wire/localAddress.js';

describe('parseTarget', () => {
  test('http:// defaults to port 80 and path /', () => {
    expect(parseTarget('http://example.test')).toEqual({
      url: 'http://example.test/',
      host: 'example.test',
      port: 80,
      tls: false,
      hostHeader: 'example.test',
      path: '/',
      connectAddress: null,
    });
  });

  test('https:// defaults to port 443', () => {
    expect(parseTarget('https://example.test/health')).toEqual({
      url: 'https://example.test/health',
      host: 'example.test',
      port: 443,
      tls: true,
      hostHeader: 'example.test',
      path: '/health',
      connectAddress: null,
    });
  });

  test('an explicit port is kept in the Host header; the default port is dropped from it', () => {
    expect(parseTarget('http://127.0.0.1:8080/')).toMatchObject({ host: '127.0.0.1', port: 8080, hostHeader: '127.0.0.1:8080' });
    expect(parseTarget('http://example.test:80/')).toMatchObject({ port: 80, hostHeader: 'example.test' });
    expect(parseTarget('https://example.test:8443')).toMatchObject({ port: 8443, tls: true, hostHeader: 'example.test:8443' });
  });

  test('an IPv6 literal: host without brackets for connecting, with brackets in the Host header', () => {
    expect(parseTarget('http://[::1]:8080/a')).toEqual({
      url: 'http://[::1]:8080/a',
      host: '::1',
      port: 8080,
      tls: false,
      hostHeader: '[::1]:8080',
      path: '/a',
      connectAddress: null,
    });
  });

  test('path and query are sent; the fragment is not', () => {
    expect(parseTarget('http://example.test/a/b?x=1&y=%20#frag').path).toBe('/a/b?x=1&y=%20');
  });

  test('the host name is lower-cased as the URL standard does', () => {
    expect(parseTarget('HTTP://Example.TEST/Path')).toMatchObject({ host: 'example.test', hostHeader: 'example.test', path: '/Path' });
  });

  test.each([
    ['example.test', 'invalid URL "example.test": expected http://host[:port]/path or https://host[:port]/path (did you mean http://example.test ?)'],
    ['127.0.0.1:8080', 'invalid URL "127.0.0.1:8080": expected http://host[:port]/path or https://host[:port]/path (did you mean http://127.0.0.1:8080 ?)'],
    // "localhost:8080" is a valid URL with the scheme "localhost:"; it still gets the hint.
    [
      'localhost:8080/x',
      'unsupported scheme "localhost:" in "localhost:8080/x": keepalive-probe speaks HTTP/1.x over http:// or https:// (did you mean http://localhost:8080/x ?)',
    ],
  ])('a URL without a scheme suggests http:// (%s)', (text, message) => {
    expect(() => parseTarget(text)).toThrow(new TargetError(message));
  });

  test('text that does not look like host[:port] gets no hint', () => {
    expect(() => parseTarget('http://')).toThrow(new TargetError('invalid URL "http://": expected http://host[:port]/path or https://host[:port]/path'));
    expect(() => parseTarget('not a url')).toThrow(new TargetError('invalid URL "not a url": expected http://host[:port]/path or https://host[:port]/path'));
  });

  test('other schemes are rejected', () => {
    expect(() => parseTarget('ftp://example.test/')).toThrow(
      new TargetError('unsupported scheme "ftp:" in "ftp://example.test/": keepalive-probe speaks HTTP/1.x over http:// or https://'),
    );
    expect(() => parseTarget('ws://example.test/')).toThrow(TargetError);
  });

  test('credentials in the URL are rejected with a way to send them', () => {
    const message = 'credentials in the URL are not sent; pass them as a header instead (-H "Authorization: ...")';
    expect(() => parseTarget('http://user:secret@example.test/')).toThrow(new TargetError(message));
    expect(() => parseTarget('http://user@example.test/')).toThrow(new TargetError(message));
  });
});

describe('--resolve', () => {
  test('host:port:address, IPv6 in brackets, the host matched without case', () => {
    expect(parseResolve('API.internal:443:10.0.0.5')).toEqual({ host: 'api.internal', port: 443, address: '10.0.0.5' });
    expect(parseResolve('api.internal:8443:[fd00::5]')).toEqual({ host: 'api.internal', port: 8443, address: 'fd00::5' });
    expect(parseResolve('[::1]:80:127.0.0.1')).toEqual({ host: '::1', port: 80, address: '127.0.0.1' });
  });

  test("the host is normalised as the URL's is, so either spelling matches", () => {
    const targets = [parseTarget('https://bücher.example/'), parseTarget('http://[::1]:8080/'), parseTarget('http://API.Internal/')];
    const resolved = applyResolves(targets, ['BÜCHER.example:443:10.0.0.1', '[0:0::1]:8080:[fd00::5]', 'api.INTERNAL:80:10.0.0.2'].map(parseResolve));
    expect(resolved.map((t) => [t.host, t.connectAddress])).toEqual([
      ['xn--bcher-kva.example', '10.0.0.1'],
      ['::1', 'fd00::5'],
      ['api.internal', '10.0.0.2'],
    ]);
  });

  test.each([
    'api.internal:443',
    'api.internal:443:backend.internal',
    'a b:443:10.0.0.5',
    'x@api.internal:443:10.0.0.5',
    'api.internal/x:443:10.0.0.5',
    'api.internal:0:10.0.0.5',
    'api.internal:70000:10.0.0.5',
    ':443:10.0.0.5',
    'api.internal:https:10.0.0.5',
  ])('%s is rejected with the expected form', (text) => {
    expect(() => parseResolve(text)).toThrow(/^invalid --resolve ".*": expected host:port:address with an IP address/);
  });

  test('applies to the target with that host and port only; the URL keeps naming the server', () => {
    const [a, b] = applyResolves(
      [parseTarget('https://API.internal/x'), parseTarget('http://api.internal:8080/')],
      [parseResolve('api.internal:443:10.0.0.5')],
    );
    expect(a).toMatchObject({ host: 'api.internal', port: 443, hostHeader: 'api.internal', connectAddress: '10.0.0.5' });
    expect(b?.connectAddress).toBeNull();
  });

  test('an entry that matches no target is an error, not ignored', () => {
    expect(() => applyResolves([parseTarget('https://api.internal/')], [parseResolve('api.internal:8443:10.0.0.5')])).toThrow(
      new TargetError('--resolve api.internal:8443:10.0.0.5 matches no target (api.internal:443)'),
    );
    expect(() => applyResolves([parseTarget('http://[::1]/')], [parseResolve('[::2]:80:[fd00::5]')])).toThrow(
      new TargetError('--resolve [::2]:80:[fd00::5] matches no target ([::1]:80)'),
    );
  });
});

describe('isLocalAddress', () => {
  test.each(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])('%s is local', (address) => {
    expect(isLocalAddress(address)).toBe(true);
  });

  test.each(['192.0.2.1', '2001:db8::1', '::ffff:192.0.2.1', '128.0.0.1', 'localhost'])('%s is not local', (address) => {
    expect(isLocalAddress(address)).toBe(false);
  });

  test('an address of one of this host’s interfaces is local', () => {
    const addresses = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(isLocalAddress(address)).toBe(true);
  });
});
