/**
 * @module delivery/client
 * The SMTP and LMTP client shared by the smtp and lmtp agents: one session with one server
 * address, then the loop that tries addresses in order until every recipient has a result.
 *
 * Session (RFC 5321 §3, RFC 2033 for LMTP): connect, greeting, EHLO or LHLO, STARTTLS when
 * offered and $smtp_tls_security_level asks for it (RFC 3207), MAIL FROM (with SIZE=, RFC 1870),
 * RCPT TO per recipient, DATA with dot-stuffing (RFC 5321 §4.5.2) streamed from the spool,
 * QUIT. With PIPELINING (RFC 2920) MAIL, every RCPT and DATA go out in one write.
 *
 * Failure modes, in Postfix's words so that log readers keep working:
 * - cannot connect → deferred 4.4.1 `connect to NAME[ADDR]:PORT: Connection refused`, relay=none;
 *   the next address is tried;
 * - greeting, EHLO or TLS trouble, or a connection lost before the message was sent → the next
 *   address is tried for the recipients without a result (Postfix: a "site" failure);
 * - a 4xx/5xx reply to MAIL, RCPT, DATA or the final dot → that recipient (or all, for MAIL and
 *   DATA) is deferred/bounced with `host NAME[ADDR] said: … (in reply to X command)`; other
 *   addresses are not tried for it in this attempt;
 * - timeouts ($smtp_*_timeout) and a lost connection → deferred 4.4.2.
 *
 * BODY=8BITMIME and SMTPUTF8 are passed on when offered (an SMTPUTF8 message to a server
 * without it bounces 5.6.7, RFC 6531 §3.4).
 *
 * XXX: no DSN parameters (NOTIFY, ORCPT, RET, ENVID) on MAIL/RCPT yet; no TLS session reuse, no
 * connection caching, and one session per request (the queue groups recipients per nexthop).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/config.js';
import type { DeliveryRecipient, DeliveryRequest, RecipientResult } from './types.js';
import { abortText, replyDsn, replyText, Wire, WireError, type ServerReply } from './wire.js';
import { stuffDots } from './dotstuff.js';

/** Where a session connects. `name` is the host name for logs (the address itself for literals). */
export type Endpoint =
  | { readonly kind: 'inet'; readonly name: string; readonly addr: string; readonly port: number }
  | { readonly kind: 'unix'; readonly name: string; readonly path: string; /** As configured (may be relative), for logs. */ readonly shown?: string };

export interface Timeouts {
  /** Seconds; 0 leaves connecting to the operating system (postconf(5) lmtp_connect_timeout). */
  readonly connect: number;
  readonly helo: number;
  readonly starttls: number;
  readonly mail: number;
  readonly rcpt: number;
  readonly dataInit: number;
  readonly dataXfer: number;
  readonly dataDone: number;
  readonly quit: number;
}

export interface ClientOptions {
  readonly protocol: 'smtp' | 'lmtp';
  readonly heloName: string;
  readonly tls: 'none' | 'may' | 'encrypt';
  readonly timeouts: Timeouts;
  readonly signal: AbortSignal;
}

/** clientOptions - the session settings an agent reads from the configuration. */
export function clientOptions(cfg: Config, protocol: 'smtp' | 'lmtp', signal: AbortSignal): ClientOptions {
  const level = cfg.get('smtp_tls_security_level').trim().toLowerCase();
  return {
    protocol,
    heloName: cfg.get(protocol === 'lmtp' ? 'lmtp_lhlo_name' : 'smtp_helo_name') || cfg.get('myhostname') || 'localhost',
    // LMTP runs to a trusted local store; Postfix's lmtp_tls_security_level is empty by default.
    tls: protocol === 'lmtp' ? 'none' : level === 'may' ? 'may' : level === 'encrypt' ? 'encrypt' : 'none',
    timeouts: {
      connect: cfg.time(protocol === 'lmtp' ? 'lmtp_connect_timeout' : 'smtp_connect_timeout'),
      helo: cfg.time('smtp_helo_timeout'),
      starttls: cfg.time('smtp_starttls_timeout'),
      mail: cfg.time('smtp_mail_timeout'),
      rcpt: cfg.time('smtp_rcpt_timeout'),
      dataInit: cfg.time('smtp_data_init_timeout'),
      dataXfer: cfg.time('smtp_data_xfer_timeout'),
      dataDone: cfg.time('smtp_data_done_timeout'),
      quit: cfg.time('smtp_quit_timeout'),
    },
    signal,
  };
}

/**
 * attemptSignal - the caller's signal bounded by $mxguard_delivery_timeout, so that no agent
 * outlives one delivery attempt whatever the per-command timeouts add up to.
 */
export function attemptSignal(cfg: Config, signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(cfg.time('mxguard_delivery_timeout') * 1000)]);
}

/** A result for the recipients that a session could not settle, used when no address is left. */
export interface Failure {
  readonly status: 'deferred' | 'bounced';
  readonly dsn: string;
  readonly relay: string;
  readonly text: string;
  readonly remoteReply?: string;
}

export interface AttemptOutcome {
  /** Per recipient of the attempt, in order: its result, or undefined to try the next address. */
  readonly results: readonly (RecipientResult | undefined)[];
  /** Why the undefined ones are unsettled. */
  readonly failure?: Failure;
  /** The TLS handshake failed at level "may": try the same address again without STARTTLS. */
  readonly retryPlaintext?: boolean;
}

/** Host as Postfix names it in texts: `name[addr]` (LMTP over a socket: `name[path]`). */
export function hostLabel(ep: Endpoint): string {
  return ep.kind === 'inet' ? `${ep.name}[${ep.addr}]` : `${ep.name}[${ep.shown ?? ep.path}]`;
}

/** relay= of the log line: `name[addr]:port`, or `name[path]`. */
export function relayLabel(ep: Endpoint): string {
  return ep.kind === 'inet' ? `${hostLabel(ep)}:${ep.port}` : hostLabel(ep);
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTSOCK: 'Socket operation on non-socket',
};

/** strerror(3)-style text for a connect error, as Postfix prints it. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return (code && ERRNO_TEXT[code]) || (e instanceof Error ? e.message : String(e));
}

function connectSocket(ep: Endpoint, timeoutSec: number, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = ep.kind === 'inet' ? netConnect({ host: ep.addr, port: ep.port }) : netConnect({ path: ep.path });
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      s.off('connect', onConnect);
      s.off('error', onError);
    };
    const onConnect = () => { cleanup(); resolve(s); };
    const onError = (e: Error) => { cleanup(); s.destroy(); reject(e); };
    const onAbort = () => { cleanup(); s.destroy(); reject(new WireError('aborted', abortText(signal.reason))); };
    const timer = timeoutSec > 0
      ? setTimeout(() => onError(Object.assign(new Error('Connection timed out'), { code: 'ETIMEDOUT' })), timeoutSec * 1000)
      : undefined;
    s.once('connect', onConnect);
    s.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}

/** The stage a session is in, for `while …` in texts. */
type Stage = 'greeting' | 'helo' | 'starttls' | 'mail' | 'rcpt' | 'data' | 'body' | 'dot';

function stageText(stage: Stage, protocol: 'smtp' | 'lmtp'): string {
  switch (stage) {
    case 'greeting': return 'receiving the initial server greeting';
    case 'helo': return `performing the ${protocol === 'lmtp' ? 'LHLO' : 'EHLO'} handshake`;
    case 'starttls': return 'performing the STARTTLS handshake';
    case 'mail': return 'sending MAIL FROM';
    case 'rcpt': return 'sending RCPT TO';
    case 'data': return 'sending DATA command';
    case 'body': return 'sending message body';
    // After the dot the server may have taken the message: a retry can duplicate it.
    case 'dot': return 'sending end of data -- message may be sent more than once';
  }
}

/** The extensions of an EHLO/LHLO reply (RFC 5321 §4.1.1.1): keyword → parameters. */
function parseExtensions(r: ServerReply): Map<string, string> {
  const ext = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.trim());
    if (m) ext.set(m[1]!.toUpperCase(), (m[2] ?? '').trim());
  }
  return ext;
}

const isOk = (r: ServerReply) => r.code >= 200 && r.code < 300;

/** An ill-formed or unexpected reply (1xx/3xx where 2xx/4xx/5xx belongs) counts as temporary. */
function statusOf(r: ServerReply): RecipientResult['status'] {
  if (r.code >= 500) return 'bounced';
  if (r.code >= 200 && r.code < 300) return 'sent';
  return 'deferred';
}

function dsnOf(r: ServerReply): string {
  const d = replyDsn(r);
  return r.code >= 400 || isOk(r) ? d : '4.0.0';
}

/** A class-5 reply made temporary: smtp_skip_5xx_greeting treats it as this server's problem. */
function softDsn(d: string): string {
  return d.startsWith('5.') ? `4.${d.slice(2)}` : d;
}

class Session {
  private readonly host: string;
  private readonly relay: string;
  private readonly t0 = performance.now();
  private tSetup = 0;
  private stage: Stage = 'greeting';
  private readonly results: (RecipientResult | undefined)[];
  private bodyStarted = false;

  constructor(
    private readonly ep: Endpoint,
    private readonly wire: Wire,
    private readonly req: DeliveryRequest,
    private readonly rcpts: readonly DeliveryRecipient[],
    private readonly o: ClientOptions,
    private readonly noTls: boolean,
  ) {
    this.host = hostLabel(ep);
    this.relay = relayLabel(ep);
    this.results = rcpts.map(() => undefined);
  }

  private timing() {
    const now = performance.now();
    const setup = this.tSetup || now;
    return { connSetup: (setup - this.t0) / 1000, transmission: (now - setup) / 1000 };
  }

  private settle(i: number, status: RecipientResult['status'], dsn: string, text: string, remoteReply?: string): void {
    if (this.results[i]) return;
    this.results[i] = {
      address: this.rcpts[i]!.address, status, dsn, relay: this.relay, text,
      ...(remoteReply !== undefined ? { remoteReply } : {}), ...this.timing(),
    };
  }

  /** `host NAME[ADDR] said: 550 5.1.1 … (in reply to RCPT TO command)` */
  private fromReply(i: number, r: ServerReply, command: string): void {
    const st = statusOf(r);
    if (st === 'sent') this.settle(i, 'sent', replyDsn(r), replyText(r), replyText(r));
    else this.settle(i, st, dsnOf(r), `host ${this.host} said: ${replyText(r)} (in reply to ${command} command)`, replyText(r));
  }

  private siteFailure(f: Omit<Failure, 'relay'>, extra: Partial<AttemptOutcome> = {}): AttemptOutcome {
    return { results: this.results, failure: { relay: this.relay, ...f }, ...extra };
  }

  private async send(line: string, timeout = this.o.timeouts.dataXfer): Promise<void> {
    await this.wire.write(line + '\r\n', timeout);
  }

  async run(): Promise<AttemptOutcome> {
    try {
      return await this.converse();
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      const what = e.failure === 'timeout' ? `conversation with ${this.host} timed out while ${stageText(this.stage, this.o.protocol)}`
        : e.failure === 'lost' ? `lost connection with ${this.host} while ${stageText(this.stage, this.o.protocol)}`
        : e.failure === 'aborted' ? `conversation with ${this.host} interrupted while ${stageText(this.stage, this.o.protocol)}: ${e.message}`
        : `protocol error with ${this.host} while ${stageText(this.stage, this.o.protocol)}: ${e.message}`;
      const failure: Omit<Failure, 'relay'> = { status: 'deferred', dsn: '4.4.2', text: what };
      // Nothing is delivered until the body is sent: another address may still take the rest.
      if (!this.bodyStarted && e.failure !== 'aborted') return this.siteFailure(failure);
      this.rcpts.forEach((_, i) => this.settle(i, failure.status, failure.dsn, failure.text));
      return { results: this.results };
    }
  }

  private async converse(): Promise<AttemptOutcome> {
    const t = this.o.timeouts;
    const lmtp = this.o.protocol === 'lmtp';

    // RFC 5321 §4.3.1: the greeting is 220 (any 2xx is taken); 554 means "no service here".
    this.stage = 'greeting';
    const greeting = await this.wire.read(t.helo);
    if (!isOk(greeting)) {
      // postconf(5) smtp_skip_5xx_greeting (default yes): a server that greets with 5xx is
      // skipped like one that is down, so the mail is deferred, not bounced.
      await this.quit();
      return this.siteFailure({ status: 'deferred', dsn: softDsn(dsnOf(greeting)), text: `host ${this.host} refused to talk to me: ${replyText(greeting)}`, remoteReply: replyText(greeting) });
    }

    this.stage = 'helo';
    let ext = await this.hello();
    if (!ext.ok) return ext.outcome;

    // noTls: the second connection after a failed handshake at level "may" goes without TLS.
    if (!lmtp && this.o.tls !== 'none' && !this.noTls) {
      if (ext.ext.has('STARTTLS')) {
        this.stage = 'starttls';
        await this.send('STARTTLS');
        const r = await this.wire.read(t.starttls);
        if (r.code === 220) {
          const up = await this.upgrade();
          if (up) return up;
          this.stage = 'helo';
          ext = await this.hello();
          if (!ext.ok) return ext.outcome;
        } else if (this.o.tls === 'encrypt') {
          await this.quit();
          return this.siteFailure({ status: 'deferred', dsn: '4.7.4', text: `TLS is required, but host ${this.host} refused to start TLS: ${replyText(r)}`, remoteReply: replyText(r) });
        }
      } else if (this.o.tls === 'encrypt') {
        await this.quit();
        return this.siteFailure({ status: 'deferred', dsn: '4.7.4', text: `TLS is required, but was not offered by host ${this.host}` });
      }
    }
    this.tSetup = performance.now();
    const extensions = ext.ext;

    // RFC 1870 §6: a message larger than the server's declared limit is not even offered.
    const limit = Number(extensions.get('SIZE') ?? '0');
    if (extensions.has('SIZE') && limit > 0 && this.req.size > limit) {
      this.rcpts.forEach((_, i) => this.settle(i, 'bounced', '5.3.4', `message size ${this.req.size} exceeds size limit ${limit} of server ${this.host}`));
      await this.quit();
      return { results: this.results };
    }

    // RFC 6531 §3.4: a message that needs SMTPUTF8 cannot go to a server without it.
    if (this.req.smtputf8 && !lmtp && !extensions.has('SMTPUTF8')) {
      this.rcpts.forEach((_, i) => this.settle(i, 'bounced', '5.6.7', `SMTPUTF8 is required, but was not offered by host ${this.host}`));
      await this.quit();
      return { results: this.results };
    }
    // RFC 6152: pass on what the client declared, where the server understands it.
    const params = (extensions.has('SIZE') ? ` SIZE=${this.req.size}` : '')
      + (this.req.body === '8BITMIME' && extensions.has('8BITMIME') ? ' BODY=8BITMIME' : '')
      + (this.req.smtputf8 && extensions.has('SMTPUTF8') ? ' SMTPUTF8' : '');
    const mailCmd = `MAIL FROM:<${this.req.sender}>${params}`;
    const rcptCmds = this.rcpts.map((r) => `RCPT TO:<${r.address}>`);
    const accepted: number[] = [];
    let mail: ServerReply;
    let data: ServerReply | undefined;

    if (extensions.has('PIPELINING')) {
      // RFC 2920 §3.1: MAIL, RCPT and DATA may all be sent before any reply is read; DATA is
      // the last of the group. Replies then come in command order.
      this.stage = 'mail';
      await this.wire.write([mailCmd, ...rcptCmds, 'DATA'].map((c) => c + '\r\n').join(''), t.dataXfer);
      mail = await this.wire.read(t.mail);
      this.stage = 'rcpt';
      for (let i = 0; i < rcptCmds.length; i++) {
        const r = await this.wire.read(t.rcpt);
        if (isOk(mail) && isOk(r)) accepted.push(i);
        else if (isOk(mail)) this.fromReply(i, r, 'RCPT TO');
      }
      this.stage = 'data';
      data = await this.wire.read(t.dataInit);
    } else {
      this.stage = 'mail';
      await this.send(mailCmd);
      mail = await this.wire.read(t.mail);
      if (isOk(mail)) {
        this.stage = 'rcpt';
        for (let i = 0; i < rcptCmds.length; i++) {
          await this.send(rcptCmds[i]!);
          const r = await this.wire.read(t.rcpt);
          if (isOk(r)) accepted.push(i);
          else this.fromReply(i, r, 'RCPT TO');
        }
        if (accepted.length) {
          this.stage = 'data';
          await this.send('DATA');
          data = await this.wire.read(t.dataInit);
        }
      }
    }

    if (!isOk(mail)) this.rcpts.forEach((_, i) => this.fromReply(i, mail, 'MAIL FROM'));

    if (data && data.code === 354 && !accepted.length) {
      // A pipelining server that answers DATA with 354 though it took no recipient: end the
      // empty message at once; RFC 2920 §3.1 says it should have refused DATA (503/554).
      this.stage = 'dot';
      await this.send('.');
      await this.wire.read(t.dataDone).catch(() => undefined);
    } else if (data && accepted.length && data.code !== 354) {
      for (const i of accepted) this.fromReply(i, data, 'DATA');
    } else if (data && accepted.length) {
      this.stage = 'body';
      this.bodyStarted = true;
      const readError = await this.sendBody();
      if (readError) {
        // The spool could not be read: drop the connection without the final dot, so the
        // server discards the partial message (RFC 5321 §3.8).
        for (const i of accepted) this.settle(i, 'deferred', '4.3.0', `error reading message: ${readError.message}`);
        this.wire.current.destroy();
        return { results: this.results };
      }
      this.stage = 'dot';
      if (lmtp) {
        // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
        for (const i of accepted) this.fromReply(i, await this.wire.read(t.dataDone), 'end of DATA');
      } else {
        const r = await this.wire.read(t.dataDone);
        for (const i of accepted) this.fromReply(i, r, 'end of DATA');
      }
    }
    await this.quit();
    return { results: this.results };
  }

  /** EHLO (LHLO for LMTP); an SMTP server that refuses EHLO gets HELO (RFC 5321 §3.2). */
  private async hello(): Promise<{ ok: true; ext: Map<string, string> } | { ok: false; outcome: AttemptOutcome }> {
    const t = this.o.timeouts;
    const verb = this.o.protocol === 'lmtp' ? 'LHLO' : 'EHLO';
    await this.send(`${verb} ${this.o.heloName}`);
    let r = await this.wire.read(t.helo);
    let command = verb;
    if (!isOk(r) && verb === 'EHLO' && r.code >= 500) {
      command = 'HELO';
      await this.send(`HELO ${this.o.heloName}`);
      const h = await this.wire.read(t.helo);
      if (isOk(h)) return { ok: true, ext: new Map() };
      r = h;
    }
    if (isOk(r)) return { ok: true, ext: parseExtensions(r) };
    await this.quit();
    return {
      ok: false,
      outcome: this.siteFailure({ status: 'deferred', dsn: softDsn(dsnOf(r)), text: `host ${this.host} refused to talk to me: ${replyText(r)} (in reply to ${command} command)`, remoteReply: replyText(r) }),
    };
  }

  /** TLS over the connection after `220` to STARTTLS (RFC 3207 §4.2); an outcome when it failed. */
  private async upgrade(): Promise<AttemptOutcome | undefined> {
    const plain = this.wire.current;
    if (!this.wire.suspend()) {
      plain.destroy();
      return this.siteFailure({ status: 'deferred', dsn: '4.7.5', text: `host ${this.host} sent data after its reply to STARTTLS (possible command injection); connection dropped` });
    }
    const servername = this.ep.kind === 'inet' && !isIP(this.ep.name) ? this.ep.name : undefined;
    let sock: TLSSocket | undefined;
    try {
      sock = await new Promise<TLSSocket>((resolve, reject) => {
        // Level may/encrypt: encryption without authentication, as Postfix's levels of these
        // names; certificate checking belongs to the verify/secure levels (not offered).
        const s = tlsConnect({ socket: plain, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
        const signal = this.o.signal;
        const done = (e?: Error) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          s.off('secureConnect', onOk);
          s.off('error', done);
          if (e) { s.on('error', () => {}); s.destroy(); reject(e); } else resolve(s);
        };
        const onOk = () => done();
        const onAbort = () => done(new WireError('aborted', abortText(signal.reason)));
        const timer = setTimeout(() => done(new Error('handshake timed out')), this.o.timeouts.starttls * 1000);
        s.once('secureConnect', onOk);
        s.once('error', done);
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
      });
    } catch (e) {
      if (e instanceof WireError) throw e;
      plain.destroy();
      const text = `Cannot start TLS: handshake failure with ${this.host}: ${(e as Error).message}`;
      if (this.o.tls === 'may') return this.siteFailure({ status: 'deferred', dsn: '4.7.5', text }, { retryPlaintext: true });
      return this.siteFailure({ status: 'deferred', dsn: '4.7.5', text });
    }
    this.wire.resume(sock);
    return undefined;
  }

  /** The message, dot-stuffed, then `.`; undefined when sent, the error when the spool failed. */
  private async sendBody(): Promise<Error | undefined> {
    const src = this.req.openMessage();
    const pieces = stuffDots(src)[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await pieces.next();
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
        if (next.done) return undefined;
        await this.wire.write(next.value, this.o.timeouts.dataXfer);
      }
    } finally {
      src.destroy();
    }
  }

  /** QUIT and wait briefly for its reply; nothing here changes a result any more. */
  private async quit(): Promise<void> {
    try {
      await this.send('QUIT');
      await this.wire.read(this.o.timeouts.quit);
    } catch {
      // The server may close without answering QUIT; that is its right after results are in.
    }
  }
}

/**
 * deliverTo - one session with one server address for `rcpts` of `req`.
 * Connect failures and early trouble leave recipients undefined for the next address.
 */
export async function deliverTo(
  ep: Endpoint, req: DeliveryRequest, rcpts: readonly DeliveryRecipient[], o: ClientOptions, noTls = false,
): Promise<AttemptOutcome> {
  let socket: Socket;
  try {
    socket = await connectSocket(ep, o.timeouts.connect, o.signal);
  } catch (e) {
    const where = ep.kind === 'inet' ? `${hostLabel(ep)}:${ep.port}` : hostLabel(ep);
    const text = e instanceof WireError ? `connect to ${where}: ${e.message}` : `connect to ${where}: ${errnoText(e)}`;
    return { results: rcpts.map(() => undefined), failure: { status: 'deferred', dsn: '4.4.1', relay: 'none', text } };
  }
  const wire = new Wire(socket, o.signal);
  try {
    return await new Session(ep, wire, req, rcpts, o, noTls).run();
  } finally {
    // After QUIT's reply (or a failure) nothing more is read: close at once.
    wire.release();
    wire.current.destroy();
  }
}

/**
 * deliverVia - tries `endpoints` in order until every recipient has a result; what is left
 * gets the last failure. Endpoints may be produced lazily, so that later MX hosts are
 * resolved only when the earlier ones failed.
 */
export async function deliverVia(
  req: DeliveryRequest, endpoints: Iterable<Endpoint> | AsyncIterable<Endpoint>, o: ClientOptions,
): Promise<RecipientResult[]> {
  const results: (RecipientResult | undefined)[] = req.recipients.map(() => undefined);
  let last: Failure | undefined;
  for await (const ep of endpoints) {
    if (o.signal.aborted) break;
    const pending = results.flatMap((r, i) => (r ? [] : [i]));
    if (!pending.length) break;
    const rcpts = pending.map((i) => req.recipients[i]!);
    let out = await deliverTo(ep, req, rcpts, o);
    if (out.retryPlaintext && !o.signal.aborted) out = await deliverTo(ep, req, rcpts, o, true);
    out.results.forEach((r, k) => { if (r) results[pending[k]!] = r; });
    last = out.failure ?? last;
  }
  const f: Failure = last && !o.signal.aborted
    ? last
    : { status: 'deferred', dsn: '4.4.2', relay: 'none', text: o.signal.aborted ? abortText(o.signal.reason) : 'no server address to try' };
  return results.map((r, i) => r ?? {
    address: req.recipients[i]!.address, status: f.status, dsn: f.dsn, relay: f.relay, text: f.text,
    ...(f.remoteReply !== undefined ? { remoteReply: f.remoteReply } : {}),
  });
}
