/**
 * @module dnsbl/filter
 * DNSBL reply filters in Postfix's ip_match syntax (util/ip_match.c grammar): `d.d.d.d` where
 * each `d` is a number 0-255 or `[` members `]`, members separated by `;`, each a number or a
 * range `n..m`. Examples: `127.0.0.2`, `127.0.0.[2..11]`, `127.0.[0..255].[1;3;10..20]`.
 * IPv4 only, as in Postfix. A comma is never a separator (it would split the main.cf list).
 */

export type OctetRange = readonly [number, number];
export interface ReplyFilter {
  /** As written, for logs and `$rbl_domain=filter` keys. */
  readonly text: string;
  readonly octets: readonly (readonly OctetRange[])[];
}

function num(s: string, where: string): number {
  if (!/^\d{1,3}$/.test(s)) throw new Error(`bad address byte "${s}" in "${where}"`);
  const n = Number(s);
  if (n > 255) throw new Error(`address byte ${n} out of range in "${where}"`);
  return n;
}

/** parseFilter - the parsed filter, or a thrown Error with Postfix-like wording. */
export function parseFilter(text: string): ReplyFilter {
  const octets: OctetRange[][] = [];
  let i = 0;
  while (i <= text.length) {
    let part: string;
    if (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) throw new Error(`missing "]" in "${text}"`);
      part = text.slice(i + 1, close);
      const ranges: OctetRange[] = [];
      for (const m of part.split(';')) {
        const r = /^(\d+)\.\.(\d+)$/.exec(m);
        if (r) {
          const lo = num(r[1]!, text), hi = num(r[2]!, text);
          if (lo > hi) throw new Error(`bad range ${m} in "${text}"`);
          ranges.push([lo, hi]);
        } else {
          const n = num(m, text);
          ranges.push([n, n]);
        }
      }
      octets.push(ranges);
      i = close + 1;
    } else {
      const end = text.indexOf('.', i);
      part = end < 0 ? text.slice(i) : text.slice(i, end);
      const n = num(part, text);
      octets.push([[n, n]]);
      i = end < 0 ? text.length : end;
    }
    if (i >= text.length) break;
    if (text[i] !== '.') throw new Error(`unexpected "${text[i]}" in "${text}"`);
    i++;
    if (i >= text.length) throw new Error(`address ends in "." in "${text}"`);
  }
  if (octets.length !== 4) throw new Error(`need four address bytes in "${text}"`);
  return { text, octets };
}

/** matchFilter - whether an IPv4 answer address matches the filter. */
export function matchFilter(f: ReplyFilter, address: string): boolean {
  const parts = address.split('.');
  if (parts.length !== 4) return false;
  return parts.every((p, k) => {
    const n = Number(p);
    return f.octets[k]!.some(([lo, hi]) => n >= lo && n <= hi);
  });
}

/** splitListArg - `domain=filter` as Postfix splits a restriction argument (at the first "="). */
export function splitListArg(arg: string): { domain: string; filter?: ReplyFilter; filterText?: string } {
  const eq = arg.indexOf('=');
  if (eq < 0) return { domain: arg };
  const filterText = arg.slice(eq + 1);
  return { domain: arg.slice(0, eq), filter: parseFilter(filterText), filterText };
}
