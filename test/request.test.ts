import { describe, expect, test } from 'vitest';
import { sentConnectionHeader, serializeRequest } from '../src/http/request.js';
import type { RequestSpec } from '../src/http/request.js';

const spec = (over: Partial<RequestSpec>): RequestSpec => ({
  method: 'GET',
  path: '/',
  version: '1.1',
  host: 'example.test:8080',
  connection: null,
  headers: [],
  userAgent: 'keepalive-probe/0.1.0',
  ...over,
});

const wire = (s: RequestSpec): string => serializeRequest(s).toString('latin1');

describe('serializeRequest', () => {
  test('HTTP/1.1 without a Connection header', () => {
    expect(wire(spec({}))).toBe('GET / HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\n\r\n');
  });

  test('HTTP/1.1 with Connection: close', () => {
    expect(wire(spec({ connection: 'close' }))).toBe(
      'GET / HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n',
    );
  });

  test('HTTP/1.0 with Connection: keep-alive, another method and a path with a query', () => {
    expect(wire(spec({ version: '1.0', connection: 'keep-alive', method: 'HEAD', path: '/a/b?c=1&d' }))).toBe(
      'HEAD /a/b?c=1&d HTTP/1.0\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  test('HTTP/1.0 without a Connection header', () => {
    expect(wire(spec({ version: '1.0' }))).toBe('GET / HTTP/1.0\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\n\r\n');
  });

  test('extra headers follow the defaults, in order, names as written', () => {
    expect(
      wire(
        spec({
          connection: 'keep-alive',
          headers: [
            ['X-B', '2'],
            ['x-a', '1'],
            ['X-B', '3'],
          ],
        }),
      ),
    ).toBe(
      'GET / HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\nConnection: keep-alive\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n\r\n',
    );
  });

  test('a Host, User-Agent or Accept header replaces the default in its place; Host stays first (RFC 9112 §3.2)', () => {
    const headers = [
      ['X-Trace', 't'],
      ['user-agent', 'curl/8.5.0'],
      ['host', 'virtual.example'],
      ['ACCEPT', 'text/html'],
    ] as const;
    expect(wire(spec({ connection: 'close', headers }))).toBe(
      'GET / HTTP/1.1\r\nhost: virtual.example\r\nuser-agent: curl/8.5.0\r\nACCEPT: text/html\r\nConnection: close\r\nX-Trace: t\r\n\r\n',
    );
  });

  test('only the first of repeated Host headers takes the default place; the others are sent too', () => {
    expect(
      wire(
        spec({
          headers: [
            ['Host', 'a'],
            ['Host', 'b'],
          ],
        }),
      ),
    ).toBe('GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\nHost: b\r\n\r\n');
  });

  test('an explicit Connection header wins over the spec and is sent once, in the user order', () => {
    expect(
      wire(
        spec({
          connection: 'keep-alive',
          headers: [
            ['X-A', '1'],
            ['Connection', 'close'],
          ],
        }),
      ),
    ).toBe('GET / HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\nX-A: 1\r\nConnection: close\r\n\r\n');
  });

  test('writes latin1 bytes, one byte per character', () => {
    const bytes = serializeRequest(spec({ headers: [['X-Name', 'caf\u00e9']] }));
    expect([...bytes.subarray(bytes.length - 8)]).toEqual([0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a, 0x0d, 0x0a]);
  });
});

describe('sentConnectionHeader', () => {
  test('the spec value when no header names Connection', () => {
    expect(sentConnectionHeader(spec({ connection: 'keep-alive', headers: [['X-A', '1']] }))).toBe('keep-alive');
    expect(sentConnectionHeader(spec({ connection: null }))).toBeNull();
  });

  test('an explicit header wins, matched case-insensitively', () => {
    expect(sentConnectionHeader(spec({ connection: 'keep-alive', headers: [['connection', 'Close']] }))).toBe('Close');
  });

  test('repeated Connection headers are all sent, so all are reported, joined as one list (RFC 9110 §5.3)', () => {
    const s = spec({
      connection: 'keep-alive',
      headers: [
        ['CONNECTION', 'upgrade'],
        ['X-A', '1'],
        ['Connection', 'close'],
      ],
    });
    expect(sentConnectionHeader(s)).toBe('upgrade, close');
    expect(wire(s)).toBe(
      'GET / HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: keepalive-probe/0.1.0\r\nAccept: */*\r\nCONNECTION: upgrade\r\nX-A: 1\r\nConnection: close\r\n\r\n',
    );
  });
});
