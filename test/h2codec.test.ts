import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_PREFACE,
  encodeData,
  encodeFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  errorCodeName,
  FrameReader,
  H2ProtocolError,
  settingName,
} from '../src/http/h2/frames.js';
import type { H2ErrorCode, H2Frame } from '../src/http/h2/frames.js';

/** Every frame of `bytes`, pushed in pieces cut at `cuts` (sorted offsets). Anything but an H2ProtocolError propagates. */
function read(bytes: Buffer, cuts: readonly number[] = [], maxFrameSize?: number): H2Frame[] {
  const reader = new FrameReader(maxFrameSize === undefined ? {} : { maxFrameSize });
  const frames: H2Frame[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    frames.push(...reader.push(bytes.subarray(from, cut)));
    from = cut;
  }
  expect(reader.buffered).toBe(0);
  return frames;
}

/** The code of the H2ProtocolError reading `bytes` throws (the test fails if it throws none, or another error). */
function errorOf(bytes: Buffer): H2ErrorCode {
  try {
    read(bytes);
  } catch (err) {
    if (err instanceof H2ProtocolError) return err.code;
    throw err;
  }
  throw new Error('no H2ProtocolError');
}

function cutsOf(length: number, raw: readonly number[]): number[] {
  return [...new Set(raw.map((n) => n % (length + 1)))].sort((a, b) => a - b);
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('frame names', () => {
  it('names error codes and settings, and unknown ones in hex', () => {
    expect([0, 1, 7, 0xb, 0xd].map(errorCodeName)).toEqual(['NO_ERROR', 'PROTOCOL_ERROR', 'REFUSED_STREAM', 'ENHANCE_YOUR_CALM', 'HTTP_1_1_REQUIRED']);
    expect(errorCodeName(0x1f)).toBe('UNKNOWN_0x1f');
    expect([1, 3, 4, 5, 6, 8].map(settingName)).toEqual([
      'HEADER_TABLE_SIZE',
      'MAX_CONCURRENT_STREAMS',
      'INITIAL_WINDOW_SIZE',
      'MAX_FRAME_SIZE',
      'MAX_HEADER_LIST_SIZE',
      'ENABLE_CONNECT_PROTOCOL',
    ]);
    expect(settingName(0xfe)).toBe('UNKNOWN_0xfe');
    expect(CLIENT_PREFACE.toString('latin1')).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  });
});

describe('encoders through FrameReader', () => {
  it('round-trips every encoder', () => {
    const bytes = Buffer.concat([
      encodeSettings([
        [3, 100],
        [4, 65_535],
      ]),
      encodeSettings([], true),
      encodePing(Buffer.from('01234567'), true),
      encodeHeaders(1, Buffer.from('block'), { endStream: true }),
      encodeData(3, Buffer.from('body'), false),
      encodeData(3, Buffer.alloc(0), true),
      encodeGoaway(5, 0xb, Buffer.from('too_many_pings')),
      encodeRstStream(7, 8),
      encodeWindowUpdate(0, 2 ** 31 - 1),
      encodeWindowUpdate(9, 0),
      encodeFrame(0xfa, 0x3, 11, Buffer.from('?')),
    ]);
    // The wire bytes of the first frame, by hand (RFC 9113 §4.1, §6.5.1).
    expect(bytes.subarray(0, 21)).toEqual(hex('00000c 04 00 00000000  0003 00000064  0004 0000ffff'));
    expect(read(bytes)).toEqual([
      {
        type: 'SETTINGS',
        length: 12,
        flags: 0,
        streamId: 0,
        ack: false,
        settings: [
          [3, 100],
          [4, 65_535],
        ],
      },
      { type: 'SETTINGS', length: 0, flags: 1, streamId: 0, ack: true, settings: [] },
      { type: 'PING', length: 8, flags: 1, streamId: 0, ack: true, payload: Buffer.from('01234567') },
      { type: 'HEADERS', length: 5, flags: 5, streamId: 1, block: Buffer.from('block'), endStream: true, endHeaders: true, priority: null },
      { type: 'DATA', length: 4, flags: 0, streamId: 3, data: Buffer.from('body'), endStream: false },
      { type: 'DATA', length: 0, flags: 1, streamId: 3, data: Buffer.alloc(0), endStream: true },
      { type: 'GOAWAY', length: 22, flags: 0, streamId: 0, lastStreamId: 5, errorCode: 0xb, debug: Buffer.from('too_many_pings') },
      { type: 'RST_STREAM', length: 4, flags: 0, streamId: 7, errorCode: 8 },
      { type: 'WINDOW_UPDATE', length: 4, flags: 0, streamId: 0, increment: 2 ** 31 - 1 },
      { type: 'WINDOW_UPDATE', length: 4, flags: 0, streamId: 9, increment: 0 },
      { type: 'UNKNOWN', length: 1, flags: 3, streamId: 11, typeCode: 0xfa, payload: Buffer.from('?') },
    ]);
  });

  it('splits a large header block into HEADERS and CONTINUATION frames, END_STREAM first, END_HEADERS last', () => {
    const block = Buffer.from('a'.repeat(40_000));
    const frames = read(encodeHeaders(5, block, { endStream: true }));
    expect(frames.map((f) => [f.type, f.length, f.flags])).toEqual([
      ['HEADERS', 16_384, 0x1],
      ['CONTINUATION', 16_384, 0],
      ['CONTINUATION', 40_000 - 2 * 16_384, 0x4],
    ]);
    expect(Buffer.concat(frames.map((f) => ('block' in f ? f.block : Buffer.alloc(0))))).toEqual(block);
    expect(read(encodeHeaders(5, Buffer.alloc(0), { endStream: false })).map((f) => f.type)).toEqual(['HEADERS']);
  });

  it('reads padding and priority fields, and PUSH_PROMISE and PRIORITY', () => {
    const paddedData = encodeFrame(0x0, 0x8 | 0x1, 1, Buffer.concat([Buffer.from([3]), Buffer.from('hi'), Buffer.alloc(3)]));
    const headers = encodeFrame(0x1, 0x8 | 0x20 | 0x4, 3, Buffer.concat([Buffer.from([2]), hex('80000001 0f'), Buffer.from('hb'), Buffer.alloc(2)]));
    const push = encodeFrame(0x5, 0x4, 3, Buffer.concat([hex('80000002'), Buffer.from('pp')]));
    const priority = encodeFrame(0x2, 0, 5, hex('00000003 ff'));
    const [data, h, p, pr] = read(Buffer.concat([paddedData, headers, push, priority]));
    expect(data).toMatchObject({ type: 'DATA', length: 6, data: Buffer.from('hi'), endStream: true });
    expect(h).toMatchObject({ type: 'HEADERS', block: Buffer.from('hb'), endHeaders: true, priority: { exclusive: true, streamDependency: 1, weight: 16 } });
    expect(p).toMatchObject({ type: 'PUSH_PROMISE', promisedStreamId: 2, block: Buffer.from('pp'), endHeaders: true });
    expect(pr).toMatchObject({ type: 'PRIORITY', priority: { exclusive: false, streamDependency: 3, weight: 256 } });
  });

  it('refuses out-of-range fields with a RangeError (a caller mistake, not a peer one)', () => {
    expect(() => encodePing(Buffer.alloc(7))).toThrow(RangeError);
    expect(() => encodeSettings([[1, 1]], true)).toThrow(RangeError);
    expect(() => encodeFrame(0, 0, 2 ** 31, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeData(0, Buffer.alloc(1), true)).toThrow(RangeError);
    expect(() => new FrameReader({ maxFrameSize: 100 })).toThrow(RangeError);
  });
});

describe('malformed frames', () => {
  const frame = (type: number, flags: number, stream: number, payload: string): Buffer => encodeFrame(type, flags, stream, hex(payload));
  const cases: readonly (readonly [string, H2ErrorCode, Buffer])[] = [
    ['PING of 7 bytes', 'FRAME_SIZE_ERROR', frame(0x6, 0, 0, '00000000000000')],
    ['PING on a stream', 'PROTOCOL_ERROR', frame(0x6, 0, 1, '0000000000000000')],
    ['SETTINGS of 7 bytes', 'FRAME_SIZE_ERROR', frame(0x4, 0, 0, '00030000006400')],
    ['SETTINGS ACK with a payload', 'FRAME_SIZE_ERROR', frame(0x4, 1, 0, '000300000064')],
    ['SETTINGS on a stream', 'PROTOCOL_ERROR', frame(0x4, 0, 1, '')],
    ['ENABLE_PUSH of 2', 'PROTOCOL_ERROR', frame(0x4, 0, 0, '000200000002')],
    ['INITIAL_WINDOW_SIZE of 2^31', 'FLOW_CONTROL_ERROR', frame(0x4, 0, 0, '000480000000')],
    ['MAX_FRAME_SIZE of 16383', 'PROTOCOL_ERROR', frame(0x4, 0, 0, '000500003fff')],
    ['GOAWAY of 7 bytes', 'FRAME_SIZE_ERROR', frame(0x7, 0, 0, '00000001000000')],
    ['GOAWAY on a stream', 'PROTOCOL_ERROR', frame(0x7, 0, 3, '0000000100000000')],
    ['WINDOW_UPDATE of 3 bytes', 'FRAME_SIZE_ERROR', frame(0x8, 0, 0, '000001')],
    ['RST_STREAM of 5 bytes', 'FRAME_SIZE_ERROR', frame(0x3, 0, 1, '0000000800')],
    ['RST_STREAM on stream 0', 'PROTOCOL_ERROR', frame(0x3, 0, 0, '00000008')],
    ['PRIORITY of 4 bytes', 'FRAME_SIZE_ERROR', frame(0x2, 0, 1, '00000000')],
    ['DATA on stream 0', 'PROTOCOL_ERROR', frame(0x0, 0, 0, '00')],
    ['DATA padded with its whole payload', 'PROTOCOL_ERROR', frame(0x0, 0x8, 1, '04616161')],
    ['DATA padded with no Pad Length byte', 'FRAME_SIZE_ERROR', frame(0x0, 0x8, 1, '')],
    ['HEADERS with padding over the priority fields', 'PROTOCOL_ERROR', frame(0x1, 0x8 | 0x20 | 0x4, 1, '01 00000000 0f')],
    ['HEADERS on stream 0', 'PROTOCOL_ERROR', frame(0x1, 0x4, 0, '82')],
    ['PUSH_PROMISE of 3 bytes', 'FRAME_SIZE_ERROR', frame(0x5, 0x4, 1, '000002')],
    ['a frame over maxFrameSize', 'FRAME_SIZE_ERROR', encodeFrame(0x0, 0, 1, Buffer.alloc(16_385))],
    ['CONTINUATION with no HEADERS', 'PROTOCOL_ERROR', frame(0x9, 0x4, 1, '82')],
    ['DATA between HEADERS and its CONTINUATION', 'PROTOCOL_ERROR', Buffer.concat([frame(0x1, 0, 1, '82'), frame(0x0, 0, 1, '00')])],
    ['CONTINUATION of another stream', 'PROTOCOL_ERROR', Buffer.concat([frame(0x1, 0, 1, '82'), frame(0x9, 0x4, 3, '84')])],
    ['an unknown frame inside a header block', 'PROTOCOL_ERROR', Buffer.concat([frame(0x5, 0, 1, '00000002'), frame(0xfa, 0, 0, '')])],
  ];
  it.each(cases)('%s → %s', (_, code, bytes) => {
    expect(errorOf(bytes)).toBe(code);
  });

  it('refuses an oversized frame from its header alone, and keeps the frames read before a violation', () => {
    const reader = new FrameReader();
    const goaway = encodeGoaway(1, 0, Buffer.from('bye'));
    const header = encodeFrame(0x0, 0, 1, Buffer.alloc(0));
    header.writeUIntBE(1 << 20, 0, 3);
    let caught: unknown;
    try {
      reader.push(Buffer.concat([goaway, header]));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(H2ProtocolError);
    expect((caught as H2ProtocolError).frames).toMatchObject([{ type: 'GOAWAY', lastStreamId: 1, debug: Buffer.from('bye') }]);
    expect(() => reader.push(encodePing(Buffer.alloc(8)))).toThrow(caught as Error);
  });

  it('accepts the frames they were made from once fixed, and honours a larger maxFrameSize', () => {
    expect(read(encodeFrame(0x0, 0, 1, Buffer.alloc(16_385)), [], 16_385)).toHaveLength(1);
    expect(read(Buffer.concat([encodeFrame(0x1, 0, 1, hex('82')), encodeFrame(0x9, 0, 1, hex('84')), encodeFrame(0x9, 0x4, 1, hex('86'))]))).toHaveLength(3);
  });
});

/** A value the setting allows (RFC 9113 §6.5.2): 0 or 1 for ENABLE_PUSH, a frame size for MAX_FRAME_SIZE. */
function validSetting(id: number, value: number): number {
  if (id === 2) return value & 1;
  return id === 5 ? 16_384 + (value % (2 ** 24 - 16_384)) : value;
}

/** Valid frames, as the bytes of one or more whole frames (a header block may span several). */
const validFrame = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.uint8Array({ maxLength: 60 }), fc.boolean()).map(([s, d, e]) => encodeData(s, Buffer.from(d), e)),
  fc
    .tuple(fc.integer({ min: 1, max: 99 }), fc.uint8Array({ maxLength: 60 }), fc.boolean(), fc.integer({ min: 1, max: 70 }))
    .map(([s, b, e, max]) => encodeHeaders(s, Buffer.from(b), { endStream: e, maxFrameSize: max })),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 1, 16_384, 65_535, 2 ** 31 - 1)), { maxLength: 6 })
    .map((s) => encodeSettings(s.map(([id, v]) => [id, validSetting(id, v)]))),
  fc.constant(encodeSettings([], true)),
  fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.boolean()).map(([p, a]) => encodePing(Buffer.from(p), a)),
  fc.tuple(fc.nat(2 ** 31 - 1), fc.nat(0xffff_ffff), fc.uint8Array({ maxLength: 30 })).map(([l, c, d]) => encodeGoaway(l, c, Buffer.from(d))),
  fc.tuple(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.nat(0xffff_ffff)).map(([s, c]) => encodeRstStream(s, c)),
  fc.tuple(fc.nat(99), fc.nat(2 ** 31 - 1)).map(([s, i]) => encodeWindowUpdate(s, i)),
  fc
    .tuple(fc.integer({ min: 10, max: 255 }), fc.nat(255), fc.nat(99), fc.uint8Array({ maxLength: 20 }))
    .map(([t, f, s, p]) => encodeFrame(t, f, s, Buffer.from(p))),
  fc
    .tuple(fc.integer({ min: 1, max: 99 }), fc.uint8Array({ maxLength: 20 }), fc.nat(30))
    .map(([s, d, pad]) => encodeFrame(0x0, 0x8, s, Buffer.concat([Buffer.from([pad]), Buffer.from(d), Buffer.alloc(pad)]))),
);

/** Frame-shaped bytes: headers of any type, flags and small stream ids over short random payloads, and raw noise. */
const frameLike = fc.oneof(
  fc.tuple(fc.nat(12), fc.nat(255), fc.nat(3), fc.uint8Array({ maxLength: 24 })).map(([t, f, s, p]) => encodeFrame(t, f, s, Buffer.from(p))),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
);

describe('FrameReader properties', () => {
  it('decodes any valid frame sequence the same however it is split', () => {
    fc.assert(
      fc.property(fc.array(validFrame, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, raw) => {
        const bytes = Buffer.concat(frames);
        const whole = read(bytes);
        expect(whole.length).toBeGreaterThanOrEqual(frames.length);
        expect(read(bytes, cutsOf(bytes.length, raw))).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });

  it('gives frames or an H2ProtocolError for any bytes, never buffering more than one frame', () => {
    fc.assert(
      fc.property(fc.array(frameLike, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 20 }), (pieces, raw) => {
        const bytes = Buffer.concat(pieces);
        const reader = new FrameReader();
        let from = 0;
        try {
          for (const cut of [...cutsOf(bytes.length, raw), bytes.length]) {
            reader.push(bytes.subarray(from, cut));
            from = cut;
            expect(reader.buffered).toBeLessThanOrEqual(9 + 16_384);
          }
        } catch (err) {
          if (!(err instanceof H2ProtocolError)) throw err;
          expect(['PROTOCOL_ERROR', 'FRAME_SIZE_ERROR', 'FLOW_CONTROL_ERROR']).toContain(err.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('holds at most one frame while a large one arrives a byte at a time', () => {
    const reader = new FrameReader();
    const bytes = Buffer.concat([encodeData(1, Buffer.alloc(16_384, 7), false), encodePing(Buffer.alloc(8))]);
    const frames: H2Frame[] = [];
    let most = 0;
    for (let i = 0; i < bytes.length; i++) {
      frames.push(...reader.push(bytes.subarray(i, i + 1)));
      most = Math.max(most, reader.buffered);
    }
    expect(frames.map((f) => f.type)).toEqual(['DATA', 'PING']);
    expect(most).toBe(9 + 16_384 - 1);
    expect(reader.buffered).toBe(0);
  });
});
