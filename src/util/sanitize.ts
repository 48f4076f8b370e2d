/**
 * Server-provided text (headers, reason phrases, banners) is hostile: it can carry escape
 * sequences that rewrite the terminal, or bidi overrides that reorder what is shown, and it
 * can be huge. It goes through `sanitize` once, where it enters the model (the wire layer
 * records header values, previews and parser messages sanitised and capped), so the
 * terminal, JSON, JUnit and HTML reports all show the same text; renderers apply it again
 * to everything they print, which changes nothing already sanitised. (Markup escaping for
 * XML and HTML is escapeXml in report/xml.ts.)
 */

/** Characters of one header value (or banner) kept in the model; the rest is counted, not kept. */
export const SERVER_TEXT_MAX = 200;
/** Characters of a message that quotes server bytes (a parser error). */
export const SERVER_MESSAGE_MAX = 400;

// All C0 controls (tab included: it breaks table layout), DEL, C1 controls,
// and the Unicode bidi/format characters used in "Trojan Source" attacks.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u206f\ufeff]/gu;

/**
 * Escapes control, C1 and bidi characters as `\xNN`/`\uNNNN` and caps the length (in code
 * points of the escaped text). The cut falls between characters, never inside an escape or a
 * surrogate pair, and says how many characters of the original were left out.
 */
export function sanitize(text: string, maxLength = 1000): string {
  const escaped = text.replace(UNSAFE, escapeOne);
  if (escaped.length <= maxLength) return escaped;
  const chars = Array.from(text);
  let out = '';
  let length = 0;
  for (const [i, ch] of chars.entries()) {
    const piece = ch.replace(UNSAFE, escapeOne);
    const pieceLength = piece === ch ? 1 : piece.length;
    if (length + pieceLength > maxLength) return `${out}… (${chars.length - i} more)`;
    out += piece;
    length += pieceLength;
  }
  return out;
}

function escapeOne(ch: string): string {
  const code = ch.codePointAt(0) as number;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
