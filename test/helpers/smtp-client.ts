/**
 * A raw SMTP client for wire-level tests: it sends exactly the bytes it is given (bare LF,
 * NUL, pipelined groups) and parses replies. Every read has a timeout.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface WireReply { code: number; status?: string; text: string[]; raw: string }

export class SmtpTestClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(public socket: Socket) { this.hook(socket); }

  private hook(s: Socket) {
    s.setEncoding('latin1');
    s.on('data', (d: string) => { this.buf += d; this.wake(); });
    s.on('close', () => { this.closed = true; this.wake(); });
    s.on('error', () => { this.closed = true; this.wake(); });
  }

  private wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  static connect(port: number, opts: { localAddress?: string; host?: string; tls?: boolean } = {}): Promise<SmtpTestClient> {
    return new Promise((resolve, reject) => {
      const host = opts.host ?? '127.0.0.1';
      const plain = connect({ port, host, localAddress: opts.localAddress });
      const s = opts.tls ? tlsConnect({ socket: plain, rejectUnauthorized: false }) : plain;
      const t = setTimeout(() => { s.destroy(); reject(new Error('connect timeout')); }, 5000);
      s.once(opts.tls ? 'secureConnect' : 'connect', () => { clearTimeout(t); resolve(new SmtpTestClient(s)); });
      s.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  }

  /** Next complete (possibly multi-line) reply. */
  async read(ms = 5000): Promise<WireReply> {
    const end = Date.now() + ms;
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*)(\d{3})(?: ([^\r\n]*))?\r\n/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[0].length);
        const lines = m[0].split('\r\n').filter(Boolean).map((l) => l.slice(4));
        const code = Number(m[2]);
        let status: string | undefined;
        const text = lines.map((l) => {
          const sm = /^(\d\.\d{1,3}\.\d{1,3}) (.*)$/.exec(l);
          if (sm && code >= 200) { status = sm[1]; return sm[2]!; }
          return l;
        });
        return { code, status, text, raw: m[0] };
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf)}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms; unread: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  send(data: string | Buffer): void { this.socket.write(data); }

  async cmd(line: string, ms?: number): Promise<WireReply> { this.send(line + '\r\n'); return this.read(ms); }

  /** Waits until the server closes the connection. */
  async closedByServer(ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise<void>((r) => { const t = setTimeout(r, 50); this.waiters.push(() => { clearTimeout(t); r(); }); });
    return this.closed;
  }

  /** Upgrades to TLS after a 220 reply to STARTTLS. */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    const s: TLSSocket = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => { s.once('secureConnect', () => resolve()); s.once('error', reject); });
    this.socket = s;
    this.hook(s);
  }

  destroy(): void { this.socket.destroy(); }
}
