/**
 * @module test/helpers/smtp-sink
 * A scriptable SMTP/LMTP server for tests, on 127.0.0.1 and a port the system picks. It records
 * each accepted message (envelope, un-stuffed text, the raw DATA bytes as sent) and the client's
 * command lines, and answers as a test tells it: a reply per recipient, per MAIL FROM, for DATA
 * and after the final dot (per recipient in LMTP mode, RFC 2033 §4.2), STARTTLS with a given
 * certificate, or misbehaviour (refuse connections, close early, stay silent).
 *
 *   const sink = await startSink(t, { rcptReplies: { 'bad@x.test': '550 5.1.1 <bad@x.test>: User unknown' } });
 *   … deliver to `[127.0.0.1]:${sink.port}` …
 *   assert.equal(sink.messages[0].rcptTo.length, 1);
 *
 * Everything it opens is closed in `t.after` (and by `close()`), also when the test fails.
 * Replies are written as complete lines (`250 2.0.0 Ok`); "\n" inside one separates the lines
 * of a multi-line reply, each starting with the same code.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface SinkMessage {
  readonly helo: string;
  readonly tls: boolean;
  readonly mailFrom: string;
  /** Parameters after `MAIL FROM:<…>`, e.g. `SIZE=123`. */
  readonly mailParams: string;
  /** Recipients the sink accepted (2xx to RCPT). */
  readonly rcptTo: string[];
  /** Message text as the client meant it: dot-stuffing removed, CRLF line ends, no final dot. */
  readonly data: Buffer;
  /** DATA bytes exactly as received, terminator included. */
  readonly raw: Buffer;
}

export type SinkMode =
  | 'normal'
  | 'refuse'                 // nothing listens on the port: connections are refused
  | 'close-on-connect'       // accept, then close without a greeting
  | 'close-after-greeting'   // close when EHLO/LHLO arrives
  | 'close-after-rcpt'       // close after the first RCPT TO
  | 'close-in-data'          // close after the first line of message text
  | 'silent';                // accept and never say anything (for timeouts)

export interface SinkOptions {
  /** Speak LMTP: LHLO instead of EHLO, one reply per accepted recipient after the dot. */
  readonly lmtp?: boolean;
  readonly mode?: SinkMode;
  /** Listen on this UNIX-domain socket instead of 127.0.0.1:0 (LMTP's `unix:` nexthops). */
  readonly path?: string;
  /** Greeting reply; default `220 sink.test ESMTP` (`LMTP` in LMTP mode). */
  readonly greeting?: string;
  /** Reply to EHLO/LHLO instead of the usual 250 list (the session then stays without a HELO name). */
  readonly ehloReply?: string;
  /** Extensions to announce instead of the default list (PIPELINING, SIZE, ENHANCEDSTATUSCODES, 8BITMIME). */
  readonly extensions?: readonly string[];
  /** Advertise PIPELINING (default true). */
  readonly pipelining?: boolean;
  /** SIZE limit to advertise; default 0 ("SIZE" without a limit). null: no SIZE at all. */
  readonly size?: number | null;
  /** Offer STARTTLS with this key and certificate (see `testCertificate`). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Offer STARTTLS, answer it with 220, then hang up instead of the TLS handshake. */
  readonly brokenTls?: boolean;
  /** Reply to MAIL FROM by sender; undefined → 250. */
  readonly mailReply?: (sender: string) => string | undefined;
  /** Reply to RCPT TO by recipient (lower case keys); absent → 250. */
  readonly rcptReplies?: Readonly<Record<string, string>>;
  /** Reply to DATA; default 354. */
  readonly dataReply?: string;
  /**
   * Reply after the final dot. SMTP: called once, `rcpt` undefined; default
   * `250 2.0.0 Ok: queued as SINKn`. LMTP: called per accepted recipient; default
   * `250 2.0.0 <rcpt> Ok: saved`.
   */
  readonly endReply?: (msg: SinkMessage, rcpt?: string) => string;
}

export interface Sink {
  readonly host: '127.0.0.1';
  /** 0 when listening on a UNIX-domain socket. */
  readonly port: number;
  readonly path?: string;
  readonly messages: SinkMessage[];
  /** Every command line received, in order, over all connections (DATA text excluded). */
  readonly commands: string[];
  /** Connections accepted so far. */
  readonly connections: () => number;
  close(): Promise<void>;
}

function render(reply: string): string {
  const lines = reply.split('\n');
  return lines.map((l, i) => (i < lines.length - 1 ? `${l.slice(0, 3)}-${l.slice(4)}` : l) + '\r\n').join('');
}

/** startSink - a sink listening on 127.0.0.1:<free port>, closed when the test ends. */
export async function startSink(t: TestContext, opts: SinkOptions = {}): Promise<Sink> {
  const mode = opts.mode ?? 'normal';
  const messages: SinkMessage[] = [];
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let queued = 0;

  const server: Server = createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    if (mode === 'close-on-connect') { sock.destroy(); return; }
    if (mode === 'silent') return;
    new SinkSession(sock, opts, mode, messages, commands, () => ++queued, (s) => sockets.add(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (opts.path) server.listen(opts.path, () => resolve());
    else server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  // 'refuse': the port was ours a moment ago and nothing listens there now.
  if (mode === 'refuse') await close();
  t.after(close);
  return { host: '127.0.0.1', port, ...(opts.path ? { path: opts.path } : {}), messages, commands, connections: () => connections, close };
}

class SinkSession {
  private buf = Buffer.alloc(0);
  private helo = '';
  private tls = false;
  private mailFrom: string | undefined;
  private mailParams = '';
  private rcpts: string[] = [];
  private inData = false;
  private dataLines: Buffer[] = [];
  private rawData: Buffer[] = [];
  private ended = false;

  constructor(
    private sock: Socket,
    private readonly o: SinkOptions,
    private readonly mode: SinkMode,
    private readonly messages: SinkMessage[],
    private readonly commands: string[],
    private readonly nextId: () => number,
    private readonly track: (s: Socket) => void,
  ) {
    this.listen(sock);
    this.send(o.greeting ?? `220 sink.test ${o.lmtp ? 'LMTP' : 'ESMTP'}`);
  }

  private readonly onData = (chunk: Buffer) => {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.ended) return;
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl + 1);
      this.buf = this.buf.subarray(nl + 1);
      if (this.inData) this.dataLine(line);
      else this.command(line.toString('utf8').replace(/\r?\n$/, ''));
    }
  };

  private listen(s: Socket): void {
    s.on('data', this.onData);
  }

  private send(reply: string): void {
    if (!this.sock.destroyed) this.sock.write(render(reply));
  }

  private drop(): void {
    this.ended = true;
    this.sock.destroy();
  }

  private command(line: string): void {
    this.commands.push(line);
    const verb = (/^\S+/.exec(line)?.[0] ?? '').toUpperCase();
    const arg = line.slice(verb.length).trim();
    const hello = this.o.lmtp ? 'LHLO' : 'EHLO';
    switch (verb) {
      case 'EHLO': case 'LHLO': case 'HELO': {
        if (this.mode === 'close-after-greeting') return this.drop();
        if ((verb === 'HELO' && this.o.lmtp) || (verb !== 'HELO' && verb !== hello)) return this.send('500 5.5.1 Error: command not recognized');
        if (this.o.ehloReply && verb !== 'HELO') return this.send(this.o.ehloReply);
        this.helo = arg;
        this.reset();
        if (verb === 'HELO') return this.send('250 sink.test');
        const ext = ['sink.test'];
        if (this.o.extensions) ext.push(...this.o.extensions);
        else {
          if (this.o.pipelining ?? true) ext.push('PIPELINING');
          if (this.o.size !== null) ext.push(this.o.size ? `SIZE ${this.o.size}` : 'SIZE');
          ext.push('ENHANCEDSTATUSCODES', '8BITMIME');
        }
        if ((this.o.tls || this.o.brokenTls) && !this.tls) ext.push('STARTTLS');
        return this.send(ext.map((e) => `250 ${e}`).join('\n'));
      }
      case 'STARTTLS': {
        if (this.o.brokenTls && !this.tls) { this.send('220 2.0.0 Ready to start TLS'); this.ended = true; this.sock.end(); return; }
        if (!this.o.tls || this.tls) return this.send('502 5.5.1 Error: command not implemented');
        this.send('220 2.0.0 Ready to start TLS');
        this.sock.off('data', this.onData);
        const secure = new TLSSocket(this.sock, { isServer: true, key: this.o.tls.key, cert: this.o.tls.cert });
        secure.on('error', () => {});
        this.track(secure);
        this.sock = secure;
        this.tls = true;
        this.helo = '';
        this.buf = Buffer.alloc(0);
        this.reset();
        this.listen(secure);
        return;
      }
      case 'MAIL': {
        const m = /^FROM:\s*<([^>]*)>\s*(.*)$/i.exec(arg);
        if (!this.helo) return this.send('503 5.5.1 Error: send HELO/EHLO first');
        if (!m) return this.send('501 5.5.4 Syntax: MAIL FROM:<address>');
        if (this.mailFrom !== undefined) return this.send('503 5.5.1 Error: nested MAIL command');
        const r = this.o.mailReply?.(m[1]!);
        if (r && !r.startsWith('2')) return this.send(r);
        this.mailFrom = m[1]!;
        this.mailParams = m[2]!;
        return this.send(r ?? '250 2.1.0 Ok');
      }
      case 'RCPT': {
        const m = /^TO:\s*<([^>]*)>/i.exec(arg);
        if (this.mailFrom === undefined) return this.send('503 5.5.1 Error: need MAIL command');
        if (!m) return this.send('501 5.5.4 Syntax: RCPT TO:<address>');
        const r = this.o.rcptReplies?.[m[1]!.toLowerCase()];
        if (r && !r.startsWith('2')) this.send(r);
        else { this.rcpts.push(m[1]!); this.send(r ?? '250 2.1.5 Ok'); }
        if (this.mode === 'close-after-rcpt') this.drop();
        return;
      }
      case 'DATA': {
        if (this.mailFrom === undefined) return this.send('503 5.5.1 Error: need MAIL command');
        if (!this.rcpts.length) return this.send('554 5.5.1 Error: no valid recipients');
        const r = this.o.dataReply ?? '354 End data with <CR><LF>.<CR><LF>';
        this.send(r);
        if (r.startsWith('354')) { this.inData = true; this.dataLines = []; this.rawData = []; }
        return;
      }
      case 'RSET': this.reset(); return this.send('250 2.0.0 Ok');
      case 'NOOP': return this.send('250 2.0.0 Ok');
      case 'QUIT': this.send('221 2.0.0 Bye'); this.ended = true; this.sock.end(); return;
      default: return this.send('502 5.5.2 Error: command not recognized');
    }
  }

  private dataLine(line: Buffer): void {
    this.rawData.push(line);
    if (this.mode === 'close-in-data') return this.drop();
    const body = line.toString('latin1').replace(/\r?\n$/, '');
    if (body === '.') {
      this.inData = false;
      this.finish();
      return;
    }
    // RFC 5321 §4.5.2: a leading dot was added by the client; take it away.
    this.dataLines.push(line[0] === 0x2e ? line.subarray(1) : line);
  }

  private finish(): void {
    const msg: SinkMessage = {
      helo: this.helo, tls: this.tls, mailFrom: this.mailFrom ?? '', mailParams: this.mailParams,
      rcptTo: [...this.rcpts], data: Buffer.concat(this.dataLines), raw: Buffer.concat(this.rawData),
    };
    this.messages.push(msg);
    if (this.o.lmtp) {
      for (const r of this.rcpts) this.send(this.o.endReply?.(msg, r) ?? `250 2.0.0 <${r}> Ok: saved`);
    } else {
      this.send(this.o.endReply?.(msg) ?? `250 2.0.0 Ok: queued as SINK${this.nextId()}`);
    }
    this.reset();
  }

  private reset(): void {
    this.mailFrom = undefined;
    this.mailParams = '';
    this.rcpts = [];
  }
}

/**
 * testCertificate - a throw-away self-signed certificate for `sink.test`, made with the openssl
 * command; undefined (with the reason) when openssl is not available.
 */
export function testCertificate(t: TestContext): { key: string; cert: string } | { reason: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=sink.test'], { timeout: 20_000, encoding: 'utf8' });
  if (r.error || r.status !== 0) return { reason: `openssl could not make a test certificate: ${r.error?.message ?? r.stderr}` };
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
}
