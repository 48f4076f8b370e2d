/**
 * The HTTP/2 frame layer (RFC 9113 §4, §6): an incremental reader that turns bytes from the
 * peer into typed frames and refuses malformed ones with the error code RFC 9113 gives them,
 * and the encoders a client needs. No sockets, no timers: the connection lives in wire/.
 */
import { H2ProtocolError } from './errors.js';

export { H2ProtocolError } from './errors.js';
export type { H2ErrorCode } from './errors.js';

/** The client connection preface (RFC 9113 §3.4), sent before the client's first SETTINGS. */
export const CLIENT_PREFACE: Buffer = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Bytes of a frame header (RFC 9113 §4.1). */
export const FRAME_HEADER_BYTES = 9;
/** The initial SETTINGS_MAX_FRAME_SIZE, and the smallest a peer may advertise (RFC 9113 §6.5.2). */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** The largest frame payload the 24-bit length field can carry (RFC 9113 §4.1). */
export const MAX_FRAME_LENGTH = 2 ** 24 - 1;
const MAX_STREAM_ID = 2 ** 31 - 1;

/** Frame type codes (RFC 9113 §6). */
export const FRAME_TYPE = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Flag bits (RFC 9113 §6); ACK and END_STREAM share a bit on different frame types. */
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export type FrameTypeName =
  | 'DATA'
  | 'HEADERS'
  | 'PRIORITY'
  | 'RST_STREAM'
  | 'SETTINGS'
  | 'PUSH_PROMISE'
  | 'PING'
  | 'GOAWAY'
  | 'WINDOW_UPDATE'
  | 'CONTINUATION'
  | 'UNKNOWN';

const TYPE_NAMES: readonly FrameTypeName[] = Object.keys(FRAME_TYPE) as FrameTypeName[];

/** A frame type's name as the timeline keeps it (model/events.ts H2FrameInfo): DATA … CONTINUATION, else UNKNOWN_0x… */
export function frameTypeLabel(code: number): string {
  const name = TYPE_NAMES[code];
  return name === undefined || name === 'UNKNOWN' ? `UNKNOWN_0x${code.toString(16)}` : name;
}

/** Flag names by bit, and the frame types on which each bit means that (RFC 9113 §6). */
const FLAG_NAMES: readonly (readonly [number, string, readonly string[]])[] = [
  [0x1, 'END_STREAM', ['DATA', 'HEADERS']],
  [0x1, 'ACK', ['SETTINGS', 'PING']],
  [0x4, 'END_HEADERS', ['HEADERS', 'PUSH_PROMISE', 'CONTINUATION']],
  [0x8, 'PADDED', ['DATA', 'HEADERS', 'PUSH_PROMISE']],
  [0x20, 'PRIORITY', ['HEADERS']],
];

/** The names of the flags set on a frame of this type (END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY). */
export function flagNames(typeName: string, flags: number): string[] {
  return FLAG_NAMES.filter(([bit, , types]) => (flags & bit) !== 0 && types.includes(typeName)).map(([, name]) => name);
}

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7), by value. */
const ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
] as const;

/** The name of an RST_STREAM or GOAWAY error code: 0 → 'NO_ERROR' … 0xd → 'HTTP_1_1_REQUIRED', else 'UNKNOWN_0x1f'. */
export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `UNKNOWN_0x${code.toString(16)}`;
}

/** SETTINGS identifiers the probe reads (RFC 9113 §6.5.2). */
export const SETTINGS_ID = {
  HEADER_TABLE_SIZE: 1,
  ENABLE_PUSH: 2,
  MAX_CONCURRENT_STREAMS: 3,
  INITIAL_WINDOW_SIZE: 4,
  MAX_FRAME_SIZE: 5,
  MAX_HEADER_LIST_SIZE: 6,
} as const;

/** RFC 9113 §6.5.2, plus ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) and NO_RFC7540_PRIORITIES (RFC 9218 §2.1). */
const SETTING_NAMES: Readonly<Record<number, string>> = {
  1: 'HEADER_TABLE_SIZE',
  2: 'ENABLE_PUSH',
  3: 'MAX_CONCURRENT_STREAMS',
  4: 'INITIAL_WINDOW_SIZE',
  5: 'MAX_FRAME_SIZE',
  6: 'MAX_HEADER_LIST_SIZE',
  8: 'ENABLE_CONNECT_PROTOCOL',
  9: 'NO_RFC7540_PRIORITIES',
};

/** The name of a SETTINGS identifier, or 'UNKNOWN_0x..' (unknown settings are ignored, RFC 9113 §6.5.2). */
export function settingName(id: number): string {
  return SETTING_NAMES[id] ?? `UNKNOWN_0x${id.toString(16)}`;
}

/** The stream a HEADERS or PRIORITY frame depends on (RFC 9113 §5.3.2, §6.3; deprecated but still on the wire). */
export interface Priority {
  readonly exclusive: boolean;
  readonly streamDependency: number;
  /** The weight field plus one (1–256). */
  readonly weight: number;
}

interface FrameBase {
  /** Payload length on the wire, padding and fields included. */
  readonly length: number;
  readonly flags: number;
  readonly streamId: number;
}

/** One frame from the peer, its fields decoded; padding removed. */
export type H2Frame = FrameBase &
  (
    | { readonly type: 'DATA'; readonly data: Buffer; readonly endStream: boolean }
    | { readonly type: 'HEADERS'; readonly block: Buffer; readonly endStream: boolean; readonly endHeaders: boolean; readonly priority: Priority | null }
    | { readonly type: 'PRIORITY'; readonly priority: Priority }
    | { readonly type: 'RST_STREAM'; readonly errorCode: number }
    | { readonly type: 'SETTINGS'; readonly ack: boolean; readonly settings: readonly (readonly [id: number, value: number])[] }
    | { readonly type: 'PUSH_PROMISE'; readonly promisedStreamId: number; readonly block: Buffer; readonly endHeaders: boolean }
    | { readonly type: 'PING'; readonly ack: boolean; readonly payload: Buffer }
    | { readonly type: 'GOAWAY'; readonly lastStreamId: number; readonly errorCode: number; readonly debug: Buffer }
    | { readonly type: 'WINDOW_UPDATE'; readonly increment: number }
    | { readonly type: 'CONTINUATION'; readonly block: Buffer; readonly endHeaders: boolean }
    /** Unknown types are ignored (RFC 9113 §4.1, §5.5) but reported. */
    | { readonly type: 'UNKNOWN'; readonly typeCode: number; readonly payload: Buffer }
  );

/**
 * Incremental reader: push arbitrary chunks, get whole frames. A frame's bytes (data, block,
 * payload, debug) are views of the chunk pushed, valid as long as the caller does not reuse
 * that buffer; copy what is kept. Throws H2ProtocolError on a
 * malformed frame (carrying the frames of the same chunk read before it); after that every
 * push throws the same error, since the connection must end. Buffers at most one frame:
 * a frame header announcing more than maxFrameSize is refused before its payload arrives.
 */
export class FrameReader {
  private readonly maxFrameSize: number;
  /** Copies of the bytes of an incomplete frame, joined only once `needed` bytes are there (no copying per byte of a trickle). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the frame at the head of `pending` needs: its header, then header and payload. */
  private needed = FRAME_HEADER_BYTES;
  /** The stream of a HEADERS or PUSH_PROMISE still waiting for END_HEADERS (RFC 9113 §6.10), or null. */
  private continuationStream: number | null = null;
  private failure: H2ProtocolError | null = null;

  /** maxFrameSize: the SETTINGS_MAX_FRAME_SIZE we advertise (default 16384). */
  constructor(opts: { maxFrameSize?: number } = {}) {
    const max = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < DEFAULT_MAX_FRAME_SIZE || max > MAX_FRAME_LENGTH) {
      throw new RangeError(`maxFrameSize must be an integer from ${DEFAULT_MAX_FRAME_SIZE} to ${MAX_FRAME_LENGTH}, got ${max}`);
    }
    this.maxFrameSize = max;
  }

  /** Bytes held back: at most one frame header and payload. */
  get buffered(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): H2Frame[] {
    if (this.failure !== null) throw this.failure;
    if (this.pendingBytes + chunk.length < this.needed) {
      this.pending.push(Buffer.from(chunk));
      this.pendingBytes += chunk.length;
      return [];
    }
    const bytes = this.pending.length === 0 ? chunk : Buffer.concat([...this.pending, chunk]);
    const frames: H2Frame[] = [];
    let offset = 0;
    try {
      while (bytes.length - offset >= FRAME_HEADER_BYTES) {
        const length = bytes.readUIntBE(offset, 3);
        if (length > this.maxFrameSize) {
          throw new H2ProtocolError('FRAME_SIZE_ERROR', `a frame of ${length} bytes exceeds the ${this.maxFrameSize} we allow (RFC 9113 §4.2)`);
        }
        if (bytes.length - offset < FRAME_HEADER_BYTES + length) break;
        const type = bytes[offset + 3] as number;
        const flags = bytes[offset + 4] as number;
        // The reserved bit is ignored on receipt (RFC 9113 §4.1).
        const streamId = bytes.readUInt32BE(offset + 5) & MAX_STREAM_ID;
        // A view, not a copy: the probe decodes each frame as it comes and keeps none of its bytes
        // (a copy per frame was a third of an HTTP/2 request loop's garbage). A caller that keeps
        // a payload beyond the push copies it (h2Connection's open header block).
        const payload = bytes.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
        offset += FRAME_HEADER_BYTES + length;
        frames.push(this.frame(type, flags, streamId, payload));
      }
    } catch (err) {
      if (!(err instanceof H2ProtocolError)) throw err;
      this.failure = new H2ProtocolError(err.code, err.detail, frames);
      this.pending = [];
      this.pendingBytes = 0;
      throw this.failure;
    }
    const rest = bytes.subarray(offset);
    this.pending = rest.length === 0 ? [] : [Buffer.from(rest)];
    this.pendingBytes = rest.length;
    this.needed = rest.length < FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + rest.readUIntBE(0, 3);
    return frames;
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): H2Frame {
    const name = TYPE_NAMES[type] ?? 'UNKNOWN';
    if (this.continuationStream !== null && (name !== 'CONTINUATION' || streamId !== this.continuationStream)) {
      throw new H2ProtocolError(
        'PROTOCOL_ERROR',
        `${name === 'UNKNOWN' ? `a frame of type 0x${type.toString(16)}` : name} on stream ${streamId} where a CONTINUATION of stream ${this.continuationStream} must follow (RFC 9113 §6.10)`,
      );
    }
    // Each frame is one object literal (a spread base object was a second object per frame).
    const length = payload.length;
    const endHeaders = (flags & FLAG.END_HEADERS) !== 0;
    switch (name) {
      case 'DATA': {
        onStream(name, streamId);
        return { length, flags, streamId, type: name, data: unpad(name, flags, payload, 0), endStream: (flags & FLAG.END_STREAM) !== 0 };
      }
      case 'HEADERS': {
        onStream(name, streamId);
        const hasPriority = (flags & FLAG.PRIORITY) !== 0;
        const fields = unpad(name, flags, payload, hasPriority ? 5 : 0);
        const priority = hasPriority ? priorityOf(payload.subarray(padFieldBytes(flags), padFieldBytes(flags) + 5)) : null;
        this.continuationStream = endHeaders ? null : streamId;
        return {
          length,
          flags,
          streamId,
          type: name,
          block: fields.subarray(hasPriority ? 5 : 0),
          endStream: (flags & FLAG.END_STREAM) !== 0,
          endHeaders,
          priority,
        };
      }
      case 'PRIORITY':
        onStream(name, streamId);
        exactLength(name, payload, 5);
        return { length, flags, streamId, type: name, priority: priorityOf(payload) };
      case 'RST_STREAM':
        onStream(name, streamId);
        exactLength(name, payload, 4);
        return { length, flags, streamId, type: name, errorCode: payload.readUInt32BE(0) };
      case 'SETTINGS':
        return { length, flags, streamId, type: name, ...settingsOf(flags, streamId, payload) };
      case 'PUSH_PROMISE': {
        onStream(name, streamId);
        const fields = unpad(name, flags, payload, 4);
        this.continuationStream = endHeaders ? null : streamId;
        return { length, flags, streamId, type: name, promisedStreamId: fields.readUInt32BE(0) & MAX_STREAM_ID, block: fields.subarray(4), endHeaders };
      }
      case 'PING':
        onConnection(name, streamId);
        exactLength(name, payload, 8);
        return { length, flags, streamId, type: name, ack: (flags & FLAG.ACK) !== 0, payload };
      case 'GOAWAY':
        onConnection(name, streamId);
        if (payload.length < 8)
          throw new H2ProtocolError('FRAME_SIZE_ERROR', `GOAWAY of ${payload.length} bytes, shorter than its 8 bytes of fields (RFC 9113 §6.8)`);
        return {
          length,
          flags,
          streamId,
          type: name,
          lastStreamId: payload.readUInt32BE(0) & MAX_STREAM_ID,
          errorCode: payload.readUInt32BE(4),
          debug: payload.subarray(8),
        };
      case 'WINDOW_UPDATE':
        // An increment of 0 is the connection layer's to judge (RFC 9113 §6.9: a stream or a connection error).
        exactLength(name, payload, 4);
        return { length, flags, streamId, type: name, increment: payload.readUInt32BE(0) & MAX_STREAM_ID };
      case 'CONTINUATION':
        onStream(name, streamId);
        if (this.continuationStream === null) {
          throw new H2ProtocolError(
            'PROTOCOL_ERROR',
            `CONTINUATION on stream ${streamId} without a HEADERS or PUSH_PROMISE awaiting END_HEADERS (RFC 9113 §6.10)`,
          );
        }
        if (endHeaders) this.continuationStream = null;
        return { length, flags, streamId, type: name, block: payload, endHeaders };
      case 'UNKNOWN':
        return { length, flags, streamId, type: name, typeCode: type, payload };
    }
  }
}

function onStream(name: FrameTypeName, streamId: number): void {
  if (streamId === 0) throw new H2ProtocolError('PROTOCOL_ERROR', `${name} on stream 0, which it must not use (RFC 9113 §6)`);
}

function onConnection(name: FrameTypeName, streamId: number): void {
  if (streamId !== 0) throw new H2ProtocolError('PROTOCOL_ERROR', `${name} on stream ${streamId}; it belongs on stream 0 (RFC 9113 §6)`);
}

function exactLength(name: FrameTypeName, payload: Buffer, bytes: number): void {
  if (payload.length !== bytes) throw new H2ProtocolError('FRAME_SIZE_ERROR', `${name} of ${payload.length} bytes; it must be ${bytes} (RFC 9113 §6)`);
}

function padFieldBytes(flags: number): number {
  return (flags & FLAG.PADDED) !== 0 ? 1 : 0;
}

/**
 * The payload without its Pad Length field and padding (RFC 9113 §6.1, §6.2, §6.6), still
 * holding the frame's fixed fields (fixedBytes: priority or promised stream id).
 */
function unpad(name: FrameTypeName, flags: number, payload: Buffer, fixedBytes: number): Buffer {
  const padField = padFieldBytes(flags);
  if (payload.length < padField + fixedBytes) {
    throw new H2ProtocolError(
      'FRAME_SIZE_ERROR',
      `${name} of ${payload.length} bytes, shorter than its ${padField + fixedBytes} bytes of fields (RFC 9113 §6)`,
    );
  }
  if (padField === 0) return payload;
  const padLength = payload[0] as number;
  const room = payload.length - 1 - fixedBytes;
  if (padLength > room) {
    throw new H2ProtocolError('PROTOCOL_ERROR', `${name} with ${padLength} bytes of padding in a payload that has room for ${room} (RFC 9113 §6.1)`);
  }
  return payload.subarray(1, payload.length - padLength);
}

function priorityOf(fields: Buffer): Priority {
  const dependency = fields.readUInt32BE(0);
  return { exclusive: dependency >>> 31 === 1, streamDependency: dependency & MAX_STREAM_ID, weight: (fields[4] as number) + 1 };
}

/** SETTINGS fields, refusing the values RFC 9113 §6.5.2 makes connection errors. */
function settingsOf(flags: number, streamId: number, payload: Buffer): { ack: boolean; settings: (readonly [number, number])[] } {
  onConnection('SETTINGS', streamId);
  const ack = (flags & FLAG.ACK) !== 0;
  if (ack && payload.length !== 0)
    throw new H2ProtocolError('FRAME_SIZE_ERROR', `SETTINGS ACK with ${payload.length} bytes of payload; it must be empty (RFC 9113 §6.5)`);
  if (payload.length % 6 !== 0) throw new H2ProtocolError('FRAME_SIZE_ERROR', `SETTINGS of ${payload.length} bytes, not a multiple of 6 (RFC 9113 §6.5)`);
  const settings: (readonly [number, number])[] = [];
  for (let at = 0; at < payload.length; at += 6) {
    const id = payload.readUInt16BE(at);
    const value = payload.readUInt32BE(at + 2);
    if (id === SETTINGS_ID.ENABLE_PUSH && value > 1)
      throw new H2ProtocolError('PROTOCOL_ERROR', `${settingName(id)} = ${value}; only 0 and 1 are allowed (RFC 9113 §6.5.2)`);
    if (id === SETTINGS_ID.INITIAL_WINDOW_SIZE && value > MAX_STREAM_ID) {
      throw new H2ProtocolError('FLOW_CONTROL_ERROR', `INITIAL_WINDOW_SIZE = ${value}, above 2^31-1 (RFC 9113 §6.5.2)`);
    }
    if (id === SETTINGS_ID.MAX_FRAME_SIZE && (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_LENGTH)) {
      throw new H2ProtocolError('PROTOCOL_ERROR', `MAX_FRAME_SIZE = ${value}, outside ${DEFAULT_MAX_FRAME_SIZE}..${MAX_FRAME_LENGTH} (RFC 9113 §6.5.2)`);
    }
    settings.push([id, value]);
  }
  return { ack, settings };
}

/** One frame: the 9-byte header (RFC 9113 §4.1) and the payload. Throws RangeError on a field out of range. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  checkRange('frame type', type, 0xff);
  checkRange('flags', flags, 0xff);
  checkRange('stream id', streamId, MAX_STREAM_ID);
  checkRange('payload length', payload.length, MAX_FRAME_LENGTH);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function checkRange(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${what} must be an integer from 0 to ${max}, got ${value}`);
}

/** A SETTINGS frame, or its ACK (which carries no settings). */
export function encodeSettings(settings: readonly (readonly [number, number])[], ack = false): Buffer {
  if (ack && settings.length > 0) throw new RangeError('a SETTINGS ACK carries no settings (RFC 9113 §6.5)');
  const payload = Buffer.alloc(settings.length * 6);
  settings.forEach(([id, value], i) => {
    checkRange('setting id', id, 0xffff);
    checkRange('setting value', value, 0xffff_ffff);
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return encodeFrame(FRAME_TYPE.SETTINGS, ack ? FLAG.ACK : 0, 0, payload);
}

/** A PING (payload: exactly 8 bytes, echoed by the ACK). */
export function encodePing(payload: Buffer, ack = false): Buffer {
  if (payload.length !== 8) throw new RangeError(`a PING carries 8 bytes, got ${payload.length}`);
  return encodeFrame(FRAME_TYPE.PING, ack ? FLAG.ACK : 0, 0, payload);
}

/**
 * A header block as HEADERS, followed by CONTINUATION frames when it is larger than
 * maxFrameSize (the peer's SETTINGS_MAX_FRAME_SIZE, default 16384). END_STREAM goes on the
 * HEADERS frame, END_HEADERS on the last frame (RFC 9113 §6.2, §6.10).
 */
export function encodeHeaders(streamId: number, block: Buffer, opts: { endStream: boolean; maxFrameSize?: number }): Buffer {
  if (streamId === 0) throw new RangeError('HEADERS needs a stream id other than 0');
  const max = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  checkRange('maxFrameSize', max, MAX_FRAME_LENGTH);
  if (max === 0) throw new RangeError('maxFrameSize must be at least 1');
  const frames: Buffer[] = [];
  let at = 0;
  do {
    const part = block.subarray(at, at + max);
    at += part.length;
    const last = at >= block.length;
    const flags = (last ? FLAG.END_HEADERS : 0) | (frames.length === 0 && opts.endStream ? FLAG.END_STREAM : 0);
    frames.push(encodeFrame(frames.length === 0 ? FRAME_TYPE.HEADERS : FRAME_TYPE.CONTINUATION, flags, streamId, part));
  } while (at < block.length);
  return Buffer.concat(frames);
}

/** One DATA frame, unpadded; the caller keeps data within the peer's SETTINGS_MAX_FRAME_SIZE. */
export function encodeData(streamId: number, data: Buffer, endStream: boolean): Buffer {
  if (streamId === 0) throw new RangeError('DATA needs a stream id other than 0');
  return encodeFrame(FRAME_TYPE.DATA, endStream ? FLAG.END_STREAM : 0, streamId, data);
}

export function encodeGoaway(lastStreamId: number, errorCode: number, debug: Buffer = Buffer.alloc(0)): Buffer {
  checkRange('last stream id', lastStreamId, MAX_STREAM_ID);
  return encodeFrame(FRAME_TYPE.GOAWAY, 0, 0, Buffer.concat([uint32(lastStreamId), uint32(errorCode), debug]));
}

export function encodeRstStream(streamId: number, errorCode: number): Buffer {
  if (streamId === 0) throw new RangeError('RST_STREAM needs a stream id other than 0');
  return encodeFrame(FRAME_TYPE.RST_STREAM, 0, streamId, uint32(errorCode));
}

/** A WINDOW_UPDATE (stream 0: the connection's window). An increment of 0 is encodable, to provoke a peer. */
export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  checkRange('window increment', increment, MAX_STREAM_ID);
  return encodeFrame(FRAME_TYPE.WINDOW_UPDATE, 0, streamId, uint32(increment));
}

function uint32(value: number): Buffer {
  checkRange('32-bit field', value, 0xffff_ffff);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value, 0);
  return out;
}
