/**
 * @module logs/input-thread
 * The log reader in a thread of its own: `scanLogsThreaded` reads, decompresses, splits and scans
 * the lines in a worker (logs/input-worker) while the caller's thread does its own work on the lines
 * it is handed (counting, for `logs report`). Lines arrive in the same order, with the same fields,
 * as `scanLogs` gives them (both scan with logs/parse's scanLine); the caller's callback runs in the
 * caller's thread, one line at a time.
 *
 * Why: on a machine with two cores, reading and scanning a log costs about as much as counting it;
 * side by side the report takes the longer of the two, not the sum (docs/benchmarks.md).
 *
 * What crosses between the threads, per read chunk (a batch): the chunk's text (one string, copied
 * once), and the number of a slot of shared memory where the reader wrote each line's offsets in
 * that text and its numbers (time, pid). The consumer hands the slot back with its acknowledgement.
 * (Moving typed arrays' buffers back and forth instead cost some 30 µs per message on each side.)
 * Host and program names are numbered by the reader and sent once each. The reader runs at most
 * MAX_AHEAD batches ahead of the consumer, so memory stays flat whatever the size of the log.
 *
 * The prefilter (of `logs trace`) stays with `scanLogs`. Standard input is read by the reader
 * thread from file descriptor 0 (logs/input).
 */
import { availableParallelism } from 'node:os';
import { Worker, type MessagePort } from 'node:worker_threads';
import { intern } from './strings.js';
import type { InputLine, LogInputOptions, LogInputStats } from './input.js';
import { rebuildError, type ErrorData } from './worker-job.js';

/**
 * The line handed out, refilled, when the consumer keeps no line (LogInputOptions.reuseLine). The
 * raw line is cut from the batch's text only when asked for: most consumers never look at it.
 */
class SharedLine implements InputLine {
  time = new Date(0);
  host = '';
  program = '';
  pid: number | undefined = undefined;
  queueId: string | undefined = undefined;
  text = '';
  file = '';
  lineNo = 0;
  chunk = '';
  rawStart = 0;
  rawEnd = 0;
  get raw(): string {
    return this.chunk.slice(this.rawStart, this.rawEnd);
  }
}

/** Batches the reader may send before the consumer has taken the first of them. */
export const MAX_AHEAD = 8;
/**
 * Lines one slot holds: a read chunk of ordinary log lines (100+ bytes) fits; a chunk of shorter
 * lines goes out as several batches (its text sent again with each).
 */
export const SLOT_LINES = 4096;
/** Slots: the batches in flight, and the one being filled. */
export const SLOTS = MAX_AHEAD + 1;
/** Int32 fields per line in a batch (see At). */
export const STRIDE = 10;
/** Offsets of the fields of one line in Batch.at. */
export const enum At { RawStart, RawEnd, HostStart, HostEnd, Host, ProgramStart, ProgramEnd, Program, TextStart, IdEnd }
/** Host number of a line the reader could not parse; other negative name numbers: cut the name from the line. */
export const UNPARSED = -2;

/** What the reader is asked (structured-clonable). */
export interface ReaderJob {
  readonly files: readonly string[];
  readonly since?: number;
  readonly until?: number;
  readonly now?: number;
  readonly progress: boolean;
  readonly stderrTty: boolean;
  /** Send lines that are not in log format (for onUnparsed). */
  readonly unparsed: boolean;
}

/** One read chunk's lines (or part of them: see SLOT_LINES). */
export interface Batch {
  readonly t: 'batch';
  readonly text: string;
  readonly file: string;
  readonly n: number;
  /** The slot of Slots that holds the lines' numbers; -1: they come in `own`. */
  readonly slot: number;
  /** The lines' numbers in arrays of their own (moved with the batch), when no slot was free. */
  readonly own?: { readonly at: Int32Array; readonly num: Float64Array; readonly lineNo: Int32Array };
  /** Names numbered since the last batch, in number order. */
  readonly hosts: string[];
  readonly programs: string[];
}

/** The consumer's answer to a batch: it is done with it, and its slot is free again. */
export interface Ack {
  readonly slot: number;
}

/**
 * Slots - views of one SharedArrayBuffer, which the reader sends first: per slot, STRIDE numbers
 * per line (offsets into the batch's text, name numbers: At), two per line in `num` (time in epoch
 * ms, pid or -1), and the line's number in its file.
 */
export class Slots {
  readonly at: Int32Array[] = [];
  readonly num: Float64Array[] = [];
  readonly lineNo: Int32Array[] = [];
  constructor(readonly memory: SharedArrayBuffer) {
    let off = 0;
    for (let i = 0; i < SLOTS; i++) {
      this.num.push(new Float64Array(memory, off, 2 * SLOT_LINES));
      off += 16 * SLOT_LINES;
    }
    for (let i = 0; i < SLOTS; i++) {
      this.at.push(new Int32Array(memory, off, STRIDE * SLOT_LINES));
      off += 4 * STRIDE * SLOT_LINES;
    }
    for (let i = 0; i < SLOTS; i++) {
      this.lineNo.push(new Int32Array(memory, off, SLOT_LINES));
      off += 4 * SLOT_LINES;
    }
  }
  static create(): Slots {
    return new Slots(new SharedArrayBuffer(SLOTS * SLOT_LINES * (16 + 4 * STRIDE + 4)));
  }
}

export type ReaderMessage =
  | { readonly t: 'slots'; readonly memory: SharedArrayBuffer }
  | Batch
  | { readonly t: 'done'; readonly stats: Omit<LogInputStats, 'first' | 'last'> & { first?: number; last?: number } }
  | { readonly t: 'error'; readonly error: ErrorData };

/** Heap limits of the reader (MiB): it keeps a few chunks and the name tables. */
const READER_HEAP_MB = 16;
const READER_YOUNG_MB = 4;

/** canThread - whether these inputs can be read in a thread: no prefilter, and a second CPU to run on. */
export function canThread(opts: LogInputOptions): boolean {
  return opts.prefilter === undefined && availableParallelism() >= 2;
}

/** readerJob - what the reader worker is asked, for these options. */
export function readerJob(opts: LogInputOptions): ReaderJob {
  return {
    files: opts.files,
    since: opts.since?.getTime(),
    until: opts.until?.getTime(),
    now: opts.now?.getTime(),
    progress: opts.progress === true,
    stderrTty: process.stderr.isTTY === true,
    unparsed: opts.onUnparsed !== undefined,
  };
}

/**
 * startReader - the reader worker for `job`. It talks to its parent, or over `port` when given (a
 * command's main thread starts the reader while its worker thread, which consumes the lines, is
 * still starting: see LogInputOptions.readerPort).
 */
export function startReader(job: ReaderJob, port?: MessagePort): Worker {
  return new Worker(new URL('./input-worker.js', import.meta.url), {
    workerData: { job, port },
    transferList: port ? [port] : [],
    resourceLimits: { maxOldGenerationSizeMb: READER_HEAP_MB, maxYoungGenerationSizeMb: READER_YOUNG_MB },
  });
}

/** scanLogsThreaded - scanLogs, with reading and scanning in a worker thread (see the module comment). */
export function scanLogsThreaded(opts: LogInputOptions, onLine: (l: InputLine) => void): Promise<LogInputStats> {
  // The reader's end: a worker of ours, or a port to one started for us.
  let link: Worker | MessagePort;
  let stop: () => void;
  if (opts.readerPort) {
    const port = opts.readerPort;
    link = port;
    // Without its consumer's acknowledgements the reader stops, and its thread ends.
    stop = () => port.close();
  } else {
    const worker = startReader(readerJob(opts));
    link = worker;
    stop = () => void worker.terminate();
  }
  const hosts: string[] = [];
  const programs: string[] = [];
  const { onUnparsed } = opts;
  const reuse = opts.reuseLine === true;
  let lastMs = Number.NaN;
  let lastTime = new Date(0);

  /** The line handed out when the caller lets it be reused (LogInputOptions.reuseLine). */
  const shared = new SharedLine();
  let slots: Slots | undefined;

  /** take - one batch's lines, to onLine (or onUnparsed). */
  const take = (b: Batch): void => {
    for (const h of b.hosts) hosts.push(h);
    for (const p of b.programs) programs.push(p);
    const { text, file, slot } = b;
    const at = b.own ? b.own.at : slots!.at[slot]!;
    const num = b.own ? b.own.num : slots!.num[slot]!;
    const lineNos = b.own ? b.own.lineNo : slots!.lineNo[slot]!;
    for (let i = 0; i < b.n; i++) {
      const o = i * STRIDE;
      const h = at[o + At.Host]!;
      const rawStart = at[o + At.RawStart]!;
      const rawEnd = at[o + At.RawEnd]!;
      if (h === UNPARSED) {
        onUnparsed?.(text.slice(rawStart, rawEnd), file, lineNos[i]!);
        continue;
      }
      const ms = num[2 * i]!;
      if (ms !== lastMs) {
        lastMs = ms;
        lastTime = new Date(ms);
      }
      const p = at[o + At.Program]!;
      const pid = num[2 * i + 1]!;
      const textStart = at[o + At.TextStart]!;
      const idEnd = at[o + At.IdEnd]!;
      const host = h >= 0 ? hosts[h]! : intern(text.slice(at[o + At.HostStart], at[o + At.HostEnd]));
      const program = p >= 0 ? programs[p]! : intern(text.slice(at[o + At.ProgramStart], at[o + At.ProgramEnd]));
      const queueId = idEnd < 0 ? undefined : text.slice(textStart, idEnd);
      const lineText = text.slice(textStart, rawEnd);
      const lineNo = lineNos[i]!;
      if (!reuse) {
        onLine({ time: lastTime, host, program, pid: pid < 0 ? undefined : pid, queueId, text: lineText, raw: text.slice(rawStart, rawEnd), file, lineNo });
        continue;
      }
      shared.time = lastTime;
      shared.host = host;
      shared.program = program;
      shared.pid = pid < 0 ? undefined : pid;
      shared.queueId = queueId;
      shared.text = lineText;
      shared.chunk = text;
      shared.rawStart = rawStart;
      shared.rawEnd = rawEnd;
      shared.file = file;
      shared.lineNo = lineNo;
      onLine(shared);
    }
  };

  return new Promise((resolve, reject) => {
    let stats: LogInputStats | undefined;
    let failed: Error | undefined;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (failed) reject(failed);
      else if (stats) resolve(stats);
      else reject(new Error('the log reader stopped without an answer'));
    };
    link.on('message', (m: ReaderMessage) => {
      if (failed) return;
      if (m.t === 'batch') {
        try {
          take(m);
        } catch (e) {
          // The consumer failed: stop reading.
          failed = e as Error;
          stop();
          return;
        }
        // The slot goes back to the reader, to be filled again.
        link.postMessage({ slot: m.slot } satisfies Ack);
      } else if (m.t === 'slots') {
        slots = new Slots(m.memory);
      } else if (m.t === 'done') {
        const { first, last, ...counts } = m.stats;
        // As scanLogs gives them: `first` and `last` only when a line was in range.
        stats = { ...counts, ...(first === undefined ? {} : { first: new Date(first) }), ...(last === undefined ? {} : { last: new Date(last) }) };
        // A port has no exit event: the answer is complete now.
        if (!(link instanceof Worker)) {
          link.close();
          end();
        }
      } else {
        // Rebuilt so that the CLI shows system errors (a missing file) as such.
        failed = rebuildError(m.error);
        if (!(link instanceof Worker)) {
          link.close();
          end();
        }
      }
    });
    if (link instanceof Worker) {
      link.on('error', (e) => { failed ??= e; });
      link.on('exit', end);
    } else {
      // The reader's thread ended (or failed) before it answered.
      link.on('close', end);
    }
  });
}
