// Precompiled once: most strings contain no surrogate at all, and a single regex scan is
// much cheaper than walking char codes in JS for them.
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/**
 * True when `s` contains a UTF-16 surrogate that is not part of a high/low pair, i.e. the
 * string has no UTF-8 encoding and would be silently replaced by U+FFFD when encoded.
 */
export function hasLoneSurrogate(s: string): boolean {
  if (!ANY_SURROGATE.test(s)) return false;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return true;
  }
  return false;
}
