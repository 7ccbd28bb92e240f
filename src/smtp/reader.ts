/**
 * @module smtp/reader
 * Pull-based input for an SMTP session: command lines, DATA text, BDAT chunks. It knows
 * framing, not SMTP verbs. Strict framing (RFC 5321 §2.3.8, §4.1.1.4): only CRLF ends a line.
 * A bare LF or CR is reported, never treated as a line end, so `<LF>.<CR><LF>` and similar
 * sequences can never end DATA or start a second transaction (SMTP smuggling, CVE-2023-51764).
 * Every wait for input has a timeout.
 */
import type { Socket } from 'node:net';

const CR = 13, LF = 10, DOT = 46, NUL = 0;
/** Pause the socket when this much input is waiting (backpressure). */
const HIGH_WATER = 256 * 1024;
/** In DATA, hand over text without a line end once this much has accumulated. */
const DATA_FLUSH = 64 * 1024;

export type LineResult =
  | { kind: 'line'; line: Buffer }
  | { kind: 'bare-newline'; line: Buffer }   // a line containing bare LF or bare CR
  | { kind: 'too-long' }
  | { kind: 'eof' }
  | { kind: 'timeout' }
  | { kind: 'interrupted' };               // interrupt() was called while waiting (shutdown)

export interface DataFlags {
  bareNewline: boolean;
  nul: boolean;
  longLine: boolean;
}

export type DataResult = { kind: 'done'; flags: DataFlags } | { kind: 'eof' } | { kind: 'timeout' };

/** State carried across BDAT chunks to spot a CR at the end of one chunk and LF at the start of the next. */
export interface BdatState { lastCR: boolean; flags: DataFlags }

export class InputReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private ended = false;
  private interrupted = false;
  private wake: (() => void) | undefined;
  private socket: Socket | undefined;
  /** Counts arrivals, so a reader that awaited something else knows input came meanwhile. */
  private arrivals = 0;
  private readonly onData = (chunk: Buffer) => {
    this.arrivals++;
    this.buf = this.pos === this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
    if (this.buf.length > HIGH_WATER) this.socket?.pause();
    this.notify();
  };
  private readonly onEnd = () => { this.ended = true; this.notify(); };

  constructor(socket: Socket) { this.attach(socket); }

  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  /** Stops reading from the current socket; returns and forgets input not yet consumed. */
  detach(): Buffer {
    const s = this.socket;
    if (s) {
      s.off('data', this.onData); s.off('end', this.onEnd); s.off('close', this.onEnd); s.off('error', this.onEnd);
    }
    this.socket = undefined;
    const rest = this.buf.subarray(this.pos);
    this.buf = Buffer.alloc(0); this.pos = 0; this.ended = false;
    return rest;
  }

  /** Bytes received but not yet consumed (pipelined input). */
  get pending(): number { return this.buf.length - this.pos; }
  /** Up to `n` bytes of input not read yet (for the "improper command pipelining" log line). */
  peek(n: number): Buffer { return this.buf.subarray(this.pos, Math.min(this.buf.length, this.pos + n)); }

  /** Makes a pending or later readLine() that has to wait return `interrupted`. */
  interrupt(): void { this.interrupted = true; this.notify(); }

  private notify() { const w = this.wake; this.wake = undefined; w?.(); }

  private consumed() {
    if (this.socket?.isPaused() && this.buf.length - this.pos < HIGH_WATER / 2) this.socket.resume();
  }

  /** Waits for more input; false on timeout. */
  private more(timeoutMs: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    this.socket?.isPaused() && this.socket.resume();
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = undefined; resolve(false); }, timeoutMs);
      this.wake = () => { clearTimeout(t); resolve(true); };
    });
  }

  /**
   * One command line without its CRLF. `maxLen` counts the CRLF (RFC 5321 §4.5.3.1.4).
   * A too-long line is consumed up to its LF before `too-long` is returned.
   */
  async readLine(maxLen: number, timeoutMs: number): Promise<LineResult> {
    let discarding = false;
    for (;;) {
      const i = this.buf.indexOf(LF, this.pos);
      if (i >= 0) {
        const start = this.pos;
        this.pos = i + 1;
        this.consumed();
        if (discarding || i + 1 - start > maxLen) return { kind: 'too-long' };
        const crlf = i > start && this.buf[i - 1] === CR;
        const line = this.buf.subarray(start, crlf ? i - 1 : i);
        if (!crlf || line.includes(CR)) return { kind: 'bare-newline', line };
        return { kind: 'line', line };
      }
      if (this.buf.length - this.pos > maxLen) { discarding = true; this.pos = this.buf.length; this.consumed(); }
      if (this.ended) return { kind: 'eof' };
      if (this.interrupted) return { kind: 'interrupted' };
      if (!(await this.more(timeoutMs))) return { kind: 'timeout' };
    }
  }

  /**
   * DATA text up to the terminating CRLF.CRLF (RFC 5321 §4.1.1.4), with dot-unstuffing
   * (§4.5.2). Text goes to `sink` in chunks; the caller stops writing when it wants (size limit)
   * but the reader always reads on to the terminator so the reply comes at the protocol's moment.
   */
  async readData(maxLine: number, timeoutMs: number, sink: (chunk: Buffer) => Promise<void> | void): Promise<DataResult> {
    const flags: DataFlags = { bareNewline: false, nul: false, longLine: false };
    let atLineStart = true;   // only after CRLF (a bare LF does not start a line)
    let lineLen = 0;
    for (;;) {
      const seen = this.arrivals;
      const out: Buffer[] = [];
      let done = false;
      for (;;) {
        const i = this.buf.indexOf(LF, this.pos);
        if (i < 0) break;
        let start = this.pos;
        const crlf = i > start && this.buf[i - 1] === CR;
        if (atLineStart && crlf && i - start === 2 && this.buf[start] === DOT) { this.pos = i + 1; done = true; break; }
        if (!crlf) flags.bareNewline = true;
        const cr = this.buf.indexOf(CR, start);
        if (cr >= 0 && cr < i - 1) flags.bareNewline = true;
        const nul = this.buf.indexOf(NUL, start);
        if (nul >= 0 && nul < i) flags.nul = true;
        lineLen += i + 1 - start;
        if (lineLen > maxLine) flags.longLine = true;
        if (atLineStart && this.buf[start] === DOT) start++;
        out.push(this.buf.subarray(start, i + 1));
        this.pos = i + 1;
        atLineStart = crlf;
        lineLen = 0;
        if (!crlf) lineLen = 0; // a bare LF already failed the message; keep counting sane
      }
      // A long run without LF: pass it on (keeping a trailing CR or a lone leading dot for later).
      if (!done && this.buf.length - this.pos > DATA_FLUSH) {
        let start = this.pos;
        let end = this.buf.length;
        if (this.buf[end - 1] === CR) end--;
        if (atLineStart && this.buf[start] === DOT) start++;
        const seg = this.buf.subarray(start, end);
        const cr = seg.indexOf(CR); if (cr >= 0) flags.bareNewline = true;
        if (seg.includes(NUL)) flags.nul = true;
        lineLen += end - this.pos;
        if (lineLen > maxLine) flags.longLine = true;
        out.push(seg);
        this.pos = end;
        atLineStart = false;
      }
      if (out.length) await sink(out.length === 1 ? out[0]! : Buffer.concat(out));
      this.consumed();
      if (done) return { kind: 'done', flags };
      // Input that arrived while the sink was writing (the terminator, perhaps) is scanned now:
      // waiting for more would hang when nothing more is coming.
      if (this.arrivals !== seen) continue;
      if (this.ended) return { kind: 'eof' };
      if (!(await this.more(timeoutMs))) return { kind: 'timeout' };
    }
  }

  /** Exactly `n` octets of a BDAT chunk (RFC 3030 §2), checked for bare CR/LF and NUL. */
  async readChunk(n: number, timeoutMs: number, state: BdatState, sink: (chunk: Buffer) => Promise<void> | void): Promise<'done' | 'eof' | 'timeout'> {
    let left = n;
    while (left > 0) {
      const avail = this.buf.length - this.pos;
      if (avail > 0) {
        const take = Math.min(avail, left);
        const seg = this.buf.subarray(this.pos, this.pos + take);
        for (let k = 0; k < seg.length; k++) {
          const b = seg[k]!;
          if (b === LF) { if (!state.lastCR) state.flags.bareNewline = true; }
          else if (state.lastCR) state.flags.bareNewline = true;
          if (b === NUL) state.flags.nul = true;
          state.lastCR = b === CR;
        }
        this.pos += take;
        left -= take;
        await sink(seg);
        this.consumed();
        continue;
      }
      if (this.ended) return 'eof';
      if (!(await this.more(timeoutMs))) return 'timeout';
    }
    return 'done';
  }
}
