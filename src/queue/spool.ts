/**
 * @module queue/spool
 * The durable spool. A queue file is opened in `incoming/` as soon as a transaction has its
 * first recipient (as Postfix's cleanup does), so that opening costs nothing at DATA time.
 * Small messages are kept in memory and written with one write(2). On commit the file gets a
 * trailer that records its own length; then, in parallel, the file is fsynced and it is
 * renamed into `active/` with a directory fsync. Only when both are done may the session
 * answer 250 (DESIGN.md "Durable before 250"). Directory fsyncs are shared: every commit that
 * arrives while one directory sync is in flight is covered by the next single sync (group
 * commit). Because of the trailer, a file whose rename reached the disk before its contents
 * (a crash between the two) is recognised as incomplete and dropped: it was never
 * acknowledged. What is left in `incoming/` after a crash is removed at start-up; every
 * complete file in `active/` is delivered.
 *
 * Queue file format: the message bytes exactly as they will be delivered (CRLF line ends, not
 * dot-stuffed), then the envelope as JSON, then a 32-byte trailer
 * `\nMXQ2 <message length, 16 hex> <envelope length, 8 hex>\n`. Delivery progress lives
 * beside it in `active/ID.state` (JSON, replaced atomically); the queue file is never rewritten.
 */
import { promises as fsp, constants as FS, createReadStream, fsync, open, close, write, unlink, rename } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { GroupFlush } from './group-flush.js';
import { newQueueId, QUEUE_ID_RE } from './queue-id.js';
import { SegmentLog, listSegments, pendingRecords, segmentPid } from './segment.js';

// The callback API is the cheapest way into the thread pool; the pool runs on the other core
// while the event loop goes on with sessions (on small VMs a metadata syscall costs as much as
// the round trip, so nothing is gained by making it synchronous).
const openP = promisify(open), closeP = promisify(close), writeP = promisify(write);
const unlinkP = promisify(unlink), renameP = promisify(rename);

export interface EnvelopeRecipient {
  readonly address: string;
  readonly orig?: string;
  /** RFC 3461 NOTIFY: when the sender wants to hear about this recipient (absent: failures and delays). */
  readonly notify?: readonly string[];
}

export interface Envelope {
  readonly id: string;
  readonly sender: string;
  readonly recipients: readonly EnvelopeRecipient[];
  readonly arrival: number;          // ms since epoch
  readonly client?: string;          // namaddr, for logs and bounces
  readonly helo?: string;
  readonly saslUsername?: string;
  readonly smtputf8?: boolean;
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** RFC 3461 RET: a failure notice returns the full message or its headers only. */
  readonly ret?: 'FULL' | 'HDRS';
  /** Set on bounces: they are never bounced themselves (RFC 5321 §6.1). */
  readonly isBounce?: boolean;
  /** A notice to the postmaster about an undeliverable bounce: dropped if undeliverable. */
  readonly isDoubleBounce?: boolean;
  /** access(5) FILTER transport:destination: every recipient goes there (content_filter). */
  readonly filter?: string;
  /** access(5) HOLD: not delivered until released (`mxguard queue release`). */
  readonly hold?: boolean;
}

export interface DeliveryState {
  /** Recipients finished (sent or bounced), by address. */
  readonly done: readonly string[];
  readonly attempts: number;
  readonly nextAttempt: number;      // ms since epoch
  /** Last deferral reason per recipient, for `mxguard queue`. */
  readonly reasons?: Readonly<Record<string, string>>;
  /** A delay notice was sent (delay_warning_time). */
  readonly warned?: boolean;
  /** The message carries HOLD and waits in the hold queue (nextAttempt is then ignored). */
  readonly held?: boolean;
  /** `mxguard queue release` lifted its HOLD. */
  readonly released?: boolean;
}

function trailer(msgLen: number, envLen: number): Buffer {
  return Buffer.from(`\nMXQ2 ${msgLen.toString(16).padStart(16, '0')} ${envLen.toString(16).padStart(8, '0')}\n`, 'latin1');
}

const TRAILER_LEN = trailer(0, 0).length;

/** fsync(2) in the thread pool, so that a slow disk never blocks the event loop. */
function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
}

/** fsync(2) of a directory kept open: a sync is then a single system call, not open+fsync+close. */
function directoryFlush(dir: string): GroupFlush {
  let fd: number | undefined;
  return new GroupFlush(async () => {
    fd ??= await openP(dir, FS.O_RDONLY);
    await fsyncAsync(fd);
  });
}

/** Writes all of `buf` at the file's current offset. */
async function writeAll(fd: number, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await writeP(fd, buf, off, buf.length - off, null)).bytesWritten;
}

/** Messages up to this size are kept in memory and written with one write(2) at commit. */
const BUFFER_LIMIT = 256 * 1024;

/** A queue file being written; small messages reach the file in one write(2) at commit. */
export class SpoolWriter {
  private closed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Message bytes written so far. */
  size = 0;
  private segment: string | undefined;
  private content: Buffer | undefined;
  /** Bytes already written to the file (the rest is in `pending`). */
  private flushed = 0;
  /** No file yet: the message is in memory and goes to a segment unless it grows too big. */
  constructor(public envelope: Envelope, private fd: number | undefined, private readonly spool: Spool) {}

  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BUFFER_LIMIT) await this.drain();
  }

  private async drain(): Promise<void> {
    if (!this.pendingBytes) return;
    this.fd ??= await this.spool.openIncoming(this.envelope.id);
    const fd = this.fd;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = []; this.pendingBytes = 0;
    let off = 0;
    while (off < buf.length) off += (await writeP(fd, buf, off, buf.length - off, null)).bytesWritten;
    this.flushed += buf.length;
  }

  /**
   * Puts `block` (whole header lines) before everything written so far, e.g. the
   * Authentication-Results: header, which is only known after the last byte (RFC 8601 §5: at
   * the top of the message). A message still in memory, as almost all are (BUFFER_LIMIT), just
   * gets the block in front. A large one whose start is already in its incoming/ file is copied
   * once into a new file that starts with the block, which then replaces it; the copy lives in
   * incoming/ too, so a crash meanwhile leaves nothing that was acknowledged.
   */
  async prepend(block: Buffer): Promise<void> {
    if (this.closed) throw new Error('prepend after commit or abort');
    if (!block.length) return;
    this.size += block.length;
    if (this.flushed === 0) {
      this.pending.unshift(block);
      this.pendingBytes += block.length;
      return;
    }
    const path = this.spool.incomingPath(this.envelope.id);
    const tmp = `${path}.prepend`;
    const fd = await openP(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_TRUNC | FS.O_DSYNC, 0o600);
    try {
      await writeAll(fd, block);
      const src = await fsp.open(path, 'r');
      try {
        const buf = Buffer.allocUnsafe(1024 * 1024);
        for (let pos = 0; pos < this.flushed;) {
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, this.flushed - pos), pos);
          if (bytesRead === 0) throw new Error(`queue file ${path} is shorter than written`);
          await writeAll(fd, buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
      } finally {
        await src.close();
      }
      await renameP(tmp, path);
    } catch (e) {
      await closeP(fd).catch(() => {});
      await unlinkP(tmp).catch(() => {});
      throw e;
    }
    await closeP(this.fd!).catch(() => {});
    this.fd = fd;
    this.flushed += block.length;
  }

  /**
   * Makes the message durable under its final envelope; resolves only when the file's
   * contents and its directory entry in active/ are on disk. The file is opened with O_DSYNC,
   * so the last write returns only once its data is on disk (write and fdatasync in one step);
   * the rename and the directory sync run at the same time, which the trailer makes safe.
   */
  async commit(envelope: Envelope = this.envelope): Promise<void> {
    this.envelope = envelope;
    this.closed = true;
    if (this.fd === undefined && this.spool.segments) {
      // Small message: one record in the shared segment, one shared flush (group commit).
      this.content = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.pending = []; this.pendingBytes = 0;
      this.segment = await this.spool.segments.append(envelope.id, envelope, [this.content]);
      return;
    }
    const env = Buffer.from(JSON.stringify(envelope), 'utf8');
    this.pending.push(env, trailer(this.size, env.length));
    this.pendingBytes += env.length + TRAILER_LEN;
    try {
      this.fd ??= await this.spool.openIncoming(envelope.id);
      await Promise.all([this.drain(), this.spool.publish(envelope.id)]);
    } catch (e) {
      if (this.fd !== undefined) await closeP(this.fd).catch(() => {});
      // Not acknowledged: take it out of active/ again if the rename got there.
      await unlinkP(this.spool.activePath(envelope.id)).catch(() => {});
      throw e;
    }
    close(this.fd!, () => { /* the data is already durable */ });
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    if (this.fd === undefined) return;
    await closeP(this.fd).catch(() => {});
    await unlinkP(this.spool.incomingPath(this.envelope.id)).catch(() => {});
  }

  /** What the queue manager needs to deliver the committed message without reading it back. */
  queued(): QueuedMessage {
    return { envelope: this.envelope, state: { done: [], attempts: 0, nextAttempt: 0 }, offset: 0, size: this.size, content: this.content, segment: this.segment };
  }
}

export interface QueuedMessage {
  /** Small fresh messages: the bytes in memory, and the segment that holds them on disk. */
  readonly content?: Buffer;
  readonly segment?: string;
  readonly envelope: Envelope;
  readonly state: DeliveryState;
  /** Offset of the message bytes in the queue file. */
  readonly offset: number;
  readonly size: number;
}

export class Spool {
  readonly incomingDir: string;
  readonly activeDir: string;
  private readonly activeSync: GroupFlush;

  readonly segmentDir: string;
  /** Present when small messages are group-committed into segments (one writing process). */
  readonly segments: SegmentLog | undefined;

  constructor(readonly dir: string, opts: { segments?: boolean } = {}) {
    this.incomingDir = join(dir, 'incoming');
    this.activeDir = join(dir, 'active');
    this.segmentDir = join(dir, 'segments');
    this.activeSync = directoryFlush(this.activeDir);
    const segSync = directoryFlush(this.segmentDir);
    this.segments = opts.segments ? new SegmentLog(this.segmentDir, () => segSync.sync()) : undefined;
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.incomingDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.activeDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.segmentDir, { recursive: true, mode: 0o700 });
  }

  /** Opens the queue file of a message in incoming/ (O_EXCL, O_DSYNC). */
  async openIncoming(id: string): Promise<number> {
    return openP(this.incomingPath(id), FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_DSYNC, 0o600);
  }

  /** A message is finished: its queue file, or its segment record, goes. */
  async finish(m: QueuedMessage): Promise<boolean> {
    if (m.segment) { this.segments?.done(m.segment, m.envelope.id); return true; }
    return this.remove(m.envelope.id, m.state.attempts > 0);
  }

  /** Copies a segment record into a queue file of its own (for retries), then releases the record. */
  async spill(m: QueuedMessage): Promise<QueuedMessage> {
    if (!m.segment || !m.content) return m;
    const q = await this.writeQueueFile(m.envelope, m.content);
    this.segments?.done(m.segment, m.envelope.id);
    return { ...q, state: m.state };
  }

  private async writeQueueFile(envelope: Envelope, content: Buffer): Promise<QueuedMessage> {
    const w = new SpoolWriter(envelope, await this.openIncoming(envelope.id), this);
    await w.write(content);
    await w.commit(envelope);
    return w.queued();
  }

  /** Start-up: unfinished records of segments left by an earlier run become queue files. */
  async recoverSegments(pid?: number): Promise<number> {
    let n = 0;
    const recs = pendingRecords(this.segmentDir, pid);
    for (const r of recs) {
      if (await this.read(r.id)) continue; // already copied before the crash
      await this.writeQueueFile(r.envelope, r.message);
      n++;
    }
    for (const path of listSegments(this.segmentDir)) {
      if (pid !== undefined && segmentPid(path) !== pid) continue;
      for (const p of [path, `${path}.done`]) await unlinkP(p).catch(() => {});
    }
    return n;
  }

  /** Directory fsyncs of active/ so far: fewer than commits when sessions share them. */
  get directorySyncs(): number { return this.activeSync.count; }

  incomingPath(id: string): string { return join(this.incomingDir, id); }
  activePath(id: string): string { return join(this.activeDir, id); }
  statePath(id: string): string { return join(this.activeDir, `${id}.state`); }

  /** Opens a new queue file; `id` is kept if given and free, else a fresh one is drawn. */
  async create(env: Omit<Envelope, 'id'>, preferredId?: string): Promise<SpoolWriter> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const id = attempt === 0 && preferredId ? preferredId : newQueueId();
      // Ids are unique over far more than a queue lifetime (queue-id.ts), so an id cannot still be
      // in active/ here; O_EXCL guards against a clash with a session of this very moment.
      if (this.segments) return new SpoolWriter({ ...env, id }, undefined, this);
      let fd: number;
      try {
        fd = await this.openIncoming(id);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      return new SpoolWriter({ ...env, id }, fd, this);
    }
    throw new Error('could not allocate a queue id');
  }

  /** incoming → active, then one shared directory sync. */
  async publish(id: string): Promise<void> {
    await renameP(this.incomingPath(id), this.activePath(id));
    await this.activeSync.sync();
  }

  /** Removes files of messages that were never acknowledged (crash during DATA). */
  async cleanIncoming(): Promise<number> {
    let n = 0;
    for (const f of await fsp.readdir(this.incomingDir)) {
      await fsp.unlink(join(this.incomingDir, f)).catch(() => {});
      n++;
    }
    return n;
  }

  /** Queue ids of all acknowledged messages. */
  async list(): Promise<string[]> {
    let names: string[];
    try { names = await fsp.readdir(this.activeDir); } catch { return []; }
    return names.filter((n) => QUEUE_ID_RE.test(n)).sort();
  }

  /** A complete queued message, or undefined when there is none (or it is incomplete). */
  async read(id: string): Promise<QueuedMessage | undefined> {
    if (!QUEUE_ID_RE.test(id)) return undefined;
    let fh: fsp.FileHandle;
    try { fh = await fsp.open(this.activePath(id), 'r'); } catch { return undefined; }
    try {
      const st = await fh.stat();
      if (st.size < TRAILER_LEN) return undefined;
      const t = Buffer.alloc(TRAILER_LEN);
      await fh.read(t, 0, TRAILER_LEN, st.size - TRAILER_LEN);
      const m = /^\nMXQ2 ([0-9a-f]{16}) ([0-9a-f]{8})\n$/.exec(t.toString('latin1'));
      if (!m) return undefined;
      const msgLen = parseInt(m[1]!, 16), envLen = parseInt(m[2]!, 16);
      if (msgLen + envLen + TRAILER_LEN !== st.size) return undefined;
      const envBuf = Buffer.alloc(envLen);
      await fh.read(envBuf, 0, envLen, msgLen);
      const envelope = JSON.parse(envBuf.toString('utf8')) as Envelope;
      if (envelope.id !== id) return undefined;
      const state = await this.readState(id);
      return { envelope, state, offset: 0, size: msgLen };
    } catch {
      return undefined;
    } finally {
      await fh.close();
    }
  }

  /** The message bytes of a queued message. */
  async readMessage(m: QueuedMessage, limit = Infinity): Promise<Buffer> {
    if (m.content) return m.content.subarray(0, Math.min(m.size, limit));
    const fh = await fsp.open(this.activePath(m.envelope.id), 'r');
    try {
      const len = Math.min(m.size, limit);
      const b = Buffer.alloc(len);
      await fh.read(b, 0, len, m.offset);
      return b;
    } finally {
      await fh.close();
    }
  }

  async readState(id: string): Promise<DeliveryState> {
    try {
      return JSON.parse(await fsp.readFile(this.statePath(id), 'utf8')) as DeliveryState;
    } catch {
      return { done: [], attempts: 0, nextAttempt: 0 };
    }
  }

  /** Replaces the delivery state atomically (write, fsync, rename). */
  async writeState(id: string, state: DeliveryState): Promise<void> {
    const tmp = `${this.statePath(id)}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try { await fh.writeFile(JSON.stringify(state)); await fh.sync(); } finally { await fh.close(); }
    await fsp.rename(tmp, this.statePath(id));
  }

  openMessage(m: QueuedMessage): Readable {
    if (m.content) return Readable.from([m.content]);
    return createReadStream(this.activePath(m.envelope.id), { start: m.offset, end: m.offset + m.size - 1 });
  }

  /** Deletes a message and its state; true when it existed. */
  async remove(id: string, hasState = true): Promise<boolean> {
    if (!QUEUE_ID_RE.test(id)) return false;
    let existed = true;
    await unlinkP(this.activePath(id)).catch(() => { existed = false; });
    if (hasState) await unlinkP(this.statePath(id)).catch(() => {});
    return existed;
  }
}
