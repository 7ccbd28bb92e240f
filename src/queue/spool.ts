/**
 * @module queue/spool
 * The durable spool. A message is written to `incoming/ID` while it arrives; on commit the file
 * is fsynced, renamed into `active/ID` and the directory is fsynced, and only then may the
 * session answer 250 (DESIGN.md "Durable before 250"). Directory fsyncs are shared: every
 * commit that arrives while one directory sync is in flight is covered by the next single sync
 * (group commit). What is left in `incoming/` after a crash was never acknowledged and is
 * removed at start-up; everything in `active/` is delivered.
 *
 * Queue file format: one line `MXQ1 <envelope JSON>\n`, then the message bytes exactly as
 * they will be delivered (CRLF line ends, not dot-stuffed). Delivery progress lives beside it
 * in `active/ID.state` (JSON, replaced atomically), so the message file is never rewritten.
 */
import { promises as fsp, constants as FS, createReadStream, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import { newQueueId, QUEUE_ID_RE } from './queue-id.js';

export interface EnvelopeRecipient { readonly address: string; readonly orig?: string }

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
  /** Set on bounces: they are never bounced themselves (RFC 5321 §6.1). */
  readonly isBounce?: boolean;
}

export interface DeliveryState {
  /** Recipients finished (sent or bounced), by address. */
  readonly done: readonly string[];
  readonly attempts: number;
  readonly nextAttempt: number;      // ms since epoch
  /** Last deferral reason per recipient, for `mxguard queue`. */
  readonly reasons?: Readonly<Record<string, string>>;
}

const MAGIC = 'MXQ1 ';

/** Batches fsyncs of one directory: callers that arrive during a sync share the next one. */
class DirSyncer {
  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  constructor(private readonly dir: string) {}

  sync(): Promise<void> {
    if (!this.inFlight) return (this.inFlight = this.run());
    if (!this.next) {
      this.next = this.inFlight.then(() => { this.next = undefined; return (this.inFlight = this.run()); });
    }
    return this.next;
  }

  private async run(): Promise<void> {
    try {
      const fh = await fsp.open(this.dir, FS.O_RDONLY);
      try { await fh.sync(); } finally { await fh.close(); }
    } finally {
      this.inFlight = undefined;
    }
  }
}

export class SpoolWriter {
  private closed = false;
  size = 0;
  constructor(readonly envelope: Envelope, private readonly fh: fsp.FileHandle, private readonly spool: Spool, private readonly headerBytes: number) {}

  async write(chunk: Buffer): Promise<void> {
    this.size += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, off);
      off += bytesWritten;
    }
  }

  /** Makes the message durable; resolves only when file and directory entry are on disk. */
  async commit(): Promise<void> {
    this.closed = true;
    await this.fh.sync();
    await this.fh.close();
    await this.spool.publish(this.envelope.id);
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
    await fsp.unlink(this.spool.incomingPath(this.envelope.id)).catch(() => {});
  }

  get messageSize(): number { return this.size; }
  get envelopeBytes(): number { return this.headerBytes; }
}

export interface QueuedMessage {
  readonly envelope: Envelope;
  readonly state: DeliveryState;
  /** Offset of the message bytes in the queue file. */
  readonly offset: number;
  readonly size: number;
}

export class Spool {
  readonly incomingDir: string;
  readonly activeDir: string;
  private readonly activeSync: DirSyncer;

  constructor(readonly dir: string) {
    this.incomingDir = join(dir, 'incoming');
    this.activeDir = join(dir, 'active');
    this.activeSync = new DirSyncer(this.activeDir);
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.incomingDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.activeDir, { recursive: true, mode: 0o700 });
  }

  incomingPath(id: string): string { return join(this.incomingDir, id); }
  activePath(id: string): string { return join(this.activeDir, id); }
  statePath(id: string): string { return join(this.activeDir, `${id}.state`); }

  /** Starts a new queue file; `id` is kept if given and free, else a fresh one is drawn. */
  async create(env: Omit<Envelope, 'id'>, preferredId?: string): Promise<SpoolWriter> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const id = attempt === 0 && preferredId ? preferredId : newQueueId();
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(this.incomingPath(id), FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      try { await fsp.access(this.activePath(id)); await fh.close(); await fsp.unlink(this.incomingPath(id)); continue; } catch { /* free */ }
      const envelope: Envelope = { ...env, id };
      const header = Buffer.from(MAGIC + JSON.stringify(envelope) + '\n');
      await fh.write(header);
      return new SpoolWriter(envelope, fh, this, header.length);
    }
    throw new Error('could not allocate a queue id');
  }

  /** incoming → active, then one shared directory sync. */
  async publish(id: string): Promise<void> {
    await fsp.rename(this.incomingPath(id), this.activePath(id));
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

  async read(id: string): Promise<QueuedMessage | undefined> {
    if (!QUEUE_ID_RE.test(id)) return undefined;
    let fh: fsp.FileHandle;
    try { fh = await fsp.open(this.activePath(id), 'r'); } catch { return undefined; }
    try {
      const st = await fh.stat();
      const head = Buffer.alloc(Math.min(st.size, 65536));
      await fh.read(head, 0, head.length, 0);
      const nl = head.indexOf(10);
      if (!head.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC)) || nl < 0) throw new Error(`queue file ${id}: bad format`);
      const envelope = JSON.parse(head.subarray(MAGIC.length, nl).toString('utf8')) as Envelope;
      const state = await this.readState(id);
      return { envelope, state, offset: nl + 1, size: st.size - nl - 1 };
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

  openMessage(m: QueuedMessage): ReadStream {
    return createReadStream(this.activePath(m.envelope.id), { start: m.offset });
  }

  /** Deletes a message and its state; true when it existed. */
  async remove(id: string): Promise<boolean> {
    if (!QUEUE_ID_RE.test(id)) return false;
    let existed = true;
    await fsp.unlink(this.activePath(id)).catch(() => { existed = false; });
    await fsp.unlink(this.statePath(id)).catch(() => {});
    return existed;
  }
}
