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

import { detach, intern } from './strings.js';

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


const DAY_MS = 86_400_000;

const TRADITIONAL_MINUTE_RE = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d)$/;
const RFC3339_STAMP_RE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)$/;

/**
 * Traditional stamps (`Mon DD HH:MM:SS[.frac]`, local time, no year) are read a minute at a time:
 * the epoch time of the minute (`Mon DD HH:MM`) is computed once (local-time Date arithmetic is
 * slow) and the seconds are added. Offsets from UTC change on whole minutes, so this is exact. The
 * year is the reference time's, or the year before when that would put the line more than a day
 * after the reference time (a log that spans New Year).
 */
let minuteKey = '';
let minuteNow = Number.NaN;
/** The minute in the reference year, and in the year before (computed when first needed); NaN: not a stamp. */
let minuteMs = Number.NaN;
let minuteMsBefore = Number.NaN;
let minuteParts: RegExpExecArray | undefined;

/** minuteOf - epoch ms of `Mon DD HH:MM` in `year`, or NaN. */
function minuteOf(m: RegExpExecArray, year: number): number {
  const month = MONTHS[m[1]!];
  if (month === undefined) return Number.NaN;
  return new Date(year, month, Number(m[2]), Number(m[3]), Number(m[4])).getTime();
}

/**
 * traditionalMs - epoch ms of the traditional stamp s[start, end) whose seconds start at `sec`
 * (after `HH:MM`), or NaN when it is not one.
 */
function traditionalMs(s: string, start: number, sec: number, end: number, now: number): number {
  // `:SS` or `:SS.frac`
  const d0 = s.charCodeAt(sec + 1) - 48;
  const d1 = s.charCodeAt(sec + 2) - 48;
  if (s.charCodeAt(sec) !== 58 || !(d0 >= 0 && d0 <= 9) || !(d1 >= 0 && d1 <= 9)) return Number.NaN;
  let ms = 0;
  if (end > sec + 3) {
    if (s.charCodeAt(sec + 3) !== 46 || end === sec + 4) return Number.NaN;
    for (let i = sec + 4; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return Number.NaN;
    }
    // As the Date constructor takes it: whole milliseconds, the rest cut off.
    ms = Math.trunc(Number(`0.${s.slice(sec + 4, end)}`) * 1000);
  }
  if (!(sec - start === minuteKey.length && s.startsWith(minuteKey, start) && now === minuteNow)) {
    const key = s.slice(start, sec);
    minuteKey = detach(key);
    minuteNow = now;
    minuteParts = TRADITIONAL_MINUTE_RE.exec(key) ?? undefined;
    minuteMs = minuteParts ? minuteOf(minuteParts, new Date(now).getFullYear()) : Number.NaN;
    minuteMsBefore = Number.NaN;
  }
  const into = (d0 * 10 + d1) * 1000 + ms;
  const t = minuteMs + into;
  if (!(t > now + DAY_MS)) return t;
  if (Number.isNaN(minuteMsBefore)) minuteMsBefore = minuteOf(minuteParts!, new Date(now).getFullYear() - 1);
  return minuteMsBefore + into;
}

/** RFC 3339 stamps: the last one is remembered (lines of one second share it). */
let rfcStamp = '';
let rfcMs = Number.NaN;

/** rfc3339Ms - epoch ms of the RFC 3339 stamp s[start, end), or NaN. */
function rfc3339Ms(s: string, start: number, end: number): number {
  if (end - start === rfcStamp.length && s.startsWith(rfcStamp, start)) return rfcMs;
  const stamp = s.slice(start, end);
  rfcStamp = detach(stamp);
  rfcMs = RFC3339_STAMP_RE.test(stamp) ? new Date(stamp.replace(' ', 'T')).getTime() : Number.NaN;
  return rfcMs;
}

/** find - index of `what` in s[from, end), or -1 (a line is a range of a larger string). */
function find(s: string, what: string, from: number, end: number): number {
  const i = s.indexOf(what, from);
  return i < 0 || i + what.length > end ? -1 : i;
}

const SPACE_RE = /\s/;

/** nameChars - s[start, end) has no blank (any Unicode white space) and no bracket: a program name. */
function nameChars(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 91 || c === 93 || (c >= 9 && c <= 13)) return false;
    if (c >= 128 && SPACE_RE.test(s.charAt(i))) return false;
  }
  return true;
}

/**
 * Postfix's queue ids: short ones are 6 to 12 upper-case hex digits (older versions used fewer
 * than 10); long ones (`enable_long_queue_ids`) are 10 or more characters of a base-52 alphabet
 * without vowels. HEX[c]: 1 = in the short alphabet; LONG[c]: 1 = in the long one.
 */
const HEX = new Uint8Array(128);
const LONG = new Uint8Array(128);
for (const c of '0123456789ABCDEF') HEX[c.charCodeAt(0)] = 1;
for (const c of '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz') LONG[c.charCodeAt(0)] = 1;

/** isQueueId - s[start, end) is a Postfix queue id, short or long (checked in place, without cutting the string). */
export function isQueueId(s: string, start: number, end: number): boolean {
  const n = end - start;
  if (n < 6) return false;
  let hex = n <= 12;
  let long = n >= 10;
  for (let i = start; i < end && (hex || long); i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return false;
    if (HEX[c] === 0) hex = false;
    if (LONG[c] === 0) long = false;
  }
  return hex || long;
}

/**
 * Where the parts of one line are (offsets into the string scanned), filled by scanLine. One object
 * is reused line after line: the scanner allocates nothing for a line whose stamp repeats.
 */
export interface LineFields {
  /** Epoch milliseconds of the stamp. */
  ms: number;
  hostStart: number;
  hostEnd: number;
  programStart: number;
  programEnd: number;
  /** -1: the program logged no pid. */
  pid: number;
  textStart: number;
  /** End of the queue id at the start of the text, or -1. */
  idEnd: number;
}

/** newFields - a LineFields to reuse. */
export function newFields(): LineFields {
  return { ms: 0, hostStart: 0, hostEnd: 0, programStart: 0, programEnd: 0, pid: -1, textStart: 0, idEnd: -1 };
}

/**
 * scanLine - the parts of the line s[start, end) (without its newline), into `f`; false when the
 * line does not have the log shape. Hand-scanned rather than one big regular expression: this runs
 * for every line of logs with millions of lines, and most of a line (the text) needs no look at all
 * here. It works in place, so a reader can scan a whole read chunk without cutting it into lines.
 */
export function scanLine(s: string, start: number, end: number, now: Date, f: LineFields): boolean {
  let stampEnd: number;
  let ms: number;
  const c0 = start < end ? s.charCodeAt(start) : 0;
  if (c0 >= 65 && c0 <= 90) {
    // `Mon DD HH:MM:SS[.frac] ` (the day space-padded, or not: `May 9 22:12:21`)
    const hourColon = start + 8 < end && s.charCodeAt(start + 8) === 58 ? start + 8 : start + 9 < end && s.charCodeAt(start + 9) === 58 ? start + 9 : -1;
    if (hourColon < 0) return false;
    stampEnd = hourColon + 6;
    if (stampEnd < end && s.charCodeAt(stampEnd) === 46 /* . */) stampEnd = find(s, ' ', stampEnd, end);
    if (stampEnd < 0 || stampEnd >= end || s.charCodeAt(stampEnd) !== 32) return false;
    ms = traditionalMs(s, start, hourColon + 3, stampEnd, now.getTime());
  } else if (c0 >= 48 && c0 <= 57) {
    stampEnd = find(s, ' ', start + 19, end);
    if (stampEnd < 0) return false;
    // `2026-11-27 10:00:00+00:00`: the blank after the date is part of the stamp.
    if (stampEnd === start + 10) stampEnd = find(s, ' ', start + 11, end);
    if (stampEnd < 0) return false;
    ms = rfc3339Ms(s, start, stampEnd);
  } else {
    return false;
  }
  if (Number.isNaN(ms)) return false;
  const hostEnd = find(s, ' ', stampEnd + 1, end);
  if (hostEnd <= stampEnd + 1) return false;
  // `program[pid]: text` or `program: text`; a program name has no blanks, brackets or colons.
  const colon = find(s, ':', hostEnd + 1, end);
  if (colon <= hostEnd + 1) return false;
  const tagStart = hostEnd + 1;
  let programEnd = colon;
  let pid = -1;
  const bracket = find(s, '[', tagStart, colon);
  if (bracket >= 0) {
    if (bracket === tagStart || s.charCodeAt(colon - 1) !== 93 /* ] */) return false;
    programEnd = bracket;
    if (bracket + 1 >= colon - 1) return false;
    pid = 0;
    for (let i = bracket + 1; i < colon - 1; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) return false;
      pid = pid * 10 + (c - 48);
    }
  }
  if (!nameChars(s, tagStart, programEnd)) return false;
  const textStart = colon + 1 < end && s.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
  // `QUEUEID: `: ids are 6 to about 20 characters.
  let idEnd = find(s, ': ', textStart, end);
  if (!(idEnd >= textStart + 6 && idEnd <= textStart + 24 && isQueueId(s, textStart, idEnd))) idEnd = -1;
  f.ms = ms;
  f.hostStart = stampEnd + 1;
  f.hostEnd = hostEnd;
  f.programStart = tagStart;
  f.programEnd = programEnd;
  f.pid = pid;
  f.textStart = textStart;
  f.idEnd = idEnd;
  return true;
}

let defaultNow: Date | undefined;
/**
 * Host and program names repeat on every line: they are interned (logs/strings), which also keeps a
 * kept name from pinning the read chunk it was cut from. Logs come mostly from one host, so the
 * last one is compared first.
 */
let lastHost = '';
const fields = newFields();
/** Lines of one stamp share one Date (callers must not mutate `time`). */
let lastMs = Number.NaN;
let lastTime = new Date(0);

/** parseLine - one log line, or undefined when it is not in the expected shape (see scanLine). */
export function parseLine(line: string, opts: ParseOptions = {}, file = '', lineNo = 0): ParsedLine | undefined {
  const f = fields;
  if (!scanLine(line, 0, line.length, opts.now ?? (defaultNow ??= new Date()), f)) return undefined;
  const host = f.hostEnd - f.hostStart === lastHost.length && line.startsWith(lastHost, f.hostStart)
    ? lastHost
    : (lastHost = intern(line.slice(f.hostStart, f.hostEnd)));
  const program = intern(line.slice(f.programStart, f.programEnd));
  const text = line.slice(f.textStart);
  const queueId = f.idEnd < 0 ? undefined : line.slice(f.textStart, f.idEnd);
  if (f.ms !== lastMs) {
    lastMs = f.ms;
    lastTime = new Date(f.ms);
  }
  return { time: lastTime, host, program, pid: f.pid < 0 ? undefined : f.pid, queueId, text, raw: line, file, lineNo };
}
