/**
 * @module logs/detect/lines
 * Parts of Postfix log lines that several detectors read: reject lines (smtpd, postscreen) and
 * the `name=<value>` fields at their end.
 */
import { clientAt } from './net.js';

/** A reject line cut into its parts. */
export interface ParsedReject {
  readonly name: string;
  readonly ip: string;
  readonly code: number;
  readonly reply: string;
  readonly sender?: string;
  readonly recipient?: string;
  readonly helo?: string;
}

/** field - the value of `name<…>` (e.g. `from=<`) in `text`, from `from` on; undefined if absent. */
export function field(text: string, name: string, from = 0): string | undefined {
  const i = text.indexOf(name, from);
  if (i < 0) return undefined;
  const end = text.indexOf('>', i + name.length);
  return end < 0 ? undefined : text.slice(i + name.length, end);
}

/**
 * parseReject - `STAGE from NAME[IP]: CODE X.Y.Z TEXT; from=<S> to=<R> proto=P helo=<H>` from
 * `at` (postscreen writes `[IP]:PORT` and separates the tail fields with commas).
 */
export function parseReject(x: string, at: number): ParsedReject | undefined {
  const fromIdx = x.indexOf(' from ', at);
  if (fromIdx < 0) return undefined;
  const c = clientAt(x, fromIdx + 6);
  if (!c) return undefined;
  let i = c.end;
  if (x.charCodeAt(i) === 58 && x.charCodeAt(i + 1) !== 32) {
    i++;
    while (x.charCodeAt(i) >= 48 && x.charCodeAt(i) <= 57) i++;
  }
  if (x.charCodeAt(i) !== 58) return undefined;
  i += 2;
  const code = Number(x.slice(i, i + 3));
  if (!(code >= 200 && code < 600)) return undefined;
  let rest = x.slice(i + 4);
  const dsn = /^[245]\.\d{1,3}\.\d{1,3} /.exec(rest);
  if (dsn) rest = rest.slice(dsn[0].length);
  const semi = rest.indexOf('; from=<');
  const reply = semi >= 0 ? rest.slice(0, semi) : rest;
  const tail = semi >= 0 ? rest.slice(semi) : '';
  return {
    name: c.name, ip: c.ip, code, reply,
    sender: field(tail, 'from=<'), recipient: field(tail, 'to=<') || undefined, helo: field(tail, 'helo=<') || undefined,
  };
}

