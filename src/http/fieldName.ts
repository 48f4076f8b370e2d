/**
 * Whether a header field name is `lower` (lowercase ASCII) in any case: `name.toLowerCase() ===
 * lower` without the lowercased copy, which every response made for each field of the same
 * length as each name looked up. Outside ASCII it asks toLowerCase itself (U+212A KELVIN SIGN
 * lowercases to `k`).
 */
export function isFieldName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const l = lower.charCodeAt(i);
    if (c === l || (c >= 0x41 && c <= 0x5a && c + 0x20 === l)) continue;
    return c > 0x7f && name.toLowerCase() === lower;
  }
  return true;
}
