/**
 * @module mailauth/forged
 * RFC 8601 §5: a border MTA must delete Authentication-Results: fields that claim its own
 * authserv-id, or a sender could write "dkim=pass" results that later filters trust. This
 * stream filter drops such fields (with their continuation lines) from the header section of
 * what is written to the queue; the body passes untouched, and DKIM still sees the message as it
 * arrived.
 */

/** Give up filtering a header line longer than this (the reader already caps lines). */
const MAX_PARTIAL = 64 * 1024;

export class ForgedResultsFilter {
  private inHeaders = true;
  private dropping = false;
  private partial: Buffer = Buffer.alloc(0);
  /** Fields removed so far. */
  removed = 0;

  constructor(private readonly authservId: string) {}

  private ours(line: Buffer): boolean {
    const m = /^authentication-results[ \t]*:[ \t]*([^;\s]+)/i.exec(line.toString('latin1'));
    return !!m && m[1]!.toLowerCase() === this.authservId.toLowerCase();
  }

  /** The bytes of `chunk` to store (any split into chunks; whole lines are needed only in the header). */
  push(chunk: Buffer): Buffer {
    if (!this.inHeaders) return chunk;
    const data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = Buffer.alloc(0);
    const out: Buffer[] = [];
    let pos = 0;
    while (this.inHeaders) {
      const nl = data.indexOf(10, pos);
      if (nl < 0) break;
      const line = data.subarray(pos, nl + 1);
      pos = nl + 1;
      if (line.length === 1 || (line.length === 2 && line[0] === 13)) { this.inHeaders = false; out.push(line); break; }
      if (line[0] === 32 || line[0] === 9) { if (!this.dropping) out.push(line); continue; }
      this.dropping = this.ours(line);
      if (this.dropping) this.removed++;
      else out.push(line);
    }
    const rest = data.subarray(pos);
    if (!this.inHeaders || rest.length > MAX_PARTIAL) {
      // Body, or a header line too long to be a field we would remove: pass it on as it is.
      if (this.inHeaders) { this.inHeaders = false; if (this.dropping) return Buffer.concat(out); }
      out.push(rest);
    } else {
      this.partial = Buffer.from(rest);
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** What is still held at the end of the message (a last header line without its end). */
  flush(): Buffer {
    const p = this.partial;
    this.partial = Buffer.alloc(0);
    if (this.inHeaders && p.length && (p[0] === 32 || p[0] === 9 ? this.dropping : this.ours(p))) return Buffer.alloc(0);
    return p;
  }
}
