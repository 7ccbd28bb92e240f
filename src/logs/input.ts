/**
 * @module logs/input
 * The one way `mxguard logs` commands read their input: files (plain or gzip) or standard input,
 * split into lines, parsed, filtered by time, and handed to a callback one line at a time.
 *
 * Why a callback rather than an async iterator: an `await` per line costs more than parsing the
 * line; reports over millions of lines go through here.
 *
 * - Files are read in the order of their first stamp, whatever order they are named in, so
 *   `mail.log mail.log.1 mail.log.2.gz` reads oldest first (standard input stays where it is).
 * - Traditional syslog stamps have no year: each file's year is inferred against its modification
 *   time (the time of its last line, for a rotated log), standard input's against the clock.
 * - `since`/`until` keep lines with since <= time < until; lines outside are counted in `outside`.
 * - Lines without the log shape are counted in `unparsed` and passed to `onUnparsed` (for --strict).
 * - A progress bar is drawn on standard error when it is a terminal and `progress` is set; it is
 *   erased when reading ends.
 * - Memory: one read chunk (120 KiB) and the line being parsed; nothing is kept between lines.
 * - With `thread`, files are read and scanned in a second thread (logs/input-thread): same lines,
 *   same counters, and the caller's thread is free for its own work on them.
 */
import { createReadStream, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { isMainThread, type MessagePort } from 'node:worker_threads';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, gunzipSync } from 'node:zlib';
import { canThread, scanLogsThreaded } from './input-thread.js';
import { parseLine, type ParsedLine } from './parse.js';

/** A parsed line with where it came from. */
export interface InputLine extends ParsedLine {
  /** 1-based line number in its file. */
  readonly lineNo: number;
}

export interface LogInputOptions {
  /** Paths; `-` is standard input. Empty means standard input. */
  readonly files: readonly string[];
  /** Inclusive lower bound on line time. */
  readonly since?: Date;
  /** Exclusive upper bound on line time. */
  readonly until?: Date;
  /** Reference "now" for year inference of every input (tests); default per file as above. */
  readonly now?: Date;
  /** Draw a progress bar on standard error if it is a terminal. */
  readonly progress?: boolean;
  /**
   * Cheap test on the raw line before it is parsed; false skips the line (counted as `skipped`).
   * `now` is the year reference for parsing the line later with parseLine.
   */
  readonly prefilter?: (raw: string, file: string, lineNo: number, now: Date) => boolean;
  /**
   * Read and scan the files in a thread of their own (logs/input-thread) where that is possible;
   * the lines and counters are the same.
   */
  readonly thread?: boolean;
  /**
   * The caller keeps no line object past its callback (it copies what it keeps): the threaded reader
   * may then hand out one object, refilled line after line, instead of a new one per line.
   */
  readonly reuseLine?: boolean;
  /**
   * A reader thread already started for these options (logs/input-thread's startReader), posting
   * to this port: the command's main thread starts it while the thread that counts is starting.
   */
  readonly readerPort?: MessagePort;
  /** Called with each line that is not in log format. */
  readonly onUnparsed?: (raw: string, file: string, lineNo: number) => void;
}

export interface LogInputStats {
  lines: number;
  parsed: number;
  unparsed: number;
  /** Parsed lines outside since/until. */
  outside: number;
  /** Lines the prefilter dropped before parsing. */
  skipped: number;
  bytes: number;
  files: string[];
  /** Time of the first and last line inside the range. */
  first?: Date;
  last?: Date;
}

/**
 * Bytes read at a time. Kept under V8's largest regular heap object (128 KiB): a longer string
 * goes to the large-object space, where each one costs its own mapping and a full collection to
 * free. Decoding 256 KiB chunks ran at about 1 GB/s, 120 KiB chunks at 7 GB/s; the string that
 * carries a chunk to the counting thread (input-thread.ts) is rebuilt there, with the same gain.
 */
const CHUNK = 120 * 1024;
const MAX_LINE = 1 << 20;

/**
 * peek - whether a file is gzip (by its magic bytes), and the time of the first parsable line among
 * its first 64 KiB, for reading files oldest first (infinity when there is none).
 */
async function peek(path: string, now: Date): Promise<{ gzip: boolean; first: number }> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const b = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    head = b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (gzip) {
    try {
      head = gunzipSync(head, { finishFlush: 2 /* Z_SYNC_FLUSH: a truncated stream is fine */ }).subarray(0, 65536);
    } catch {
      return { gzip, first: Number.POSITIVE_INFINITY };
    }
  }
  for (const line of head.toString('utf8').split('\n', 200)) {
    const l = parseLine(line, { now });
    if (l) return { gzip, first: l.time.getTime() };
  }
  return { gzip, first: Number.POSITIVE_INFINITY };
}

export interface Source {
  readonly name: string;
  readonly now: Date;
  readonly size: number;
  readonly gzip: boolean;
}

/** sources - the inputs in reading order, with their year reference and size. */
export async function sources(opts: LogInputOptions): Promise<Source[]> {
  const names = opts.files.length > 0 ? opts.files : ['-'];
  const out: Array<Source & { first: number; index: number }> = [];
  for (const [index, name] of names.entries()) {
    if (name === '-') {
      out.push({ name, now: opts.now ?? new Date(), size: 0, gzip: false, first: Number.NEGATIVE_INFINITY, index });
      continue;
    }
    const st = statSync(name); // throws ENOENT with the path: reported by the CLI
    if (!st.isFile()) {
      // Told as a system error (one line, no stack trace): the administrator named a directory or a device.
      throw Object.assign(new Error(`${name}: not a regular file`), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL', syscall: 'read', path: name });
    }
    const now = opts.now ?? st.mtime;
    out.push({ name, now, size: st.size, ...(await peek(name, now)), index });
  }
  // Standard input keeps its place; files are ordered by their first line's time.
  if (!names.includes('-')) out.sort((a, b) => a.first - b.first || a.index - b.index);
  return out;
}

/** Progress bar on standard error: bytes read of the total, redrawn at most 5 times a second. */
export class Progress {
  private lastDraw = 0;
  private drawn = false;
  constructor(private readonly total: number, private readonly enabled: boolean) {}
  update(bytes: number, lines: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, bytes / this.total) : 0;
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const pct = this.total > 0 ? `${Math.floor(frac * 100)}%`.padStart(4) : '';
    process.stderr.write(`\r[${bar}] ${pct} ${(bytes / 1e6).toFixed(1)} MB ${lines.toLocaleString('en-US')} lines `);
    this.drawn = true;
  }
  done(): void {
    if (this.drawn) process.stderr.write('\r\x1b[K');
  }
}

/**
 * The reader's view of one line: s[start, end) (without its CR LF) is line `lineNo` of `src`. The
 * line is not cut out of the read chunk: a consumer that needs it as a string slices it.
 */
export type LineVisitor = (s: string, start: number, end: number, src: Source, lineNo: number) => void;

/**
 * readLines - every line of every source, in order, to `visit`; `afterChunk` (if any) is awaited
 * after each read chunk (the threaded reader waits there for its consumer). Counts `lines` and
 * `bytes` in `stats`, and appends each source's name to `stats.files`.
 */
export async function readLines(
  srcs: readonly Source[], stats: LogInputStats, progress: Progress, visit: LineVisitor, afterChunk?: () => Promise<void> | void,
): Promise<void> {
  for (const src of srcs) {
    stats.files.push(src.name);
    const raw: Readable = src.name === '-' ? standardInput() : createReadStream(src.name, { highWaterMark: CHUNK });
    raw.on('data', (b: Buffer) => { stats.bytes += b.length; });
    const input = await maybeGunzip(raw, src);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let lineNo = 0;
    let skipToNewline = false;
    const line = (s: string, start: number, end: number): void => {
      lineNo++;
      stats.lines++;
      if (end > start && s.charCodeAt(end - 1) === 13) end--; // CRLF
      visit(s, start, end, src, lineNo);
    };
    for await (const chunk of input) {
      let str = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
      let start = 0;
      if (skipToNewline) {
        const nl = str.indexOf('\n');
        if (nl < 0) continue;
        str = str.slice(nl + 1);
        skipToNewline = false;
      }
      for (;;) {
        const nl = str.indexOf('\n', start);
        if (nl < 0) break;
        line(str, start, nl);
        start = nl + 1;
      }
      rest = str.slice(start);
      if (rest.length > MAX_LINE) {
        // A "line" of more than 1 MiB is not a log line (a binary file, a missing newline):
        // counted as not understood, and dropped so memory stays flat.
        const head = rest.slice(0, 300);
        line(head, 0, head.length);
        rest = '';
        skipToNewline = true;
      }
      progress.update(stats.bytes, stats.lines);
      if (afterChunk) await afterChunk();
    }
    rest += decoder.end();
    if (rest.length > 0 && !skipToNewline) line(rest, 0, rest.length);
  }
}

/**
 * standardInput - the process's standard input as a stream. A worker thread reads file descriptor 0
 * itself (fds belong to the process): nothing passes through the main thread, which would
 * otherwise copy every chunk across and keep the copies until it next collects garbage.
 */
function standardInput(): Readable {
  return isMainThread ? process.stdin : createReadStream('', { fd: 0, autoClose: false, highWaterMark: CHUNK });
}

/** newStats - counters at zero. */
export function newStats(): LogInputStats {
  return { lines: 0, parsed: 0, unparsed: 0, outside: 0, skipped: 0, bytes: 0, files: [] };
}

/** scanLogs - reads every input once and calls `onLine` for each parsed line inside the range. */
export async function scanLogs(opts: LogInputOptions, onLine: (l: InputLine) => void): Promise<LogInputStats> {
  if (opts.readerPort || (opts.thread === true && canThread(opts))) return scanLogsThreaded(opts, onLine);
  const stats = newStats();
  const srcs = await sources(opts);
  const progress = new Progress(srcs.reduce((n, s) => n + s.size, 0), opts.progress === true && process.stderr.isTTY === true);
  const since = opts.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = opts.until?.getTime() ?? Number.POSITIVE_INFINITY;
  const { prefilter, onUnparsed } = opts;
  let parseOpts = { now: new Date(0) };
  const visit: LineVisitor = (s, start, end, src, lineNo) => {
    const line = s.slice(start, end);
    if (prefilter && !prefilter(line, src.name, lineNo, src.now)) {
      stats.skipped++;
      return;
    }
    if (parseOpts.now !== src.now) parseOpts = { now: src.now };
    const l = parseLine(line, parseOpts, src.name, lineNo);
    if (!l) {
      stats.unparsed++;
      if (onUnparsed && line.length > 0) onUnparsed(line, src.name, lineNo);
      return;
    }
    stats.parsed++;
    const t = l.time.getTime();
    if (t < since || t >= until) {
      stats.outside++;
      return;
    }
    if (!stats.first || t < stats.first.getTime()) stats.first = l.time;
    if (!stats.last || t > stats.last.getTime()) stats.last = l.time;
    onLine(l);
  };
  try {
    await readLines(srcs, stats, progress, visit);
  } finally {
    progress.done();
  }
  return stats;
}

/** maybeGunzip - the stream itself, or its gunzipped form (files: known in advance; stdin: sniffed). */
async function maybeGunzip(raw: Readable, src: Source): Promise<AsyncIterable<Buffer>> {
  if (src.name !== '-') return src.gzip ? raw.pipe(createGunzip()) : raw;
  // Standard input: look at the first chunk.
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  async function* all(): AsyncGenerator<Buffer> {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }
  if (!first.done && first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b) {
    return Readable.from(all()).pipe(createGunzip());
  }
  return all();
}

const DAY_MS = 86_400_000;

/** dayRange - `today` or `yesterday` as [start, end) in local time (pflogsumm's -d). */
export function dayRange(which: 'today' | 'yesterday', now = new Date()): { since: Date; until: Date } {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (which === 'yesterday' ? 1 : 0));
  const until = new Date(start.getFullYear(), start.getMonth(), start.getDate() + 1);
  return { since: start, until };
}

/**
 * parseTimeOption - a --since/--until value: an ISO date or date-time (`2026-11-27`,
 * `2026-11-27T10:00`, local time unless it has a zone), or a relative `-2h`, `-30m`, `-7d`.
 */
export function parseTimeOption(value: string, now = new Date()): Date {
  const rel = /^-(\d+)([smhd])$/.exec(value.trim());
  if (rel) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?$/.exec(value.trim());
  if (m) {
    return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  }
  const t = new Date(value);
  if (/^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(t.getTime())) return t;
  throw new Error(`bad time "${value}": use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][zone], or -N{s,m,h,d}`);
}
