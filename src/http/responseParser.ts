/**
 * A strict, incremental HTTP/1.x response parser (RFC 9112). It frames responses so the
 * probe knows exactly when one ends and whether the connection can carry another; bodies
 * are counted and discarded, never buffered.
 */

import { isFieldName } from './fieldName.js';

/** How the body of a response is delimited (RFC 9112 §6.3). */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** Read until the server closes: such a response can never be followed by another. */
  | { readonly kind: 'close' };

/** A parsed final response head. */
export interface ResponseHead {
  readonly versionMinor: 0 | 1;
  readonly status: number;
  readonly reason: string;
  /** Header fields in wire order, names as sent (latin1). */
  readonly headers: readonly (readonly [string, string])[];
  /** Status codes of interim 1xx responses skipped before this one. */
  readonly informational: readonly number[];
  /** Bytes of this head, interim responses included. */
  readonly headBytes: number;
  /** Tolerated oddities worth reporting (for example `lf-line-endings`, `obs-fold`). */
  readonly flags: readonly string[];
}

export type ParseEvent =
  | { readonly type: 'informational'; readonly status: number }
  | { readonly type: 'head'; readonly head: ResponseHead; readonly framing: BodyFraming }
  | { readonly type: 'complete'; readonly bodyBytes: number };

export type ParseErrorCode =
  | 'not-http'
  | 'bad-status-line'
  | 'bad-version'
  | 'bad-header'
  | 'bare-cr'
  | 'headers-too-large'
  | 'too-many-headers'
  | 'too-many-informational'
  | 'bad-content-length'
  | 'conflicting-content-length'
  | 'te-cl-conflict'
  | 'bad-transfer-encoding'
  | 'unrequested-upgrade'
  | 'invalid-chunk'
  | 'truncated-headers'
  | 'truncated-body';

/** A response the parser refuses; the connection cannot be used after it. */
export class ParseError extends Error {
  readonly code: ParseErrorCode;
  readonly detail: string;
  /** The bytes were a TLS record: the peer speaks TLS where HTTP was expected. */
  readonly tlsRecord: boolean;

  constructor(code: ParseErrorCode, detail: string, tlsRecord = false) {
    super(`${code}: ${detail}`);
    this.name = 'ParseError';
    this.code = code;
    this.detail = detail;
    this.tlsRecord = tlsRecord;
  }
}

export interface ParserLimits {
  /** Bytes of one head (status line and fields), 1xx heads counted separately. */
  readonly maxHeadBytes: number;
  readonly maxHeaders: number;
  readonly maxInformational: number;
  /** Bytes of one chunk-size line, extensions included. */
  readonly maxChunkLine: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxHeadBytes: 64 * 1024,
  maxHeaders: 200,
  maxInformational: 16,
  maxChunkLine: 4096,
};

export type ParserPhase = 'idle' | 'head' | 'body' | 'complete';

type ChunkState =
  | { readonly at: 'size'; line: string }
  | { readonly at: 'data'; remaining: number }
  | { readonly at: 'data-crlf'; seen: number; sawCr: boolean }
  | { readonly at: 'trailer'; line: string; bytes: number };

const HTTP_PREFIX = 'HTTP/';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** 13 hex digits stay below 2^53, so chunk arithmetic stays exact. */
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(;.*)?$/;

/** Shared by every parser: never written (appendHead replaces it), nor is NO_BODY. */
const EMPTY: Buffer = Buffer.alloc(0);
const NO_BODY: BodyFraming = { kind: 'none' };

/** Parses one response (interim 1xx included) for a request with the given method. */
export class ResponseParser {
  private readonly method: string;
  private readonly limits: ParserLimits;
  /** The request carried Upgrade: only then is a 101 a valid answer. */
  private readonly upgradeRequested: boolean;
  private state: ParserPhase = 'idle';
  /** The head so far is headStore[0, headLength): grown by doubling, so a head trickled a byte at a time costs linear, not quadratic, copying. */
  private headStore: Buffer = EMPTY;
  private headLength = 0;
  private headTotal = 0;
  private informational: number[] = [];
  private framing: BodyFraming = NO_BODY;
  private remaining = 0;
  private chunk: ChunkState = { at: 'size', line: '' };
  private body = 0;
  private received = 0;
  private excess = 0;

  constructor(options: { readonly method: string; readonly limits?: Partial<ParserLimits>; readonly upgradeRequested?: boolean }) {
    this.method = options.method.toUpperCase();
    this.upgradeRequested = options.upgradeRequested ?? false;
    // The defaults themselves when none is overridden: a parser is made per request.
    this.limits = options.limits === undefined ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, ...options.limits };
  }

  get phase(): ParserPhase {
    return this.state;
  }

  /** Body bytes counted so far (chunked: payload only). */
  get bodyBytes(): number {
    return this.body;
  }

  get receivedBytes(): number {
    return this.received;
  }

  /** Bytes that arrived after the response was complete (nobody asked for them). */
  get excessBytes(): number {
    return this.excess;
  }

  /** Feeds bytes; returns what they completed. Throws ParseError on a malformed response. */
  push(chunk: Buffer): ParseEvent[] {
    this.received += chunk.length;
    const events: ParseEvent[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'complete') {
        this.excess += chunk.length - offset;
        break;
      }
      const next = this.state === 'idle' || this.state === 'head' ? this.pushHead(chunk, offset, events) : this.pushBody(chunk, offset, events);
      // Every step consumes at least one byte; a step that does not would spin forever.
      if (next <= offset) throw new Error(`response parser made no progress at byte ${offset} in phase ${this.state}`);
      offset = next;
    }
    return events;
  }

  /** The peer closed. Completes a close-delimited body; throws ParseError if a response was cut short. */
  end(): ParseEvent[] {
    if (this.state === 'complete') return [];
    if (this.state === 'idle') {
      if (this.informational.length === 0) return [];
      // Interim 1xx responses only announce the final one; closing before it cuts the response short.
      throw new ParseError('truncated-headers', `connection closed after ${this.informational.length} interim response(s), before the final response`);
    }
    if (this.state === 'head') {
      throw new ParseError('truncated-headers', `connection closed after ${this.headBuf.length} bytes of a response head`);
    }
    if (this.framing.kind === 'close') return [this.finish()];
    const expected = this.framing.kind === 'length' ? ` of ${this.framing.length}` : ' (chunked)';
    throw new ParseError('truncated-body', `connection closed after ${this.body}${expected} body bytes`);
  }

  private pushHead(chunk: Buffer, offset: number, events: ParseEvent[]): number {
    if (this.headLength === 0) {
      // The common case, a whole head in one read: parsed where it lies, not copied first
      // (the same checks, in the same order, as on the bytes appendHead would have copied).
      const end = findHeadEnd(chunk, offset);
      if (end !== -1) {
        this.state = 'head';
        checkPrefix(chunk, offset, chunk.length);
        if (end - offset > this.limits.maxHeadBytes) {
          throw new ParseError('headers-too-large', `response head exceeds ${this.limits.maxHeadBytes} bytes`);
        }
        this.headTotal += end - offset;
        this.onHead(chunk.toString('latin1', offset, end), events);
        return end;
      }
    }
    const start = this.headLength;
    this.appendHead(offset === 0 ? chunk : chunk.subarray(offset));
    this.state = 'head';
    checkPrefix(this.headStore, 0, this.headLength);
    const end = findHeadEnd(this.headBuf, Math.max(0, start - 3));
    if (end === -1) {
      if (this.headLength > this.limits.maxHeadBytes) {
        throw new ParseError('headers-too-large', `response head exceeds ${this.limits.maxHeadBytes} bytes`);
      }
      return chunk.length;
    }
    if (end > this.limits.maxHeadBytes) {
      throw new ParseError('headers-too-large', `response head exceeds ${this.limits.maxHeadBytes} bytes`);
    }
    const consumed = end - start;
    const headText = this.headStore.toString('latin1', 0, end);
    this.headStore = EMPTY;
    this.headLength = 0;
    this.headTotal += end;
    this.onHead(headText, events);
    return offset + consumed;
  }

  private get headBuf(): Buffer {
    return this.headStore.subarray(0, this.headLength);
  }

  private appendHead(bytes: Buffer): void {
    const needed = this.headLength + bytes.length;
    if (needed > this.headStore.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.headStore.length, 1024));
      this.headStore.copy(grown, 0, 0, this.headLength);
      this.headStore = grown;
    }
    bytes.copy(this.headStore, this.headLength);
    this.headLength = needed;
  }

  private onHead(text: string, events: ParseEvent[]): void {
    const flags: string[] = [];
    const lines = splitLines(text, flags);
    const statusLine = lines[0] ?? '';
    if (!isStatusLine(statusLine)) {
      // A well-formed 1.x version means the fault lies in the rest of the line ("HTTP/1.1 OK").
      if (/^HTTP\/\d+(\.\d+)? /.test(statusLine) && !/^HTTP\/1\.\d /.test(statusLine)) {
        throw new ParseError('bad-version', `unsupported version in status line ${JSON.stringify(statusLine.slice(0, 40))}`);
      }
      throw new ParseError('bad-status-line', `malformed status line ${JSON.stringify(statusLine.slice(0, 80))}`);
    }
    const major = statusLine[5];
    const minor = statusLine[7];
    if (major !== '1') {
      throw new ParseError('bad-version', `HTTP/${major}.${minor} is not HTTP/1.x`);
    }
    const code = statusLine.slice(9, 12);
    const status = Number(code);
    if (status < 100) throw new ParseError('bad-status-line', `status code ${code} out of range`);
    // RFC 9110 §2.5: a higher 1.x minor version is treated as the highest one we support.
    const versionMinor: 0 | 1 = minor === '0' ? 0 : 1;
    const headers = parseFields(lines, 1, this.limits.maxHeaders, flags);

    // RFC 9110 §15.2.2: a server switches protocols only when the request asked for it (Upgrade).
    if (status === 101 && !this.upgradeRequested) {
      throw new ParseError('unrequested-upgrade', 'the server switched protocols (101) although the request asked for no upgrade');
    }
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim response (RFC 9110 §15.2): skip it and wait for the final one.
      this.informational.push(status);
      if (this.informational.length > this.limits.maxInformational) {
        throw new ParseError('too-many-informational', `more than ${this.limits.maxInformational} interim 1xx responses`);
      }
      events.push({ type: 'informational', status });
      this.state = 'idle';
      return;
    }
    const framing = this.decideFraming(status, versionMinor, headers, flags);
    const head: ResponseHead = {
      versionMinor,
      status,
      reason: statusLine.slice(13),
      headers,
      informational: this.informational,
      headBytes: this.headTotal,
      flags,
    };
    this.framing = framing;
    events.push({ type: 'head', head, framing });
    if (framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)) {
      events.push(this.finish());
      return;
    }
    this.remaining = framing.kind === 'length' ? framing.length : 0;
    this.state = 'body';
  }

  /** RFC 9112 §6.3, in its order. */
  private decideFraming(status: number, versionMinor: 0 | 1, headers: readonly (readonly [string, string])[], flags: string[]): BodyFraming {
    if (this.method === 'HEAD' || status === 204 || status === 304 || status < 200) return NO_BODY;
    const te = fieldValues(headers, 'transfer-encoding');
    const cl = fieldValues(headers, 'content-length');
    if (te.length > 0) {
      if (cl.length > 0) {
        // §6.3 rule 3: both present may be a smuggling attempt and "ought to be handled as an error".
        throw new ParseError('te-cl-conflict', 'response has both Transfer-Encoding and Content-Length');
      }
      if (versionMinor === 0) flags.push('transfer-encoding-in-http10');
      const codings = te
        .join(',')
        .split(',')
        .map((c) => trimOws(c).toLowerCase())
        .filter((c) => c.length > 0);
      // §7.1: chunked is applied at most once.
      if (codings.filter((c) => c === 'chunked').length > 1) {
        throw new ParseError('bad-transfer-encoding', `"chunked" applied more than once (got ${JSON.stringify(te.join(', '))})`);
      }
      if (codings.at(-1) === 'chunked') return { kind: 'chunked' };
      // §6.3 rule 4: a response whose final coding is not chunked (`chunked, gzip` included) is read until close.
      return { kind: 'close' };
    }
    // The common case, one plain Content-Length, read without splitting (the same answer as below).
    if (cl.length === 1 && CONTENT_LENGTH.test(cl[0] as string)) return { kind: 'length', length: Number(cl[0]) };
    if (cl.length > 0) {
      const values = cl.join(',').split(',').map(trimOws);
      if (values.some((v) => !CONTENT_LENGTH.test(v))) {
        throw new ParseError('bad-content-length', `invalid Content-Length ${JSON.stringify(cl.join(', '))}`);
      }
      if (new Set(values.map(Number)).size > 1) {
        throw new ParseError('conflicting-content-length', `differing Content-Length values ${JSON.stringify(cl.join(', '))}`);
      }
      return { kind: 'length', length: Number(values[0]) };
    }
    return { kind: 'close' };
  }

  private pushBody(chunk: Buffer, offset: number, events: ParseEvent[]): number {
    if (this.framing.kind === 'close') {
      this.body += chunk.length - offset;
      return chunk.length;
    }
    if (this.framing.kind === 'length') {
      const take = Math.min(this.remaining, chunk.length - offset);
      this.remaining -= take;
      this.body += take;
      if (this.remaining === 0) events.push(this.finish());
      return offset + take;
    }
    return this.pushChunked(chunk, offset, events);
  }

  private pushChunked(chunk: Buffer, offset: number, events: ParseEvent[]): number {
    let i = offset;
    while (i < chunk.length && this.state === 'body') {
      const c = this.chunk;
      if (c.at === 'data') {
        const take = Math.min(c.remaining, chunk.length - i);
        c.remaining -= take;
        this.body += take;
        i += take;
        if (c.remaining === 0) this.chunk = { at: 'data-crlf', seen: 0, sawCr: false };
        continue;
      }
      const byte = chunk[i] as number;
      i += 1;
      if (c.at === 'data-crlf') {
        if (byte === 0x0d && !c.sawCr) {
          c.sawCr = true;
        } else if (byte === 0x0a) {
          this.chunk = { at: 'size', line: '' };
        } else {
          throw new ParseError('invalid-chunk', 'chunk data not followed by CRLF');
        }
        continue;
      }
      if (byte !== 0x0a) {
        c.line += String.fromCharCode(byte);
        if (c.at === 'trailer') c.bytes += 1;
        if (c.line.length > this.limits.maxChunkLine || (c.at === 'trailer' && c.bytes > this.limits.maxHeadBytes)) {
          throw new ParseError('invalid-chunk', 'chunk-size line or trailer section too long');
        }
        continue;
      }
      const line = stripCr(c.line);
      if (c.at === 'size') {
        const m = CHUNK_SIZE.exec(line);
        if (m === null) throw new ParseError('invalid-chunk', `invalid chunk-size line ${JSON.stringify(line.slice(0, 40))}`);
        const size = parseInt(m[1] as string, 16);
        this.chunk = size === 0 ? { at: 'trailer', line: '', bytes: 0 } : { at: 'data', remaining: size };
      } else if (line.length === 0) {
        events.push(this.finish());
      } else {
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(line)) {
          throw new ParseError('invalid-chunk', `invalid trailer field ${JSON.stringify(line.slice(0, 40))}`);
        }
        this.chunk = { at: 'trailer', line: '', bytes: c.bytes };
      }
    }
    return i;
  }

  private finish(): ParseEvent {
    this.state = 'complete';
    return { type: 'complete', bodyBytes: this.body };
  }
}

/**
 * Fails fast on a peer that is not speaking HTTP (an SSH banner, a TLS alert, a Redis reply):
 * the head so far is buf[from, to).
 */
function checkPrefix(buf: Buffer, from: number, to: number): void {
  const n = Math.min(to - from, HTTP_PREFIX.length);
  for (let i = 0; i < n; i++) {
    if (buf[from + i] === HTTP_PREFIX.charCodeAt(i)) continue;
    const head = buf.subarray(from, to);
    // A TLS record (content type 21 alert or 22 handshake, then version 3.x): a TLS server
    // answering a plain-text request (RFC 8446 §5.1, RFC 5246 §6.2.1).
    const [type, major] = head;
    if ((type === 21 || type === 22) && (major === 3 || head.length === 1)) {
      throw new ParseError('not-http', `the server answered with a TLS ${type === 21 ? 'alert' : 'handshake'} record: this port speaks TLS`, true);
    }
    throw new ParseError('not-http', `response does not start with "HTTP/" (got ${JSON.stringify(head.subarray(0, 16).toString('latin1'))})`);
  }
}

/** Index just past the empty line ending a head (CRLF CRLF, or bare LFs), or -1. */
function findHeadEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

/**
 * Splits a head into lines. RFC 9112 §2.2 lets a recipient accept a bare LF as a line
 * terminator (flagged); a CR anywhere else is rejected, as the RFC requires.
 */
function splitLines(text: string, flags: string[]): string[] {
  // One pass with indexOf, each line sliced once without its CR (split, then stripping each
  // line, made two strings per line and was a tenth of a request loop's parsing).
  const lines: string[] = [];
  let bareLf = false;
  let cr = text.indexOf('\r');
  // The head ends with its LF: nothing follows the last one.
  for (let start = 0, lf = text.indexOf('\n'); lf !== -1; start = lf + 1, lf = text.indexOf('\n', start)) {
    let end = lf;
    if (lf > start && text.charCodeAt(lf - 1) === 0x0d) end = lf - 1;
    else bareLf = true;
    if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
    if (cr !== -1 && cr < end) throw new ParseError('bare-cr', 'bare CR inside a response head');
    lines.push(text.slice(start, end));
  }
  lines.pop(); // the empty line ending the head
  if (bareLf) flags.push('lf-line-endings');
  return lines;
}

/**
 * `HTTP/d.d ddd`, then nothing or a space and the reason phrase (RFC 9112 §4), checked without
 * a regular expression and its match array. The line holds no CR or LF (splitLines), so any
 * reason phrase is valid here.
 */
function isStatusLine(line: string): boolean {
  if (line.length < 12 || !line.startsWith('HTTP/') || line.charCodeAt(6) !== 0x2e || line.charCodeAt(8) !== 0x20) return false;
  const digits =
    isDigit(line.charCodeAt(5)) && isDigit(line.charCodeAt(7)) && isDigit(line.charCodeAt(9)) && isDigit(line.charCodeAt(10)) && isDigit(line.charCodeAt(11));
  return digits && (line.length === 12 || line.charCodeAt(12) === 0x20);
}

/** An ASCII digit (what \d matches). */
function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * Strips OWS (RFC 9110 §5.6.3: SP and HTAB only). String.prototype.trim would also strip
 * VT, FF and NBSP (0xA0, valid obs-text), accepting `Content-Length: 5\x0b` as 5.
 */
function trimOws(text: string): string {
  // A loop, not /[ \t]+$/: that regex is quadratic on a long run of spaces from a hostile server.
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start += 1;
  while (end > start && isOws(text.charCodeAt(end - 1))) end -= 1;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** SP or HTAB. */
function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** A Content-Length value (RFC 9110 §8.6), at most 15 digits so that it stays an exact number. */
const CONTENT_LENGTH = /^\d{1,15}$/;

/** The values of every field with this name (given lowercase), in order. */
function fieldValues(headers: readonly (readonly [string, string])[], lower: string): readonly string[] {
  let values: string[] | null = null;
  for (const [name, value] of headers) {
    if (!isFieldName(name, lower)) continue;
    if (values === null) values = [value];
    else values.push(value);
  }
  return values ?? NO_VALUES;
}

/** Shared by every head without the field, never written. */
const NO_VALUES: readonly string[] = [];

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The header fields of lines[from...]. */
function parseFields(lines: readonly string[], from: number, maxHeaders: number, flags: string[]): [string, string][] {
  const headers: [string, string][] = [];
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    if (isOws(line.charCodeAt(0))) {
      // obs-fold (RFC 9112 §5.2): a user agent replaces it with a space.
      const last = headers[headers.length - 1];
      if (last === undefined) throw new ParseError('bad-header', 'header continuation line before any field');
      last[1] = `${last[1]} ${trimOws(line)}`;
      if (!flags.includes('obs-fold')) flags.push('obs-fold');
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    // RFC 9112 §5.1: no whitespace between field name and colon.
    if (!TOKEN.test(name)) throw new ParseError('bad-header', `malformed header line ${JSON.stringify(line.slice(0, 60))}`);
    const value = trimOws(line.slice(colon + 1));
    if (value.includes('\0')) throw new ParseError('bad-header', `NUL in value of header ${name}`);
    headers.push([name, value]);
    if (headers.length > maxHeaders) throw new ParseError('too-many-headers', `more than ${maxHeaders} header fields`);
  }
  return headers;
}
