import { sanitize } from '../util/sanitize.js';

/**
 * XML 1.0 text from untrusted strings: characters XML cannot carry at all (most C0
 * controls, lone surrogates, U+FFFE/U+FFFF) are dropped, as vitest's JUnit reporter does,
 * and markup characters are escaped, so a hostile header value can never break the document.
 */
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for XML element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(INVALID_XML, '').replace(/[&<>"']/g, (ch) => ENTITIES[ch] as string);
}

/**
 * Any text for an XML or HTML report: control and bidi characters made visible and the
 * length capped as in the terminal (util/sanitize.ts), then markup escaped. JUnit and HTML
 * print every string through it.
 */
export function xmlText(value: string, maxLength?: number): string {
  return escapeXml(sanitize(value, maxLength));
}
