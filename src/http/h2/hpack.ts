/**
 * HPACK (RFC 7541): a stateless encoder for request headers and a strict decoder for the
 * peer's header blocks. Field names and values are handled as latin1 strings, one character
 * per octet, so any bytes a server sends survive decoding unchanged.
 *
 * The decoder is our own rather than hpack.js 2.1.6 (the npm package spdy-transport uses): that
 * package has had no commit since 2016, throws a TypeError from its buffer library on a truncated
 * integer, accepts a dynamic table size update after a header field (RFC 7541 §4.2), and exposes
 * decoding only as a stream whose errors arrive as events.
 */
import { H2ProtocolError } from './errors.js';

/** The static table (RFC 7541 Appendix A); index 1 is the first entry. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * Code lengths in bits of the Huffman code (RFC 7541 Appendix B), for symbols 0–255 and EOS
 * (256). The code is canonical: codes are assigned in order of (length, symbol), each the
 * previous plus one, shifted left when the length grows; so the lengths define it.
 * test/h2huffman.test.ts checks every code against Appendix B.
 */
// biome-ignore format: a table
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** The canonical code as decoding tables: per length, the first code, how many codes, and where their symbols start. */
interface HuffmanDecoding {
  readonly firstCode: readonly number[];
  readonly count: readonly number[];
  readonly offset: readonly number[];
  /** Symbols in code order. */
  readonly symbols: readonly number[];
}

function canonicalDecoding(lengths: readonly number[]): HuffmanDecoding {
  const symbols = lengths.map((_, symbol) => symbol).sort((a, b) => (lengths[a] as number) - (lengths[b] as number) || a - b);
  const maxLength = Math.max(...lengths);
  const count = new Array<number>(maxLength + 1).fill(0);
  for (const length of lengths) count[length] = (count[length] as number) + 1;
  const firstCode = new Array<number>(maxLength + 1).fill(0);
  const offset = new Array<number>(maxLength + 1).fill(0);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= maxLength; length++) {
    code <<= 1;
    firstCode[length] = code;
    offset[length] = index;
    code += count[length] as number;
    index += count[length] as number;
  }
  return { firstCode, count, offset, symbols };
}

const HUFFMAN = canonicalDecoding(HUFFMAN_CODE_LENGTHS);

/** Each symbol's code (as a number, HUFFMAN_CODE_LENGTHS bits long), derived from the canonical decoding tables. */
export function huffmanCodes(): number[] {
  const codes = new Array<number>(HUFFMAN_CODE_LENGTHS.length).fill(0);
  HUFFMAN.symbols.forEach((symbol, i) => {
    const length = HUFFMAN_CODE_LENGTHS[symbol] as number;
    codes[symbol] = (HUFFMAN.firstCode[length] as number) + i - (HUFFMAN.offset[length] as number);
  });
  return codes;
}

function fail(message: string): never {
  throw new H2ProtocolError('COMPRESSION_ERROR', message);
}

/** Decodes a Huffman-coded string (RFC 7541 §5.2), bit by bit through the canonical tables. */
function huffmanDecode(bytes: Buffer): string {
  const out: number[] = [];
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      length++;
      const rank = code - (HUFFMAN.firstCode[length] as number);
      if (rank >= 0 && rank < (HUFFMAN.count[length] as number)) {
        const symbol = HUFFMAN.symbols[(HUFFMAN.offset[length] as number) + rank] as number;
        if (symbol === EOS) fail('a Huffman string contains EOS (RFC 7541 §5.2)');
        out.push(symbol);
        code = 0;
        length = 0;
      }
    }
  }
  // Padding: the most significant bits of EOS, all ones, at most 7 of them (RFC 7541 §5.2).
  if (length > 7) fail(`a Huffman string ends with ${length} bits of padding; at most 7 are allowed (RFC 7541 §5.2)`);
  if (code !== (1 << length) - 1) fail('a Huffman string is padded with bits other than ones (RFC 7541 §5.2)');
  return Buffer.from(out).toString('latin1');
}

/** Reads one header block; every read is bounded by the block's length. */
class BlockReader {
  private at = 0;

  constructor(private readonly block: Buffer) {}

  get done(): boolean {
    return this.at >= this.block.length;
  }

  peek(): number {
    return this.block[this.at] as number;
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1), at most 2^32-1. */
  integer(prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = (this.block[this.at++] as number) & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.done) fail('a header block ends inside an integer (RFC 7541 §5.1)');
      if (shift > 28) fail('an integer of more than 5 continuation bytes in a header block (RFC 7541 §5.1)');
      const byte = this.block[this.at++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (value > 0xffff_ffff) fail('an integer above 2^32-1 in a header block (RFC 7541 §5.1)');
      if ((byte & 0x80) === 0) return value;
    }
  }

  /** A string literal (RFC 7541 §5.2), as latin1. */
  string(): string {
    if (this.done) fail('a header block ends before a string (RFC 7541 §5.2)');
    const huffman = (this.peek() & 0x80) !== 0;
    const length = this.integer(7);
    const left = this.block.length - this.at;
    if (length > left) fail(`a string of ${length} bytes with ${left} left in the header block (RFC 7541 §5.2)`);
    const bytes = this.block.subarray(this.at, this.at + length);
    this.at += length;
    return huffman ? huffmanDecode(bytes) : bytes.toString('latin1');
  }
}

/** An entry's size in the dynamic table and in a header list: octets of name and value plus 32 (RFC 7541 §4.1, RFC 9113 §6.5.2). */
function entrySize(name: string, value: string): number {
  return name.length + value.length + 32;
}

/**
 * Decodes the header blocks of one connection, in order (it keeps the dynamic table).
 * Throws H2ProtocolError('COMPRESSION_ERROR') on any malformed block; after that the
 * decoder is unusable, as the connection must end (RFC 9113 §4.3).
 */
export class HeaderDecoder {
  /** The SETTINGS_HEADER_TABLE_SIZE we advertise: the most a table size update may ask for. */
  private readonly maxTableSize: number;
  private readonly maxHeaderListBytes: number;
  /** The size the peer last chose (RFC 7541 §4.2); starts at the advertised maximum. */
  private tableLimit: number;
  /** Newest first, so dynamic index 62 is entries[0]. */
  private entries: (readonly [string, string])[] = [];
  private size = 0;
  private failure: H2ProtocolError | null = null;

  constructor(opts: { maxTableSize?: number; maxHeaderListBytes?: number } = {}) {
    this.maxTableSize = opts.maxTableSize ?? 4096;
    this.maxHeaderListBytes = opts.maxHeaderListBytes ?? 65_536;
    this.tableLimit = this.maxTableSize;
  }

  /** The dynamic table, newest first, and its size in RFC 7541 §4.1 octets. */
  get table(): { readonly entries: readonly (readonly [string, string])[]; readonly size: number } {
    return { entries: [...this.entries], size: this.size };
  }

  decode(block: Buffer): [string, string][] {
    if (this.failure !== null) throw new H2ProtocolError('COMPRESSION_ERROR', `the decoder failed earlier (${this.failure.detail}); the connection must end`);
    try {
      return this.decodeBlock(new BlockReader(block));
    } catch (err) {
      this.failure = err instanceof H2ProtocolError ? err : new H2ProtocolError('COMPRESSION_ERROR', String(err));
      throw this.failure;
    }
  }

  private decodeBlock(reader: BlockReader): [string, string][] {
    const fields: [string, string][] = [];
    let listBytes = 0;
    while (!reader.done) {
      const first = reader.peek();
      if ((first & 0xe0) === 0x20) {
        // Dynamic table size update (RFC 7541 §6.3), allowed only before the first field (§4.2).
        if (fields.length > 0) fail('a dynamic table size update after a header field (RFC 7541 §4.2)');
        const size = reader.integer(5);
        if (size > this.maxTableSize) fail(`a dynamic table size update to ${size}, above the ${this.maxTableSize} we allow (RFC 7541 §6.3)`);
        this.tableLimit = size;
        this.evict(0);
        continue;
      }
      let field: readonly [string, string];
      if ((first & 0x80) !== 0) {
        field = this.lookup(reader.integer(7));
      } else {
        // 01: incremental indexing (§6.2.1); 0000: without indexing (§6.2.2); 0001: never indexed (§6.2.3).
        const indexed = (first & 0x40) !== 0;
        const nameIndex = reader.integer(indexed ? 6 : 4);
        const name = nameIndex === 0 ? reader.string() : (this.lookup(nameIndex)[0] as string);
        field = [name, reader.string()];
        if (indexed) this.add(field);
      }
      listBytes += entrySize(field[0], field[1]);
      if (listBytes > this.maxHeaderListBytes) fail(`a header list of more than ${this.maxHeaderListBytes} bytes (RFC 9113 §6.5.2 sizes)`);
      fields.push([field[0], field[1]]);
    }
    return fields;
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) fail('index 0 in a header block (RFC 7541 §6.1)');
    const entry = index <= STATIC_TABLE.length ? STATIC_TABLE[index - 1] : this.entries[index - STATIC_TABLE.length - 1];
    if (entry === undefined) {
      fail(`index ${index} is beyond the static table (61) and the dynamic table (${this.entries.length} entries) (RFC 7541 §2.3.3)`);
    }
    return entry;
  }

  /** Adds an entry, evicting the oldest first; an entry larger than the table empties it (RFC 7541 §4.4). */
  private add(field: readonly [string, string]): void {
    const size = entrySize(field[0], field[1]);
    this.evict(size);
    if (size <= this.tableLimit) {
      this.entries.unshift(field);
      this.size += size;
    }
  }

  /** Evicts until `room` more octets fit within the table's limit (RFC 7541 §4.3, §4.4). */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.tableLimit) {
      const [name, value] = this.entries.pop() as readonly [string, string];
      this.size -= entrySize(name, value);
    }
  }
}

function encodeInteger(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}

function encodeString(text: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) throw new RangeError(`a header field holds ${JSON.stringify(text[i])}, outside latin1; encode it first`);
  }
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from(encodeInteger(bytes.length, 7, 0)), bytes]);
}

/** The index of the first static entry with this name, or 0. */
function staticNameIndex(name: string): number {
  return STATIC_TABLE.findIndex(([entryName]) => entryName === name) + 1;
}

/**
 * Encodes request headers (pseudo-headers first, otherwise in order) as literals without
 * indexing (RFC 7541 §6.2.2), no Huffman: simple and stateless, so the peer's table never
 * depends on ours. A name in the static table is sent as its index. Names are sent as given:
 * HTTP/2 wants them lowercase (RFC 9113 §8.2.1), which is the caller's to decide.
 */
export function encodeHeaderBlock(headers: readonly (readonly [string, string])[]): Buffer {
  const ordered = [...headers.filter(([name]) => name.startsWith(':')), ...headers.filter(([name]) => !name.startsWith(':'))];
  const parts = ordered.map(([name, value]) => {
    const index = staticNameIndex(name);
    const head = index > 0 ? Buffer.from(encodeInteger(index, 4, 0)) : Buffer.concat([Buffer.from([0]), encodeString(name)]);
    return Buffer.concat([head, encodeString(value)]);
  });
  return Buffer.concat(parts);
}
