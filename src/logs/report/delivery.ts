/**
 * @module logs/report/delivery
 * The fields of a delivery agent's line, `to=<ADDR>, [orig_to=<…>, ]relay=RELAY, [conn_use=N, ]
 * delay=D, [delays=a/b/c/d, ][dsn=X.Y.Z, ]status=STATUS (TEXT)` — the shape pflogsumm's pattern
 * requires — cut by hand: about 110 000 such lines per million, and the pattern's match array and
 * its five captured strings were a good part of the report's garbage. Only the address is cut out
 * as a string; the rest are positions into the line. A line that does not follow the shape exactly
 * goes through pflogsumm's pattern itself (`parseDeliveryRe`), which also searches later in the line.
 */

/** Positions of one delivery line's fields in its text. */
export interface Delivery {
  addr: string;
  relayStart: number;
  relayEnd: number;
  delay: number;
  statusStart: number;
  statusEnd: number;
}

const TO_RE = /to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+), (?:conn_use=[^,]+, )?delay=([^,]+), (?:delays=[^,]+, )?(?:dsn=[^,]+, )?status=(\S+)(.*)$/g;

/** `NAME=` then a non-empty value up to `, ` at `i`: the index after the `, `, or -1. */
function field(text: string, i: number, name: string): number {
  if (!text.startsWith(name, i)) return -1;
  const v = i + name.length;
  const comma = text.indexOf(',', v);
  return comma > v && text.charCodeAt(comma + 1) === 32 ? comma + 2 : -1;
}

/**
 * decimal - the non-negative decimal number written in text[a, b) (NaN when empty): digits as an
 * integer divided by a power of ten, which rounds exactly as Number() does for short numbers.
 */
function decimal(text: string, a: number, b: number): number {
  if (b - a > 15) return Number(text.slice(a, b));
  let n = 0;
  let div = 0;
  let digits = 0;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */ && div === 0) div = 1;
    else if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
      if (div) div *= 10;
    } else return Number(text.slice(a, b));
  }
  return digits ? (div > 1 ? n / div : n) : Number(text.slice(a, b));
}

/**
 * parseDelivery - the delivery fields of `text` (whose first `to=<` is at `at`), or undefined
 * when it has none. `out` is reused between lines.
 */
export function parseDelivery(text: string, at: number, out: Delivery): Delivery | undefined {
  const addrEnd = text.indexOf('>', at + 4);
  let i = addrEnd < 0 || text.charCodeAt(addrEnd + 1) !== 44 || text.charCodeAt(addrEnd + 2) !== 32 ? -1 : addrEnd + 3;
  if (i > 0 && text.startsWith('orig_to=<', i)) {
    const e = text.indexOf('>', i + 9);
    i = e < 0 || text.charCodeAt(e + 1) !== 44 || text.charCodeAt(e + 2) !== 32 ? -1 : e + 3;
  }
  const relayStart = i + 6;
  if (i > 0) i = field(text, i, 'relay=');
  const relayEnd = i - 2;
  if (i > 0 && text.startsWith('conn_use=', i)) i = field(text, i, 'conn_use=');
  const delayStart = i + 6;
  if (i > 0) i = field(text, i, 'delay=');
  const delayEnd = i - 2;
  if (i > 0 && text.startsWith('delays=', i)) i = field(text, i, 'delays=');
  if (i > 0 && text.startsWith('dsn=', i)) i = field(text, i, 'dsn=');
  if (i > 0 && text.startsWith('status=', i)) {
    const s = i + 7;
    let e = s;
    while (e < text.length) {
      const c = text.charCodeAt(e);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11) break;
      e++;
    }
    if (e > s) {
      out.addr = text.slice(at + 4, addrEnd);
      out.relayStart = relayStart;
      out.relayEnd = relayEnd;
      out.delay = decimal(text, delayStart, delayEnd);
      out.statusStart = s;
      out.statusEnd = e;
      return out;
    }
  }
  return parseDeliveryRe(text, at, out);
}

/** parseDeliveryRe - the same with pflogsumm's pattern (searching from `at` on). */
export function parseDeliveryRe(text: string, at: number, out: Delivery): Delivery | undefined {
  TO_RE.lastIndex = at;
  const m = TO_RE.exec(text);
  if (!m) return undefined;
  // Positions of the captures: the pattern's fixed words make them computable from the match.
  out.addr = m[1]!;
  out.relayStart = text.indexOf(`relay=${m[2]}`, m.index) + 6;
  out.relayEnd = out.relayStart + m[2]!.length;
  out.delay = Number(m[3]);
  out.statusEnd = text.length - m[5]!.length;
  out.statusStart = out.statusEnd - m[4]!.length;
  return out;
}
