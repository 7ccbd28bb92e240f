/**
 * @module logs/parse
 * Streaming reader of Postfix-format log lines (as written by syslog, journald's syslog export, or
 * Postfix's own `maillog_file`).
 *
 * Input: a plain file, a gzip file (detected by its magic bytes, not its name, so rotated
 * `maillog.2.gz` and a gzip stream on standard input both work), or standard input (`-`).
 * Each line becomes `{ time, host, program, pid, queueId?, text }`; a line that does not have
 * the `STAMP HOST PROGRAM[PID]: TEXT` shape is counted in `stats.unparsed` and skipped.
 *
 * Stamps: traditional syslog (`Jul 19 07:59:07`, local time, no year: the current year is assumed,
 * or the previous one when that would put the line more than a day in the future) and RFC 3339
 * (`2026-11-27T10:00:00.123+00:00`).
 * Queue ids: short (10-12 upper-case hex digits) and long (`enable_long_queue_ids`: 10 or more
 * characters from Postfix's base-52 alphabet, which leaves out vowels). `NOQUEUE:` lines keep
 * `queueId` undefined; their text still starts with `NOQUEUE:`.
 *
 * Memory: lines are read one at a time through readline; nothing is kept between lines.
 * XXX a single line without a newline is held whole by readline, however long it is.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

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

/** Counters of one parse; `unparsed` lines did not have the expected shape. */
export interface ParseStats {
  lines: number;
  parsed: number;
  unparsed: number;
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
 * parseLine - one log line, or undefined when it is not in the expected shape.
 * Hand-scanned rather than one big regular expression: this runs for every line of logs with
 * millions of lines, and most of a line (the text) needs no look at all here.
 */
export function parseLine(line: string, opts: ParseOptions = {}): LogLine | undefined {
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
  const host = line.slice(stampEnd + 1, hostEnd);
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
  const text = line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
  // `QUEUEID: `: ids are 6 to about 20 characters.
  const idEnd = text.indexOf(': ');
  if (idEnd >= 6 && idEnd <= 24) {
    const id = text.slice(0, idEnd);
    if (QUEUE_ID_RE.test(id)) return { time, host, program, pid, queueId: id, text };
  }
  return { time, host, program, pid, text };
}

/** gunzipIfNeeded - passes bytes through, or through gunzip when they start with gzip's magic. */
async function* gunzipIfNeeded(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value;
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    // pipeline destroys the gunzip stream with the error of either side, which ends the loop below.
    pipeline(Readable.from(all()), gunzip, () => undefined);
    for await (const chunk of gunzip) yield chunk as Buffer;
  } else {
    yield* all();
  }
}

/** openLog - a byte stream of `path`, or of standard input for `-`. */
export function openLog(path: string): Readable {
  return path === '-' ? process.stdin : createReadStream(path);
}

/** parseStream - the understood lines of a (possibly gzip) byte stream, in order. */
export async function* parseStream(input: Readable, stats: ParseStats, opts: ParseOptions = {}): AsyncGenerator<LogLine & { readonly raw: string }> {
  const rl = createInterface({ input: Readable.from(gunzipIfNeeded(input)), crlfDelay: Infinity });
  for await (const raw of rl) {
    stats.lines++;
    const parsed = parseLine(raw, opts);
    if (parsed) {
      stats.parsed++;
      yield { ...parsed, raw };
    } else {
      stats.unparsed++;
    }
  }
}

/** parseFiles - the lines of each file in turn (`-` is standard input). */
export async function* parseFiles(paths: readonly string[], stats: ParseStats, opts: ParseOptions = {}): AsyncGenerator<LogLine & { readonly file: string; readonly raw: string }> {
  for (const file of paths) {
    for await (const l of parseStream(openLog(file), stats, opts)) yield { ...l, file };
  }
}

export function newStats(): ParseStats {
  return { lines: 0, parsed: 0, unparsed: 0 };
}
