import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError, ResponseParser } from '../src/http/responseParser.js';
import type { BodyFraming, ParseErrorCode, ParseEvent, ParserLimits, ResponseHead } from '../src/http/responseParser.js';

/** Exact bytes: every character is one byte (latin1). */
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Feed {
  readonly method?: string;
  readonly limits?: Partial<ParserLimits>;
  readonly upgradeRequested?: boolean;
}

interface Outcome {
  /** Every event, from all pushes and end(), in order. */
  readonly events: readonly ParseEvent[];
  readonly error: ParseErrorCode | null;
  readonly bodyBytes: number;
  readonly receivedBytes: number;
  readonly excessBytes: number;
}

/** Feeds `input` cut at the sorted offsets `cuts`, then calls end(). Anything but a ParseError propagates. */
function feed(input: Buffer, cuts: readonly number[], options: Feed = {}): Outcome {
  const parser = new ResponseParser({ method: options.method ?? 'GET', limits: options.limits, upgradeRequested: options.upgradeRequested });
  const events: ParseEvent[] = [];
  let error: ParseErrorCode | null = null;
  try {
    let from = 0;
    for (const cut of [...cuts, input.length]) {
      events.push(...parser.push(input.subarray(from, cut)));
      from = cut;
    }
    events.push(...parser.end());
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    error = err.code;
  }
  return { events, error, bodyBytes: parser.bodyBytes, receivedBytes: parser.receivedBytes, excessBytes: parser.excessBytes };
}

const whole = (input: string | Buffer, options?: Feed): Outcome => feed(typeof input === 'string' ? b(input) : input, [], options);
const everyByte = (input: Buffer): number[] => Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1);

/**
 * Splitting never changes the result. On an error only the code is compared: fed whole, the
 * events of the push that threw are lost with the throw, and fewer bytes were received.
 */
function expectSameAsWhole(input: Buffer, cuts: readonly number[], options?: Feed): void {
  const reference = feed(input, [], options);
  const split = feed(input, cuts, options);
  if (reference.error === null) expect(split).toEqual(reference);
  else expect(split.error).toBe(reference.error);
}

function headOf(outcome: Outcome): { head: ResponseHead; framing: BodyFraming } {
  expect(outcome.error).toBeNull();
  const event = outcome.events.find((e) => e.type === 'head');
  if (event?.type !== 'head') throw new Error('no head event');
  return event;
}

/** The ParseError code `fn` throws. */
function codeOf(fn: () => unknown): ParseErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof ParseError) return err.code;
    throw err;
  }
  throw new Error('no ParseError thrown');
}

const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';

/** Named inputs, reused below by the split tests. */
const VALID: Readonly<Record<string, { readonly input: string; readonly method?: string; readonly upgradeRequested?: boolean }>> = {
  http10: { input: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi' },
  http11: { input: 'HTTP/1.1 404 Not Found\r\nServer: x\r\nContent-Length: 0\r\n\r\n' },
  emptyReason: { input: 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n' },
  absentReason: { input: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n' },
  http12: { input: 'HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n' },
  headWithLength: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', method: 'HEAD' },
  interim: {
    input: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc',
  },
  switching: { input: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00', upgradeRequested: true },
  noContent: { input: 'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n' },
  notModified: { input: 'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n' },
  chunked: { input: `${CHUNKED}5;ext=1;q="a b"\r\nhello\r\nA \t;x\r\n0123456789\r\n1f\r\n${'z'.repeat(31)}\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n` },
  gzipThenChunked: { input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n2\r\nab\r\n0\r\n\r\n' },
  gzipOnly: { input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00' },
  lengthList: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nhello' },
  closeDelimited: { input: 'HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end' },
  zeroLength: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' },
  lfOnly: { input: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nhi' },
  mixedEndings: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nhi' },
  obsFold: { input: 'HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\n\tc\r\nContent-Length: 0\r\n\r\n' },
  excess: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200' },
};

const INVALID: Readonly<Record<string, { readonly input: string; readonly code: ParseErrorCode; readonly limits?: Partial<ParserLimits> }>> = {
  http20: { input: 'HTTP/2.0 200 OK\r\n\r\n', code: 'bad-version' },
  http2: { input: 'HTTP/2 200\r\n\r\n', code: 'bad-version' },
  ssh: { input: 'SSH-2.0-OpenSSH_9.6\r\n', code: 'not-http' },
  lowStatus: { input: 'HTTP/1.1 099 Low\r\n\r\n', code: 'bad-status-line' },
  noStatus: { input: 'HTTP/1.1 OK\r\n\r\n', code: 'bad-status-line' },
  unrequestedUpgrade: { input: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', code: 'unrequested-upgrade' },
  chunkedTwice: { input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', code: 'bad-transfer-encoding' },
  teAndCl: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello', code: 'te-cl-conflict' },
  clConflict: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello', code: 'conflicting-content-length' },
  clConflictFields: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', code: 'conflicting-content-length' },
  clAbc: { input: 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', code: 'bad-content-length' },
  clNegative: { input: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', code: 'bad-content-length' },
  clNonOws: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 5\x0b\r\n\r\nhello', code: 'bad-content-length' },
  bareCr: { input: 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n', code: 'bare-cr' },
  spaceBeforeColon: { input: 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', code: 'bad-header' },
  foldFirst: { input: 'HTTP/1.1 200 OK\r\n X-A: a\r\n\r\n', code: 'bad-header' },
  noColon: { input: 'HTTP/1.1 200 OK\r\nX-A\r\n\r\n', code: 'bad-header' },
  nulValue: { input: 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n', code: 'bad-header' },
  badChunkSize: { input: `${CHUNKED}5x\r\nhello\r\n0\r\n\r\n`, code: 'invalid-chunk' },
  chunkNoCrlf: { input: `${CHUNKED}5\r\nhelloX\r\n0\r\n\r\n`, code: 'invalid-chunk' },
  badTrailer: { input: `${CHUNKED}0\r\nnot a field\r\n\r\n`, code: 'invalid-chunk' },
  longChunkLine: { input: `${CHUNKED}5;${'x'.repeat(100)}\r\nhello\r\n0\r\n\r\n`, code: 'invalid-chunk', limits: { maxChunkLine: 64 } },
  headTooLarge: { input: `HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(100)}\r\n\r\n`, code: 'headers-too-large', limits: { maxHeadBytes: 64 } },
  tooManyHeaders: { input: 'HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', code: 'too-many-headers', limits: { maxHeaders: 2 } },
  tooManyInterim: {
    input: `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(3)}HTTP/1.1 200 OK\r\n\r\n`,
    code: 'too-many-informational',
    limits: { maxInformational: 2 },
  },
  truncatedHead: { input: 'HTTP/1.1 200 OK\r\nContent-Le', code: 'truncated-headers' },
  truncatedAfterInterim: { input: 'HTTP/1.1 100 Continue\r\n\r\n', code: 'truncated-headers' },
  truncatedLength: { input: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello', code: 'truncated-body' },
  truncatedChunked: { input: `${CHUNKED}5\r\nhello\r\n0\r\n`, code: 'truncated-body' },
};

const valid = (name: string): Outcome => {
  const c = VALID[name];
  if (c === undefined) throw new Error(`no case ${name}`);
  return whole(c.input, { method: c.method, upgradeRequested: c.upgradeRequested });
};

describe('status line', () => {
  it('reads HTTP/1.0 and HTTP/1.1 with their reason phrase', () => {
    const h10 = headOf(valid('http10'));
    expect([h10.head.versionMinor, h10.head.status, h10.head.reason]).toEqual([0, 200, 'OK']);
    const h11 = headOf(valid('http11'));
    expect([h11.head.versionMinor, h11.head.status, h11.head.reason]).toEqual([1, 404, 'Not Found']);
    expect(h11.head.headers).toEqual([
      ['Server', 'x'],
      ['Content-Length', '0'],
    ]);
  });

  it('accepts an empty or absent reason phrase', () => {
    expect(headOf(valid('emptyReason')).head.reason).toBe('');
    expect(headOf(valid('absentReason')).head).toMatchObject({ status: 200, reason: '' });
  });

  it('treats HTTP/1.2 as the highest 1.x minor version it knows (RFC 9110 §2.5)', () => {
    expect(headOf(valid('http12')).head.versionMinor).toBe(1);
  });

  it('rejects other major versions with bad-version', () => {
    expect(whole(INVALID.http20!.input).error).toBe('bad-version');
    expect(whole(INVALID.http2!.input).error).toBe('bad-version');
  });

  it('rejects a status below 100, or none, with bad-status-line', () => {
    expect(whole(INVALID.lowStatus!.input).error).toBe('bad-status-line');
    expect(whole(INVALID.noStatus!.input).error).toBe('bad-status-line');
    expect(whole('HTTP/1.1 2000 OK\r\n\r\n').error).toBe('bad-status-line');
  });

  it('fails on the first push of a non-HTTP banner, before any line ending', () => {
    for (const banner of ['SSH-2.0-OpenSSH_9.6', '-ERR unknown command', '\x15\x03\x03\x00\x02\x02\x46', 'S']) {
      const parser = new ResponseParser({ method: 'GET' });
      expect(codeOf(() => parser.push(b(banner)))).toBe('not-http');
    }
    expect(codeOf(() => new ResponseParser({ method: 'GET' }).push(b('HTTP/1.1 200 OK\r\n\r\n'.toLowerCase())))).toBe('not-http');
  });
});

describe('message body length (RFC 9112 §6.3)', () => {
  it('1: a response to HEAD has no body, whatever Content-Length says', () => {
    const out = valid('headWithLength');
    expect(out.events.map((e) => e.type)).toEqual(['head', 'complete']);
    expect(headOf(out).framing).toEqual({ kind: 'none' });
    expect(out.bodyBytes).toBe(0);
    expect(whole('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', { method: 'head' }).excessBytes).toBe(5);
  });

  it('1: skips 1xx interim responses and records them', () => {
    const input = VALID.interim!.input;
    const out = valid('interim');
    expect(out.events.map((e) => (e.type === 'informational' ? `${e.type} ${e.status}` : e.type))).toEqual([
      'informational 100',
      'informational 103',
      'head',
      'complete',
    ]);
    const { head, framing } = headOf(out);
    expect(head.status).toBe(200);
    expect(head.informational).toEqual([100, 103]);
    expect(head.headers).toEqual([['Content-Length', '3']]);
    expect(framing).toEqual({ kind: 'length', length: 3 });
    expect(head.headBytes).toBe(input.length - 3);
    expect(out.bodyBytes).toBe(3);
  });

  it('1: a 101 the request did not ask for is a protocol error, not a response', () => {
    expect(whole(INVALID.unrequestedUpgrade!.input).error).toBe('unrequested-upgrade');
  });

  it("1: an asked-for 101 is a final response with no body; what follows is not the parser's", () => {
    const out = valid('switching');
    expect(headOf(out)).toMatchObject({ head: { status: 101, informational: [] }, framing: { kind: 'none' } });
    expect(out.excessBytes).toBe(2);
  });

  it('1: 204 and 304 have no body', () => {
    expect(headOf(valid('noContent')).framing).toEqual({ kind: 'none' });
    expect(headOf(valid('notModified')).framing).toEqual({ kind: 'none' });
    expect(valid('noContent').events.at(-1)).toEqual({ type: 'complete', bodyBytes: 0 });
  });

  it('4: chunked, with extensions, BWS, uppercase hex and trailers; bodyBytes counts payload only', () => {
    const out = valid('chunked');
    expect(headOf(out).framing).toEqual({ kind: 'chunked' });
    expect(out.events.at(-1)).toEqual({ type: 'complete', bodyBytes: 5 + 10 + 31 });
    expect(out.bodyBytes).toBe(46);
    expect(out.receivedBytes).toBe(VALID.chunked!.input.length);
    expect(out.excessBytes).toBe(0);
    expect(valid('gzipThenChunked').bodyBytes).toBe(2);
  });

  it('4: chunked applied twice is an error; chunked before another coding makes the body close-delimited', () => {
    expect(whole(INVALID.chunkedTwice!.input).error).toBe('bad-transfer-encoding');
    const out = whole('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc');
    expect(out.error).toBeNull();
    expect(headOf(out).framing).toEqual({ kind: 'close' });
  });

  it('4: a final coding other than chunked is read until close', () => {
    const out = valid('gzipOnly');
    expect(headOf(out).framing).toEqual({ kind: 'close' });
    expect(out.events.at(-1)).toEqual({ type: 'complete', bodyBytes: 4 });
  });

  it('4: an empty Transfer-Encoding names no chunked coding: read until close', () => {
    const out = whole('HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\nabc');
    expect(headOf(out).framing).toEqual({ kind: 'close' });
    expect(out.bodyBytes).toBe(3);
  });

  it('3: Transfer-Encoding with Content-Length is refused', () => {
    expect(whole(INVALID.teAndCl!.input).error).toBe('te-cl-conflict');
  });

  it('5: a list of identical Content-Length values is one length; differing or invalid ones are refused', () => {
    const out = valid('lengthList');
    expect(headOf(out).framing).toEqual({ kind: 'length', length: 5 });
    expect(out.bodyBytes).toBe(5);
    expect(whole(INVALID.clConflict!.input).error).toBe('conflicting-content-length');
    expect(whole(INVALID.clConflictFields!.input).error).toBe('conflicting-content-length');
    for (const value of ['abc', '-1', '+5', '0x5', '1e3', '', '5,', '5 5']) {
      expect(whole(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`).error, value).toBe('bad-content-length');
    }
  });

  it('5: only SP and HTAB are whitespace around a Content-Length value', () => {
    expect(whole('HTTP/1.1 200 OK\r\nContent-Length: \t5 \r\n\r\nhello').bodyBytes).toBe(5);
    expect(whole(INVALID.clNonOws!.input).error).toBe('bad-content-length');
    expect(whole('HTTP/1.1 200 OK\r\nContent-Length: \xa05\r\n\r\nhello').error).toBe('bad-content-length');
    expect(headOf(whole('HTTP/1.1 200 OK\r\nX-A: \t a\xa0 \r\nContent-Length: 0\r\n\r\n')).head.headers[0]).toEqual(['X-A', 'a\xa0']);
  });

  it('8: without a length the body runs until the server closes; end() completes it', () => {
    const parser = new ResponseParser({ method: 'GET' });
    const input = VALID.closeDelimited!.input;
    const events = parser.push(b(input));
    expect(events.map((e) => e.type)).toEqual(['head']);
    expect(events[0]).toMatchObject({ framing: { kind: 'close' } });
    expect(parser.phase).toBe('body');
    expect(parser.end()).toEqual([{ type: 'complete', bodyBytes: 'until the end'.length }]);
    expect(parser.phase).toBe('complete');
  });

  it('Content-Length: 0 completes with the head', () => {
    const parser = new ResponseParser({ method: 'GET' });
    expect(parser.push(b(VALID.zeroLength!.input)).map((e) => e.type)).toEqual(['head', 'complete']);
    expect(parser.phase).toBe('complete');
    expect(parser.end()).toEqual([]);
  });
});

describe('limits', () => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';

  it('maxHeadBytes counts the whole head, terminator included', () => {
    expect(whole(head, { limits: { maxHeadBytes: head.length } }).error).toBeNull();
    expect(whole(head, { limits: { maxHeadBytes: head.length - 1 } }).error).toBe('headers-too-large');
    expect(whole(INVALID.headTooLarge!.input, { limits: INVALID.headTooLarge!.limits }).error).toBe('headers-too-large');
  });

  it('refuses an unterminated head as soon as it exceeds the limit, without waiting for more', () => {
    const parser = new ResponseParser({ method: 'GET', limits: { maxHeadBytes: 1024 } });
    expect(codeOf(() => parser.push(b(`HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(2000)}`)))).toBe('headers-too-large');
  });

  it('maxHeaders counts fields', () => {
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: ${i}\r\n`).join('');
    expect(whole(`HTTP/1.1 200 OK\r\n${fields(199)}Content-Length: 0\r\n\r\n`).error).toBeNull();
    expect(whole(`HTTP/1.1 200 OK\r\n${fields(200)}Content-Length: 0\r\n\r\n`).error).toBe('too-many-headers');
    expect(whole(INVALID.tooManyHeaders!.input, { limits: INVALID.tooManyHeaders!.limits }).error).toBe('too-many-headers');
  });

  it('maxInformational bounds the interim responses before the final one', () => {
    const interim = (n: number): string => `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(n)}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`;
    expect(headOf(whole(interim(16))).head.informational).toHaveLength(16);
    expect(whole(interim(17)).error).toBe('too-many-informational');
  });

  it('a chunk-size line longer than maxChunkLine is refused before its line end arrives', () => {
    const parser = new ResponseParser({ method: 'GET' });
    parser.push(b(CHUNKED));
    expect(codeOf(() => parser.push(b(`5;${'x'.repeat(5000)}`)))).toBe('invalid-chunk');
    expect(whole(INVALID.longChunkLine!.input, { limits: INVALID.longChunkLine!.limits }).error).toBe('invalid-chunk');
    expect(whole(`${CHUNKED}5;${'x'.repeat(50)}\r\nhello\r\n0\r\n\r\n`, { limits: { maxChunkLine: 64 } }).bodyBytes).toBe(5);
  });
});

describe('line endings and field syntax', () => {
  it('rejects a bare CR in the head', () => {
    expect(whole(INVALID.bareCr!.input).error).toBe('bare-cr');
    expect(whole('HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n').error).toBe('bare-cr');
  });

  it('accepts bare LF line endings, flagged', () => {
    const lf = valid('lfOnly');
    expect(headOf(lf).head.flags).toEqual(['lf-line-endings']);
    expect(lf.bodyBytes).toBe(2);
    expect(headOf(valid('mixedEndings')).head.flags).toEqual(['lf-line-endings']);
    expect(headOf(valid('http11')).head.flags).toEqual([]);
  });

  it('joins obs-fold continuation lines with a space, flagged once', () => {
    const { head } = headOf(valid('obsFold'));
    expect(head.headers[0]).toEqual(['X-Long', 'a b c']);
    expect(head.flags).toEqual(['obs-fold']);
  });

  it('rejects whitespace before the colon, a missing colon, a fold before any field, and NUL', () => {
    for (const name of ['spaceBeforeColon', 'noColon', 'foldFirst', 'nulValue']) {
      expect(whole(INVALID[name]!.input).error, name).toBe('bad-header');
    }
  });
});

describe('end()', () => {
  it('says what was cut short', () => {
    expect(whole(INVALID.truncatedHead!.input).error).toBe('truncated-headers');
    expect(whole(INVALID.truncatedLength!.input).error).toBe('truncated-body');
    expect(whole(INVALID.truncatedChunked!.input).error).toBe('truncated-body');
    expect(whole(`${CHUNKED}5\r\nhel`).error).toBe('truncated-body');
  });

  it('a close after interim responses only cuts the final response short', () => {
    const parser = new ResponseParser({ method: 'GET' });
    expect(parser.push(b(INVALID.truncatedAfterInterim!.input))).toEqual([{ type: 'informational', status: 100 }]);
    expect(codeOf(() => parser.end())).toBe('truncated-headers');
  });

  it('returns nothing when no response has started', () => {
    const parser = new ResponseParser({ method: 'GET' });
    expect(parser.phase).toBe('idle');
    expect(parser.end()).toEqual([]);
    parser.push(Buffer.alloc(0));
    expect(parser.end()).toEqual([]);
  });
});

describe('byte accounting', () => {
  it('counts received bytes, and excess bytes after the response completed', () => {
    const parser = new ResponseParser({ method: 'GET' });
    const input = VALID.excess!.input;
    expect(parser.push(b(input)).at(-1)).toEqual({ type: 'complete', bodyBytes: 3 });
    expect([parser.receivedBytes, parser.excessBytes, parser.bodyBytes]).toEqual([input.length, 'HTTP/1.1 200'.length, 3]);
    expect(parser.push(b('more'))).toEqual([]);
    expect([parser.receivedBytes, parser.excessBytes]).toEqual([input.length + 4, 'HTTP/1.1 200'.length + 4]);
  });

  it('moves through the phases idle, head, body, complete', () => {
    const parser = new ResponseParser({ method: 'GET' });
    const phases = [parser.phase];
    for (const part of ['HTTP/1.1 200 OK\r\n', 'Content-Length: 2\r\n\r\n', 'h', 'i']) {
      parser.push(b(part));
      phases.push(parser.phase);
    }
    expect(phases).toEqual(['idle', 'head', 'body', 'body', 'complete']);
  });

  it('counts a 10 MB body fed in 64 KiB chunks without keeping it', () => {
    const size = 10 * 1024 * 1024;
    const parser = new ResponseParser({ method: 'GET' });
    expect(parser.push(b(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`)).map((e) => e.type)).toEqual(['head']);
    const block = Buffer.alloc(64 * 1024, 0x61);
    const retainedBefore = process.memoryUsage().arrayBuffers;
    const completions: ParseEvent[] = [];
    for (let sent = 0; sent < size; sent += block.length) completions.push(...parser.push(block));
    // A parser that buffered the body would now hold 10 MB of ArrayBuffers.
    expect(process.memoryUsage().arrayBuffers - retainedBefore).toBeLessThan(4 * 1024 * 1024);
    expect(completions).toEqual([{ type: 'complete', bodyBytes: 10485760 }]);
    expect(parser.bodyBytes).toBe(10485760);
    expect(parser.excessBytes).toBe(0);
  });
});

describe('split anywhere, same result', () => {
  it.each(Object.entries(VALID))('valid %s: one byte at a time gives the same events as whole', (_, c) => {
    const input = b(c.input);
    const options = { method: c.method, upgradeRequested: c.upgradeRequested };
    const reference = whole(input, options);
    expect(reference.error).toBeNull();
    expect(reference.events.at(-1)?.type).toBe('complete');
    expectSameAsWhole(input, everyByte(input), options);
  });

  it.each(Object.entries(INVALID))('invalid %s: one byte at a time gives the same error as whole', (_, c) => {
    const input = b(c.input);
    expect(whole(input, { limits: c.limits }).error).toBe(c.code);
    expect(feed(input, everyByte(input), { limits: c.limits }).error).toBe(c.code);
  });
});

// Properties in the manner of undici's test/fuzzing: arbitrary bytes, and generated valid responses.

const ERROR_CODES: readonly ParseErrorCode[] = [
  'not-http',
  'bad-status-line',
  'bad-version',
  'bad-header',
  'bare-cr',
  'headers-too-large',
  'too-many-headers',
  'too-many-informational',
  'bad-content-length',
  'conflicting-content-length',
  'te-cl-conflict',
  'bad-transfer-encoding',
  'unrequested-upgrade',
  'invalid-chunk',
  'truncated-headers',
  'truncated-body',
];

/** Pieces of HTTP, so random input gets past the status line often. */
const FRAGMENTS = [
  'HTTP/1.1 ',
  'HTTP/1.0 ',
  '200 OK',
  '100 Continue',
  '204',
  '304',
  '101',
  '\r\n',
  '\n',
  '\r',
  ' ',
  '\t',
  ':',
  ',',
  'Content-Length: ',
  'Transfer-Encoding: ',
  'chunked',
  'gzip',
  'X-A',
  '0',
  '5',
  'A',
  'ffffffffffffff',
  ';e=1',
  'hello',
  '\0',
];

const cutsOf = (length: number, raw: readonly number[]): number[] => [...new Set(raw.map((n) => n % (length + 1)))].sort((x, y) => x - y);

const soup = fc
  .tuple(fc.constantFrom('', 'HTTP/1.1 ', 'HTTP/1.1 200 OK\r\n'), fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }))
  .map(([prefix, parts]) => b(prefix + parts.join('')));

const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
  fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.concat([b('HTTP/1.1 200 OK\r\n'), Buffer.from(u)])),
  soup,
);

interface Generated {
  readonly bytes: Buffer;
  readonly method: string;
  readonly status: number;
  readonly reason: string;
  readonly versionMinor: 0 | 1;
  readonly interim: readonly number[];
  readonly headers: readonly (readonly [string, string])[];
  readonly framing: BodyFraming['kind'];
  readonly flags: readonly string[];
  readonly headBytes: number;
  readonly payload: number;
  readonly excess: number;
}

const fieldName = fc
  .stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}$/)
  .filter((n) => !['content-length', 'transfer-encoding'].includes(n.toLowerCase()));
const fieldValue = fc.stringMatching(/^([!-~\x80-\xff]([ -~\x80-\xff]{0,20}[!-~\x80-\xff])?)?$/);
const field = fc.tuple(fieldName, fieldValue);

const responseArb = fc
  .record({
    method: fc.constantFrom('GET', 'HEAD', 'POST'),
    versionMinor: fc.constantFrom<0 | 1>(0, 1),
    interim: fc.array(fc.constantFrom(100, 102, 103), { maxLength: 3 }),
    status: fc.oneof(fc.integer({ min: 200, max: 599 }), fc.constantFrom(204, 304)),
    reason: fc.stringMatching(/^[A-Za-z ]{0,12}$/),
    headers: fc.array(field, { maxLength: 6 }),
    trailers: fc.array(field, { maxLength: 2 }),
    framing: fc.constantFrom('length', 'chunked', 'close', 'gzip-close'),
    payload: fc.uint8Array({ maxLength: 600 }),
    chunkCuts: fc.array(fc.nat(), { maxLength: 8 }),
    upperHex: fc.boolean(),
    extension: fc.constantFrom('', ';a=1', ' ;q="x y"'),
    lf: fc.boolean(),
    excess: fc.uint8Array({ maxLength: 20 }),
  })
  .map((r): Generated => {
    const eol = r.lf ? '\n' : '\r\n';
    const version = `HTTP/1.${r.versionMinor}`;
    const interimHeads = r.interim.map((s) => `${version} ${s} Interim${eol}Link: </a.css>${eol}${eol}`).join('');
    const noBody = r.method === 'HEAD' || r.status === 204 || r.status === 304;
    const framingHeaders: [string, string][] =
      r.framing === 'length'
        ? [['Content-Length', String(r.payload.length)]]
        : r.framing === 'chunked'
          ? [['Transfer-Encoding', 'chunked']]
          : r.framing === 'gzip-close'
            ? [['transfer-encoding', 'gzip']]
            : [];
    const headers = [...r.headers, ...framingHeaders];
    const finalHead = `${version} ${r.status} ${r.reason}${eol}${headers.map(([n, v]) => `${n}: ${v}${eol}`).join('')}${eol}`;
    const payload = Buffer.from(r.payload);
    let body: Buffer = Buffer.alloc(0);
    if (!noBody && r.framing === 'chunked') {
      const parts: Buffer[] = [];
      let from = 0;
      for (const cut of [...cutsOf(payload.length, r.chunkCuts), payload.length]) {
        if (cut === from) continue;
        const size = (cut - from).toString(16);
        parts.push(b(`${r.upperHex ? size.toUpperCase() : size}${r.extension}${eol}`), payload.subarray(from, cut), b(eol));
        from = cut;
      }
      parts.push(b(`0${eol}${r.trailers.map(([n, v]) => `${n}: ${v}${eol}`).join('')}${eol}`));
      body = Buffer.concat(parts);
    } else if (!noBody) {
      body = payload;
    }
    const closeDelimited = !noBody && (r.framing === 'close' || r.framing === 'gzip-close');
    const excess = closeDelimited ? Buffer.alloc(0) : Buffer.from(r.excess);
    const flags: string[] = [];
    if (r.lf) flags.push('lf-line-endings');
    if (!noBody && r.versionMinor === 0 && (r.framing === 'chunked' || r.framing === 'gzip-close')) flags.push('transfer-encoding-in-http10');
    return {
      bytes: Buffer.concat([b(interimHeads + finalHead), body, excess]),
      method: r.method,
      status: r.status,
      reason: r.reason,
      versionMinor: r.versionMinor,
      interim: r.interim,
      headers,
      framing: noBody ? 'none' : r.framing === 'gzip-close' ? 'close' : r.framing,
      flags,
      headBytes: interimHeads.length + finalHead.length,
      payload: noBody ? 0 : payload.length,
      excess: excess.length,
    };
  });

describe('properties', () => {
  it('(a) any bytes give events or a ParseError with a known code, never another exception', () => {
    fc.assert(
      fc.property(anyBytes, fc.constantFrom('GET', 'HEAD'), (bytes, method) => {
        const out = whole(bytes, { method }); // feed() rethrows anything but a ParseError
        if (out.error !== null) expect(ERROR_CODES).toContain(out.error);
        else expect(out.receivedBytes).toBe(bytes.length);
      }),
      { numRuns: 500 },
    );
  });

  it('(a) any bytes, split anywhere, give the same result as whole', () => {
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 12 }), (bytes, raw) => {
        expectSameAsWhole(bytes, cutsOf(bytes.length, raw));
      }),
      { numRuns: 400 },
    );
  });

  it('(b) a valid response split at arbitrary points gives the same events as whole', () => {
    fc.assert(
      fc.property(responseArb, fc.array(fc.nat(), { maxLength: 16 }), (r, raw) => {
        const reference = whole(r.bytes, { method: r.method });
        expect(reference.error).toBeNull();
        expect(feed(r.bytes, cutsOf(r.bytes.length, raw), { method: r.method })).toEqual(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('(b) a valid response one byte at a time gives the same events as whole', () => {
    fc.assert(
      fc.property(responseArb, (r) => {
        expectSameAsWhole(r.bytes, everyByte(r.bytes), { method: r.method });
      }),
      { numRuns: 200 },
    );
  });

  it('(c) the parsed response is the generated one, and bodyBytes is its payload length', () => {
    fc.assert(
      fc.property(responseArb, (r) => {
        const out = whole(r.bytes, { method: r.method });
        expect(out.events).toEqual([
          ...r.interim.map((status) => ({ type: 'informational', status })),
          {
            type: 'head',
            head: {
              versionMinor: r.versionMinor,
              status: r.status,
              reason: r.reason,
              headers: r.headers,
              informational: r.interim,
              headBytes: r.headBytes,
              flags: r.flags,
            },
            framing: r.framing === 'length' ? { kind: 'length', length: r.payload } : { kind: r.framing },
          },
          { type: 'complete', bodyBytes: r.payload },
        ]);
        expect(out.bodyBytes).toBe(r.payload);
        expect(out.excessBytes).toBe(r.excess);
        expect(out.receivedBytes).toBe(r.bytes.length);
      }),
      { numRuns: 300 },
    );
  });
});
