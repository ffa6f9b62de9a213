/**
 * Making text storable in PostgreSQL, and measuring it the way PostgreSQL
 * does (in UTF-8 bytes, not UTF-16 code units).
 */

/**
 * Text and jsonb cannot hold U+0000, and jsonb rejects lone UTF-16
 * surrogates (which invalid UTF-8 on the wire can decode to). Both become
 * U+FFFD, as a UTF-8 decoder would do.
 */
export function clean(s: string): string {
  if (!s.isWellFormed()) s = s.toWellFormed();
  if (s.includes('\0')) s = s.replaceAll('\0', '\uFFFD');
  return s;
}

/** `clean` applied to every string (keys included) of a parsed JSON value, before it is stored as jsonb. */
export function cleanDeep(v: unknown): unknown {
  if (typeof v === 'string') return clean(v);
  if (Array.isArray(v)) return v.map(cleanDeep);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [clean(k), cleanDeep(x)]));
  return v;
}

/** Whether `s` takes at most `max` bytes in UTF-8, without encoding it when its length alone decides. */
export function fitsUtf8(s: string, max: number): boolean {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes.
  if (s.length > max) return false;
  if (s.length * 3 <= max) return true;
  return Buffer.byteLength(s, 'utf8') <= max;
}

/** The first `n` characters of `s` (code points, as PostgreSQL's left() counts them, not UTF-16 code units). */
export function leftChars(s: string, n: number): string {
  if (s.length <= n) return s;
  let i = 0;
  for (let count = 0; count < n && i < s.length; count++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return s.slice(0, i);
}
