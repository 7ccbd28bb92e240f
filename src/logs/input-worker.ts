/**
 * @module logs/input-worker
 * The reading side of logs/input-thread: reads the files (logs/input's readLines), scans each line
 * in place (logs/parse's scanLine) and posts each read chunk's lines as one batch (their numbers in
 * a slot of shared memory), at most MAX_AHEAD batches ahead of the consumer's acknowledgements.
 * Counts lines as scanLogs does, draws the progress bar, and posts the counters at the end (or the
 * error that stopped it).
 */
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Progress, newStats, readLines, sources, type LineVisitor, type LogInputStats } from './input.js';
import { At, SLOTS, SLOT_LINES, STRIDE, Slots, UNPARSED, type Ack, type Batch, type ReaderJob, type ReaderMessage } from './input-thread.js';
import { newFields, scanLine } from './parse.js';
import { detach } from './strings.js';
import { errorData, inheritStderrTty } from './worker-job.js';

/** Names numbered at most; past that, the consumer cuts them from the line itself. */
const NAME_CAP = 10_000;
/** Names compared in place before the table is asked. */
const COMMON = 16;

/**
 * Numbers for host or program names, each sent to the consumer once. A log has a handful of each,
 * so the names are first compared in place, without cutting them out of the line.
 */
class Names {
  private readonly ids = new Map<string, number>();
  /** The first names numbered, for the in-place comparison. */
  private readonly common: string[] = [];
  fresh: string[] = [];
  /** id - the number of the name s[start, end), or -1 when the table is full. */
  id(s: string, start: number, end: number): number {
    const len = end - start;
    const common = this.common;
    for (let i = 0; i < common.length; i++) {
      const c = common[i]!;
      if (c.length === len && s.startsWith(c, start)) return i;
    }
    const name = s.slice(start, end);
    let id = this.ids.get(name);
    if (id === undefined) {
      if (this.ids.size >= NAME_CAP) return -1;
      id = this.ids.size;
      const own = detach(name);
      this.ids.set(own, id);
      this.fresh.push(own);
      if (common.length < COMMON && common.length === id) common.push(own);
    }
    return id;
  }
}

/**
 * read - the whole job; resolves with the counters once every batch is posted (the consumer takes
 * them in order, and the counters after them).
 */
async function read(job: ReaderJob, port: MessagePort): Promise<LogInputStats> {
  inheritStderrTty(job.stderrTty);
  const stats = newStats();
  const srcs = await sources({ files: job.files, now: job.now === undefined ? undefined : new Date(job.now) });
  const progress = new Progress(srcs.reduce((n, s) => n + s.size, 0), job.progress && process.stderr.isTTY === true);
  const since = job.since ?? Number.NEGATIVE_INFINITY;
  const until = job.until ?? Number.POSITIVE_INFINITY;
  const hosts = new Names();
  const programs = new Names();
  const f = newFields();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;

  // The batch being filled: lines of one string of one file, in slot `slotNo` of the shared memory
  // (-1: in arrays of its own, see flush).
  const slots = Slots.create();
  port.postMessage({ t: 'slots', memory: slots.memory } satisfies ReaderMessage);
  /** Slots not in flight, besides the one being filled. */
  const free: number[] = [];
  for (let i = 1; i < SLOTS; i++) free.push(i);
  let slotNo = 0;
  let at = slots.at[0]!;
  let num = slots.num[0]!;
  let lineNo = slots.lineNo[0]!;
  let text = '';
  let file = '';
  let n = 0;
  let wake: (() => void) | undefined;
  port.on('message', (m: Ack) => {
    if (m.slot >= 0) free.push(m.slot);
    wake?.();
  });

  /** After a read chunk: its lines go out, and the next chunk waits for a free slot. */
  const pace = async (): Promise<void> => {
    flush();
    while (free.length === 0) await new Promise<void>((r) => { wake = r; });
    wake = undefined;
    // The batch being filled had no slot (see flush): it takes this one.
    if (slotNo < 0 && n === 0) {
      slotNo = free.pop()!;
      at = slots.at[slotNo]!;
      num = slots.num[slotNo]!;
      lineNo = slots.lineNo[slotNo]!;
    }
  };
  const flush = (): void => {
    if (n === 0) return;
    const batch: Batch = { t: 'batch', text, file, n, slot: slotNo, hosts: hosts.fresh, programs: programs.fresh };
    if (slotNo >= 0) port.postMessage(batch);
    else port.postMessage({ ...batch, own: { at, num, lineNo } }, [at.buffer as ArrayBuffer, num.buffer as ArrayBuffer, lineNo.buffer as ArrayBuffer]);
    hosts.fresh = [];
    programs.fresh = [];
    n = 0;
    // pace() waits for a free slot before each read chunk. A chunk of more than SLOT_LINES lines
    // (lines of a few bytes) may find none in its middle, where the reader cannot wait: its next
    // lines go in arrays of their own, moved to the consumer with the batch. A chunk of 120 KiB
    // holds at most 15 slots' worth of lines, so what is in flight stays bounded.
    const next = free.pop();
    slotNo = next ?? -1;
    at = next === undefined ? new Int32Array(STRIDE * SLOT_LINES) : slots.at[next]!;
    num = next === undefined ? new Float64Array(2 * SLOT_LINES) : slots.num[next]!;
    lineNo = next === undefined ? new Int32Array(SLOT_LINES) : slots.lineNo[next]!;
  };
  /** slot - room for one more line in the batch of string `s`; its index. */
  const slot = (s: string, name: string): number => {
    if (s !== text || name !== file || n === SLOT_LINES) {
      flush();
      text = s;
      file = name;
    }
    return n++;
  };

  const visit: LineVisitor = (s, start, end, src, no) => {
    if (!scanLine(s, start, end, src.now, f)) {
      stats.unparsed++;
      if (!job.unparsed || end === start) return;
      const i = slot(s, src.name);
      const o = i * STRIDE;
      at[o + At.RawStart] = start;
      at[o + At.RawEnd] = end;
      at[o + At.Host] = UNPARSED;
      lineNo[i] = no;
      return;
    }
    stats.parsed++;
    const t = f.ms;
    if (t < since || t >= until) {
      stats.outside++;
      return;
    }
    if (t < first) first = t;
    if (t > last) last = t;
    const i = slot(s, src.name);
    const o = i * STRIDE;
    at[o + At.RawStart] = start;
    at[o + At.RawEnd] = end;
    at[o + At.HostStart] = f.hostStart;
    at[o + At.HostEnd] = f.hostEnd;
    at[o + At.Host] = hosts.id(s, f.hostStart, f.hostEnd);
    at[o + At.ProgramStart] = f.programStart;
    at[o + At.ProgramEnd] = f.programEnd;
    at[o + At.Program] = programs.id(s, f.programStart, f.programEnd);
    at[o + At.TextStart] = f.textStart;
    at[o + At.IdEnd] = f.idEnd;
    num[2 * i] = t;
    num[2 * i + 1] = f.pid;
    lineNo[i] = no;
  };
  try {
    await readLines(srcs, stats, progress, visit, pace);
    await pace();
  } finally {
    progress.done();
  }
  if (first <= last) {
    stats.first = new Date(first);
    stats.last = new Date(last);
  }
  return stats;
}

if (!isMainThread && parentPort) {
  const data = workerData as { job: ReaderJob; port?: MessagePort };
  const port = data.port ?? parentPort;
  read(data.job, port).then(
    (stats) => {
      const { first, last, ...counts } = stats;
      port.postMessage({ t: 'done', stats: { ...counts, first: first?.getTime(), last: last?.getTime() } } satisfies ReaderMessage);
      port.close();
    },
    (e: unknown) => {
      port.postMessage({ t: 'error', error: errorData(e) } satisfies ReaderMessage);
      port.close();
    },
  );
}
