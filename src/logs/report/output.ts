/**
 * @module logs/report/output
 * Where a report goes: a file written atomically (a temporary file next to it, renamed over it at
 * the end, so a reader never sees half a report) or a file descriptor (standard output). Writes
 * are gathered into blocks of about 64 KiB and written synchronously, so a report of any length
 * is never held whole and a slow reader slows the writer instead of filling memory.
 *
 * Standard output may be a non-blocking pipe (its other end decides): a write that would block is
 * retried after a short sleep. A reader that went away (`| head`) ends the output quietly.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const BLOCK = 65536;
const pause = new Int32Array(new SharedArrayBuffer(4));

export abstract class Out {
  private buf: string[] = [];
  private size = 0;
  /** write - one piece of the report. */
  readonly write = (s: string): void => {
    this.buf.push(s);
    this.size += s.length;
    if (this.size >= BLOCK) this.flush();
  };
  protected flush(): void {
    if (!this.size) return;
    const block = this.buf.join('');
    this.buf = [];
    this.size = 0;
    this.put(Buffer.from(block));
  }
  protected abstract put(block: Buffer): void;
  /** close - writes what is left and finishes (the rename, for a file). */
  abstract close(): void;
  /** abort - after an error: a file's temporary file is removed. */
  abstract abort(): void;
}

/** writeAll - the whole block to `fd`, waiting out EAGAIN; false when the reader is gone (EPIPE). */
function writeAll(fd: number, block: Buffer): boolean {
  let off = 0;
  while (off < block.length) {
    try {
      off += writeSync(fd, block, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return false;
      if (code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
  return true;
}

/** A file written atomically. */
export class FileOut extends Out {
  private constructor(private readonly path: string, private readonly tmp: string, private readonly fd: number) {
    super();
  }
  static create(path: string): FileOut {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    return new FileOut(path, tmp, openSync(tmp, 'w', 0o644));
  }
  protected put(block: Buffer): void {
    writeAll(this.fd, block);
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }
  abort(): void {
    try { closeSync(this.fd); } catch { /* closed */ }
    try { unlinkSync(this.tmp); } catch { /* gone */ }
  }
}

/** A file descriptor that stays open (standard output: 1). */
export class FdOut extends Out {
  private gone = false;
  constructor(private readonly fd: number) {
    super();
  }
  protected put(block: Buffer): void {
    if (!this.gone && !writeAll(this.fd, block)) this.gone = true;
  }
  close(): void {
    this.flush();
  }
  abort(): void {
    /* nothing held back */
  }
}
