/**
 * @module logs/strings
 * Strings kept from log lines, for every `logs` command.
 *
 * V8 cuts substrings of 13 or more characters as views of their parent. The log reader's lines are
 * views of a read chunk, so a line (or an address cut from one) kept in a map would keep the whole
 * chunk alive: whatever is kept past its line goes through `detach` (or `intern`) once, when it is
 * first stored.
 */

/**
 * detach - `s` with storage of its own. Concatenating forces a flat copy (`' ' + s` is flattened
 * when sliced), and the slice after the blank points into that copy, not into the read chunk: a
 * lossless copy (lone surrogates included) about three times as fast as a JSON or UTF-8 round
 * trip. V8 copies strings shorter than 13 characters anyway.
 */
export function detach(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

const INTERN_CAP = 10_000;
const interned = new Map<string, string>();

/**
 * intern - one shared, detached copy of a string that many lines repeat (a host or program name, a
 * reject reason). At most INTERN_CAP strings are shared; past that, each call makes a plain copy.
 */
export function intern(s: string): string {
  const have = interned.get(s);
  if (have !== undefined) return have;
  const own = detach(s);
  if (interned.size < INTERN_CAP) interned.set(own, own);
  return own;
}

/** hashRange - FNV-1a over the UTF-16 code units of `s.slice(start, end)` (without cutting it), then a murmur-style finaliser for well-spread bits. */
export function hashRange(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** hash32 - hashRange of the whole string. */
export function hash32(s: string): number {
  return hashRange(s, 0, s.length);
}
