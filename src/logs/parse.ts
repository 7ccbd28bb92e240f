/**
 * @module logs/parse
 * One Postfix-format log line (as written by syslog, journald's syslog export, or Postfix's own
 * `maillog_file`) into `{ time, host, program, pid, queueId?, text }`; undefined when the line does
 * not have the `STAMP HOST PROGRAM[PID]: TEXT` shape. Reading files is logs/input's job.
 *
 * Stamps: traditional syslog (`Jul 19 07:59:07`, `May 9 22:12:21`, local time, no year: the
 * reference year is assumed, or the previous one when that would put the line more than a day after
 * the reference time) and RFC 3339 (`2026-11-27T10:00:00.123+00:00`).
 * Queue ids: short (6-12 upper-case hex digits) and long (`enable_long_queue_ids`: 10 or more
 * characters from Postfix's base-52 alphabet, which leaves out vowels). `NOQUEUE:` lines keep
 * `queueId` undefined; their text still starts with `NOQUEUE:`.
 */

import { intern } from './strings.js';

/** One understood log line. */
export interface LogLine {
  readonly time: Date;
  readonly host: string;
  /** As logged: `postfix/smtpd`, `postfix/submission/smtpd`, `postfix-out/qmgr`, `amavis`, … */
  readonly program: string;
  /** Undefined for programs that log no pid (`dovecot:`). */
  readonly pid: number | undefined;
  /** Set when the text starts with `QUEUEID: `. */
  readonly queueId?: string;
  /** Everything after `PROGRAM[PID]: `, queue id prefix included. */
  readonly text: string;
}

/**
 * A parsed line with the line itself and where it was read (`file` and `lineNo` as the caller
 * gave them): one object per line, all fields set at once so every line object has one shape.
 */
export interface ParsedLine extends LogLine {
  readonly raw: string;
  readonly file: string;
  readonly lineNo: number;
}

export interface ParseOptions {
  /** "Now" for year inference of traditional stamps; default: the current time. */
  readonly now?: Date;
}

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

const SHORT_ID = '[0-9A-F]{6,12}';   // Postfix's short ids: 6+ hex digits (older versions used fewer than 10)
const LONG_ID = '[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}';
/** A whole string that is a Postfix queue id (short or long form). */
export const QUEUE_ID_RE = new RegExp(`^(?:${SHORT_ID}|${LONG_ID})$`);


const DAY_MS = 86_400_000;

/** traditionalTime - a syslog stamp without a year, placed in the year that is not in the future. */
function traditionalTime(m: RegExpExecArray, now: Date): Date | undefined {
  const month = MONTHS[m[1]!];
  if (month === undefined) return undefined;
  const ms = m[6] ? Number(`0.${m[6]}`) * 1000 : 0;
  const at = (year: number): Date =>
    new Date(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), ms);
  const t = at(now.getFullYear());
  return t.getTime() > now.getTime() + DAY_MS ? at(now.getFullYear() - 1) : t;
}

/**
 * Stamp cache: consecutive lines mostly share their stamp (or a few), so the Date of the last stamp
 * is reused. Callers must not mutate `time`.
 */
let cachedStamp = '';
let cachedNow = 0;
let cachedTime: Date | undefined;

/** stampTime - the Date of a stamp string (traditional or RFC 3339), cached. */
function stampTime(stamp: string, traditional: boolean, now: Date): Date | undefined {
  if (stamp === cachedStamp && now.getTime() === cachedNow) return cachedTime;
  let t: Date | undefined;
  if (traditional) {
    const m = TRADITIONAL_STAMP_RE.exec(stamp);
    t = m ? traditionalTime(m, now) : undefined;
  } else {
    t = new Date(stamp.replace(' ', 'T'));
  }
  if (t && Number.isNaN(t.getTime())) t = undefined;
  cachedStamp = stamp;
  cachedNow = now.getTime();
  cachedTime = t;
  return t;
}

const TRADITIONAL_STAMP_RE = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?$/;
const RFC3339_STAMP_RE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)$/;
let defaultNow: Date | undefined;
/**
 * Host and program names repeat on every line: they are interned (logs/strings), which also keeps a
 * kept name from pinning the read chunk it was cut from. Logs come mostly from one host, so the
 * last one is compared first.
 */
let lastHost = '';

/**
 * parseLine - one log line, or undefined when it is not in the expected shape.
 * Hand-scanned rather than one big regular expression: this runs for every line of logs with
 * millions of lines, and most of a line (the text) needs no look at all here.
 */
export function parseLine(line: string, opts: ParseOptions = {}, file = '', lineNo = 0): ParsedLine | undefined {
  const now = opts.now ?? (defaultNow ??= new Date());
  let stampEnd: number;
  let traditional: boolean;
  const c0 = line.charCodeAt(0);
  if (c0 >= 65 && c0 <= 90) {
    // `Mon DD HH:MM:SS[.frac] ` (the day space-padded, or not: `May 9 22:12:21`)
    traditional = true;
    const hourColon = line.charCodeAt(8) === 58 ? 8 : line.charCodeAt(9) === 58 ? 9 : -1;
    if (hourColon < 0) return undefined;
    stampEnd = hourColon + 6;
    if (line.charCodeAt(stampEnd) === 46 /* . */) stampEnd = line.indexOf(' ', stampEnd);
    if (stampEnd < 0 || line.charCodeAt(stampEnd) !== 32) return undefined;
  } else if (c0 >= 48 && c0 <= 57) {
    traditional = false;
    stampEnd = line.indexOf(' ', 19);
    if (stampEnd < 0) return undefined;
    // `2026-11-27 10:00:00+00:00`: the blank after the date is part of the stamp.
    if (stampEnd === 10) stampEnd = line.indexOf(' ', 11);
    if (stampEnd < 0 || !RFC3339_STAMP_RE.test(line.slice(0, stampEnd))) return undefined;
  } else {
    return undefined;
  }
  const time = stampTime(line.slice(0, stampEnd), traditional, now);
  if (!time) return undefined;
  const hostEnd = line.indexOf(' ', stampEnd + 1);
  if (hostEnd <= stampEnd + 1) return undefined;
  const host = hostEnd - stampEnd - 1 === lastHost.length && line.startsWith(lastHost, stampEnd + 1)
    ? lastHost
    : (lastHost = intern(line.slice(stampEnd + 1, hostEnd)));
  // `program[pid]: text` or `program: text`; a program name has no blanks, brackets or colons.
  const colon = line.indexOf(':', hostEnd + 1);
  if (colon <= hostEnd + 1) return undefined;
  const tag = line.slice(hostEnd + 1, colon);
  let program = tag;
  let pid: number | undefined;
  const bracket = tag.indexOf('[');
  if (bracket >= 0) {
    if (bracket === 0 || tag.charCodeAt(tag.length - 1) !== 93 /* ] */) return undefined;
    program = tag.slice(0, bracket);
    const digits = tag.slice(bracket + 1, -1);
    if (!/^\d+$/.test(digits)) return undefined;
    pid = Number(digits);
  }
  if (/[\s[\]]/.test(program)) return undefined;
  program = intern(program);
  const text = line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
  // `QUEUEID: `: ids are 6 to about 20 characters.
  const idEnd = text.indexOf(': ');
  if (idEnd >= 6 && idEnd <= 24) {
    const id = text.slice(0, idEnd);
    if (QUEUE_ID_RE.test(id)) return { time, host, program, pid, queueId: id, text, raw: line, file, lineNo };
  }
  return { time, host, program, pid, queueId: undefined, text, raw: line, file, lineNo };
}
