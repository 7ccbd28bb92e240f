/**
 * @module delivery/wire
 * The client side of an SMTP or LMTP connection, below the protocol: reply parsing
 * (RFC 5321 §4.2: `ddd-text` continues, `ddd text` ends a reply), timed reads, writes with
 * flow control, and the one place where socket errors, timeouts and aborts become a typed
 * `WireError`. It knows no commands; `delivery/client` drives it.
 */
import type { Socket } from 'node:net';

/** One reply from the server, as received. */
export interface ServerReply {
  readonly code: number;
  /** Text of each line after `ddd ` / `ddd-`, enhanced status code included as sent. */
  readonly lines: readonly string[];
}

/** `550 5.1.1 <x>: text continued` — multi-line replies joined with spaces, as Postfix logs them. */
export function replyText(r: ServerReply): string {
  const first = r.lines[0] ?? '';
  const ec = /^([245]\.\d{1,3}\.\d{1,3})\s/.exec(first)?.[1];
  // Later lines usually repeat the enhanced code (RFC 2034 §3); say it once.
  const rest = r.lines.slice(1).map((l) => (ec && l.startsWith(ec + ' ') ? l.slice(ec.length + 1) : l));
  return [`${r.code} ${first}`.trimEnd(), ...rest].join(' ').trim();
}

/**
 * The RFC 3463 code for a reply: the one it carries when its class agrees with the reply code
 * (RFC 2034 §4), else `class.0.0`.
 */
export function replyDsn(r: ServerReply): string {
  const cls = Math.floor(r.code / 100);
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)/.exec(r.lines[0] ?? '');
  if (m && Number(m[1]) === cls) return `${m[1]}.${m[2]}.${m[3]}`;
  return `${cls}.0.0`;
}

export type WireFailure = 'timeout' | 'lost' | 'protocol' | 'aborted';

export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(readonly failure: WireFailure, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Longest reply line accepted; RFC 5321 §4.5.3.1.5 sets 512 as the minimum. A runaway server is cut off. */
const MAX_REPLY_LINE = 8192;
/** Most lines in one reply; EHLO lists are the longest in practice. */
const MAX_REPLY_LINES = 200;

interface Waiter {
  resolve(r: ServerReply): void;
  reject(e: Error): void;
}

export class Wire {
  private socket: Socket;
  private buf = '';
  private pendingLines: string[] = [];
  private readonly ready: ServerReply[] = [];
  private waiter: Waiter | undefined;
  private failure: WireError | undefined;
  private readonly onData = (chunk: Buffer) => this.feed(chunk);
  private readonly onClose = () => this.fail(new WireError('lost', 'lost connection'));
  private readonly onError = (e: Error) => this.fail(new WireError('lost', e.message, { cause: e }));
  private readonly onAbort: () => void;

  constructor(socket: Socket, private readonly signal: AbortSignal) {
    this.socket = socket;
    this.onAbort = () => {
      this.fail(new WireError('aborted', abortText(signal.reason)));
      this.socket.destroy();
    };
    this.attach(socket);
    signal.addEventListener('abort', this.onAbort, { once: true });
    if (signal.aborted) this.onAbort();
  }

  get current(): Socket { return this.socket; }

  /** Bytes received but not yet part of a complete reply (RFC 3207 §5: must be empty at STARTTLS). */
  get hasUnreadInput(): boolean { return this.buf.length > 0 || this.pendingLines.length > 0 || this.ready.length > 0; }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onClose);
    s.on('end', this.onClose);
    s.on('error', this.onError);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onClose);
    s.off('end', this.onClose);
    s.off('error', this.onError);
  }

  /**
   * Stops reading the socket so that TLS can take it over (RFC 3207 §4.2). Returns false when
   * the server sent anything after its 220: such bytes would be read as if protected by TLS
   * (the STARTTLS command injection class of attacks), so the caller must give up.
   */
  suspend(): boolean {
    this.detach(this.socket);
    // Errors of the plain socket surface through the TLS socket from now on.
    this.socket.on('error', () => {});
    // A connection that closed meanwhile is not injection: the handshake will fail on its own.
    const clean = !this.hasUnreadInput;
    this.buf = '';
    this.pendingLines = [];
    this.ready.length = 0;
    return clean;
  }

  /** Resumes on the TLS socket that wraps the suspended one. */
  resume(next: Socket): void {
    this.socket = next;
    this.attach(next);
  }

  /** Stops listening to the socket and waits for nothing; the caller decides how to close it. */
  release(): void {
    this.detach(this.socket);
    this.socket.on('error', () => {});
    this.signal.removeEventListener('abort', this.onAbort);
  }

  private feed(chunk: Buffer): void {
    this.buf += chunk.toString('utf8');
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      // Servers are held to CRLF by RFC 5321 §2.3.8, but a lone LF in a reply is harmless to us.
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (!this.line(line)) return;
    }
    if (this.buf.length > MAX_REPLY_LINE) this.protocolError(`reply line longer than ${MAX_REPLY_LINE} bytes`);
  }

  /** One reply line; false when the connection was failed because of it. */
  private line(line: string): boolean {
    const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
    const code = m ? Number(m[1]) : 0;
    if (!m || code < 200 || code > 599) { this.protocolError(`malformed reply line "${line.slice(0, 80)}"`); return false; }
    if (this.pendingLines.length && !this.pendingLines[0]!.startsWith(m[1]!)) {
      this.protocolError(`reply code changed within a multi-line reply: "${line.slice(0, 80)}"`); return false;
    }
    this.pendingLines.push(line);
    if (this.pendingLines.length > MAX_REPLY_LINES) { this.protocolError('reply has too many lines'); return false; }
    if (m[2] === '-') return true;
    const reply: ServerReply = { code, lines: this.pendingLines.map((l) => l.slice(4)) };
    this.pendingLines = [];
    const w = this.waiter;
    if (w) { this.waiter = undefined; w.resolve(reply); } else this.ready.push(reply);
    return true;
  }

  private protocolError(msg: string): void {
    this.fail(new WireError('protocol', msg));
    this.socket.destroy();
  }

  private fail(e: WireError): void {
    if (this.failure) return;
    this.failure = e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }

  /** The next reply, within `timeoutSec`. */
  read(timeoutSec: number): Promise<ServerReply> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error('Wire.read called while another read is pending'));
    return new Promise<ServerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new WireError('timeout', 'timed out'));
      }, timeoutSec * 1000);
      this.waiter = {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }

  /**
   * Writes bytes; when the socket's buffer is full, waits up to `timeoutSec` for it to drain
   * (postconf(5) smtp_data_xfer_timeout) so a slow server slows the reader of the spool file.
   */
  async write(data: string | Buffer, timeoutSec: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.socket.write(data)) return;
    await new Promise<void>((resolve, reject) => {
      const s = this.socket;
      const done = (e?: Error) => {
        clearTimeout(timer);
        s.off('drain', onDrain);
        s.off('close', onGone);
        this.signal.removeEventListener('abort', onGone);
        if (e) reject(e); else resolve();
      };
      const onDrain = () => done();
      const onGone = () => done(this.failure ?? new WireError('lost', 'lost connection'));
      const timer = setTimeout(() => done(new WireError('timeout', 'timed out')), timeoutSec * 1000);
      s.on('drain', onDrain);
      s.on('close', onGone);
      this.signal.addEventListener('abort', onGone, { once: true });
      if (this.failure || s.destroyed) onGone();
    });
  }
}

export function abortText(reason: unknown): string {
  if (reason instanceof Error && reason.name === 'TimeoutError') return 'delivery time limit exceeded';
  if (reason instanceof Error && reason.message) return `delivery interrupted: ${reason.message}`;
  return 'delivery interrupted';
}
