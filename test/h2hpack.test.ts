import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { H2ProtocolError } from '../src/http/h2/errors.js';
import { encodeHeaderBlock, HeaderDecoder, HUFFMAN_CODE_LENGTHS, huffmanCodes } from '../src/http/h2/hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

interface Example {
  readonly id: string;
  readonly hex: string;
  readonly fields: readonly (readonly [string, string])[];
  /** The dynamic table after the block, newest first, and its size (RFC 7541 §4.1). */
  readonly table: readonly (readonly [string, string])[];
  readonly size: number;
}

/**
 * RFC 7541 Appendix C: C.3 requests without Huffman, C.4 the same with Huffman, C.5 and C.6
 * responses with a 256-octet table, so entries are evicted. Each group runs on one decoder.
 */
const APPENDIX_C: Readonly<Record<string, readonly Example[]>> = {
  'C.3': [
    {
      id: 'C.3.1',
      hex: '828684410f7777772e6578616d706c652e636f6d',
      fields: [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ],
      table: [[':authority', 'www.example.com']],
      size: 57,
    },
    {
      id: 'C.3.2',
      hex: '828684be58086e6f2d6361636865',
      fields: [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
        ['cache-control', 'no-cache'],
      ],
      table: [
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ],
      size: 110,
    },
    {
      id: 'C.3.3',
      hex: '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565',
      fields: [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ],
      table: [
        ['custom-key', 'custom-value'],
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ],
      size: 164,
    },
  ],
  'C.4': [
    {
      id: 'C.4.1',
      hex: '828684418cf1e3c2e5f23a6ba0ab90f4ff',
      fields: [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ],
      table: [[':authority', 'www.example.com']],
      size: 57,
    },
    {
      id: 'C.4.2',
      hex: '828684be5886a8eb10649cbf',
      fields: [
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
        ['cache-control', 'no-cache'],
      ],
      table: [
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ],
      size: 110,
    },
    {
      id: 'C.4.3',
      hex: '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf',
      fields: [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ],
      table: [
        ['custom-key', 'custom-value'],
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ],
      size: 164,
    },
  ],
  'C.5': [
    {
      id: 'C.5.1',
      hex:
        '4803333032580770726976617465611d4d6f6e2c203231204f63742032303133' +
        '2032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d70' +
        '6c652e636f6d',
      fields: [
        [':status', '302'],
        ['cache-control', 'private'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['location', 'https://www.example.com'],
      ],
      table: [
        ['location', 'https://www.example.com'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['cache-control', 'private'],
        [':status', '302'],
      ],
      size: 222,
    },
    {
      id: 'C.5.2',
      hex: '4803333037c1c0bf',
      fields: [
        [':status', '307'],
        ['cache-control', 'private'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['location', 'https://www.example.com'],
      ],
      table: [
        [':status', '307'],
        ['location', 'https://www.example.com'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['cache-control', 'private'],
      ],
      size: 222,
    },
    {
      id: 'C.5.3',
      hex:
        '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d' +
        '54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f5049' +
        '5541585157454f49553b206d61782d6167653d333630303b2076657273696f6e' +
        '3d31',
      fields: [
        [':status', '200'],
        ['cache-control', 'private'],
        ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
        ['location', 'https://www.example.com'],
        ['content-encoding', 'gzip'],
        ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
      ],
      table: [
        ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
        ['content-encoding', 'gzip'],
        ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ],
      size: 215,
    },
  ],
  'C.6': [
    {
      id: 'C.6.1',
      hex: '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a6' + '2d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
      fields: [
        [':status', '302'],
        ['cache-control', 'private'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['location', 'https://www.example.com'],
      ],
      table: [
        ['location', 'https://www.example.com'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['cache-control', 'private'],
        [':status', '302'],
      ],
      size: 222,
    },
    {
      id: 'C.6.2',
      hex: '4883640effc1c0bf',
      fields: [
        [':status', '307'],
        ['cache-control', 'private'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['location', 'https://www.example.com'],
      ],
      table: [
        [':status', '307'],
        ['location', 'https://www.example.com'],
        ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
        ['cache-control', 'private'],
      ],
      size: 222,
    },
    {
      id: 'C.6.3',
      hex:
        '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab' +
        '77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f' +
        '9587316065c003ed4ee5b1063d5007',
      fields: [
        [':status', '200'],
        ['cache-control', 'private'],
        ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
        ['location', 'https://www.example.com'],
        ['content-encoding', 'gzip'],
        ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
      ],
      table: [
        ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
        ['content-encoding', 'gzip'],
        ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ],
      size: 215,
    },
  ],
};

/** The COMPRESSION_ERROR detail decoding `blocks` in order ends with (the test fails on success or another error). */
function errorOf(...blocks: Buffer[]): string {
  const decoder = new HeaderDecoder();
  try {
    for (const block of blocks) decoder.decode(block);
  } catch (err) {
    if (err instanceof H2ProtocolError && err.code === 'COMPRESSION_ERROR') return err.detail;
    throw err;
  }
  throw new Error('no COMPRESSION_ERROR');
}

/** Huffman-codes bytes with the code hpack.ts derives (checked against RFC 7541 Appendix B in h2huffman.test.ts). */
function huffmanEncode(bytes: Buffer, padding: { bits?: number; ones?: boolean } = {}): Buffer {
  const codes = huffmanCodes();
  let bits = '';
  for (const byte of bytes) bits += (codes[byte] as number).toString(2).padStart(HUFFMAN_CODE_LENGTHS[byte] as number, '0');
  const pad = padding.bits ?? (8 - (bits.length % 8)) % 8;
  bits += (padding.ones === false ? '0' : '1').repeat(pad);
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8).padEnd(8, '1'), 2);
  return out;
}

/** A literal without indexing, new name, the value Huffman-coded (RFC 7541 §6.2.2); lengths under 127. */
function huffmanField(name: string, coded: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([0x80 | coded.length]), coded]);
}

describe('HeaderDecoder: RFC 7541 Appendix C', () => {
  it.each(Object.keys(APPENDIX_C))('%s decodes exactly, table and evictions included', (group) => {
    const decoder = new HeaderDecoder({ maxTableSize: group === 'C.3' || group === 'C.4' ? 4096 : 256 });
    for (const example of APPENDIX_C[group] ?? []) {
      expect(decoder.decode(hex(example.hex)), example.id).toEqual(example.fields);
      expect(decoder.table, example.id).toEqual({ entries: example.table, size: example.size });
    }
  });
});

describe('HeaderDecoder: malformed blocks', () => {
  const cases: readonly (readonly [string, Buffer[], RegExp])[] = [
    ['index 0', [hex('80')], /index 0/],
    ['an index past both tables', [hex('be')], /index 62 is beyond/],
    ['an index into an evicted entry', [hex('3f 09  40 01 61 01 62'), hex('20  be')], /index 62 is beyond/],
    ['a block ending inside an integer', [hex('1fff')], /ends inside an integer/],
    ['an integer above 2^32-1', [hex('1f ff ff ff ff 7f')], /above 2\^32-1/],
    ['an integer of 6 continuation bytes', [hex('1f 80 80 80 80 80 00')], /more than 5 continuation bytes/],
    ['a string longer than the block', [hex('00 05 61 62')], /string of 5 bytes with 2 left/],
    ['a block ending before a string', [hex('00')], /ends before a string/],
    ['a table size update above our maximum', [hex('3f e2 1f')], /above the 4096/],
    ['a table size update after a field', [hex('82 3f e1 1f')], /after a header field/],
    ['EOS in a Huffman string', [huffmanField('a', hex('ff ff ff ff'))], /contains EOS/],
    ['8 bits of Huffman padding', [huffmanField('a', huffmanEncode(Buffer.from('0'), { bits: 11 }))], /8 bits of padding|11 bits of padding/],
    ['Huffman padding of zeros', [huffmanField('a', huffmanEncode(Buffer.from('0'), { bits: 3, ones: false }))], /other than ones/],
    [
      'a header list above 65536 bytes by 1000 one-byte references to a 3033-byte entry',
      [Buffer.concat([hex('40 01 78 7f b9 16'), Buffer.alloc(3000, 0x61), Buffer.alloc(1000, 0xbe)])],
      /more than 65536/,
    ],
  ];
  it.each(cases)('%s', (_, blocks, detail) => {
    expect(errorOf(...blocks)).toMatch(detail);
  });

  it('is unusable after an error: the connection must end', () => {
    const decoder = new HeaderDecoder();
    expect(() => decoder.decode(hex('80'))).toThrow(H2ProtocolError);
    expect(() => decoder.decode(hex('82'))).toThrow(/failed earlier \(index 0/);
  });

  it('accepts an empty block, two table size updates first, and a value as large as the list allows', () => {
    const decoder = new HeaderDecoder({ maxHeaderListBytes: 200 });
    expect(decoder.decode(Buffer.alloc(0))).toEqual([]);
    expect(decoder.decode(hex('20 3f e1 01 82'))).toEqual([[':method', 'GET']]);
    expect(decoder.table).toEqual({ entries: [], size: 0 });
    const value = 'v'.repeat(200 - 32 - 1);
    expect(decoder.decode(encodeHeaderBlock([['x', value]]))).toEqual([['x', value]]);
  });
});

describe('encodeHeaderBlock', () => {
  it('puts pseudo-headers first, sends static names as indexes, no Huffman, no indexing', () => {
    const block = encodeHeaderBlock([
      ['user-agent', 'kp'],
      [':method', 'GET'],
      ['x-a', 'b'],
      [':path', '/'],
    ]);
    // :method is static name 2, :path 4, user-agent 58 (15 + 43 in a continuation byte): RFC 7541 §6.2.2, §5.1.
    expect(block).toEqual(hex('02 03 474554  04 01 2f  0f 2b 02 6b70  00 03 782d61 01 62'));
    expect(new HeaderDecoder().decode(block)).toEqual([
      [':method', 'GET'],
      [':path', '/'],
      ['user-agent', 'kp'],
      ['x-a', 'b'],
    ]);
  });

  it('refuses a character outside latin1', () => {
    expect(() => encodeHeaderBlock([['x', '\u20ac']])).toThrow(RangeError);
  });
});

const latin1 = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'));

describe('HPACK properties', () => {
  it('decodes what encodeHeaderBlock encodes, any latin1 names and values', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(latin1, latin1), { maxLength: 10 }), (headers) => {
        const pseudoFirst = [...headers.filter(([n]) => n.startsWith(':')), ...headers.filter(([n]) => !n.startsWith(':'))];
        expect(new HeaderDecoder({ maxHeaderListBytes: 1e6 }).decode(encodeHeaderBlock(headers))).toEqual(pseudoFirst);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes any Huffman-coded bytes back, with 0–7 bits of padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const coded = huffmanEncode(Buffer.from(bytes));
        expect(new HeaderDecoder().decode(huffmanField('h', coded))).toEqual([['h', Buffer.from(bytes).toString('latin1')]]);
      }),
      { numRuns: 1000 },
    );
  });

  /** Blocks: random bytes, and the Appendix C blocks mutated, run in sequence on one decoder. */
  const block = fc.oneof(
    fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
    fc
      .tuple(
        fc.constantFrom(...Object.values(APPENDIX_C).flatMap((examples) => examples.map((e) => hex(e.hex)))),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
      )
      .map(([original, edits]) => {
        const out = Buffer.from(original);
        for (const [at, byte] of edits) out[at % out.length] = byte;
        return out;
      }),
  );

  it('gives a list or a COMPRESSION_ERROR for any blocks, quickly, never another exception', () => {
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 5 }), fc.constantFrom(0, 256, 4096), (blocks, maxTableSize) => {
        const decoder = new HeaderDecoder({ maxTableSize });
        const started = performance.now();
        try {
          for (const b of blocks) expect(Array.isArray(decoder.decode(b))).toBe(true);
        } catch (err) {
          if (!(err instanceof H2ProtocolError)) throw err;
          expect(err.code).toBe('COMPRESSION_ERROR');
        }
        // A few hundred bytes of input: generous against a busy machine, far below any loop gone wrong.
        expect(performance.now() - started).toBeLessThan(250);
        expect(decoder.table.size).toBeLessThanOrEqual(maxTableSize);
      }),
      { numRuns: 3000 },
    );
  });
});
