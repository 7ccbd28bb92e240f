/**
 * @module smtp/session
 * One SMTP session: the command loop, one handler per verb (a typed table), the transaction,
 * and the one place where replies are written. Decisions come from the engine; accepted
 * mail goes to the durable spool before the 250 (DESIGN.md "Durable before 250").
 *
 * Protocol: RFC 5321, PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
 * ENHANCEDSTATUSCODES (RFC 2034/3463), SMTPUTF8 (RFC 6531), CHUNKING/BDAT (RFC 3030),
 * STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954, RFC 4616; the exchange is in sasl.ts). Replies and log lines follow
 * Postfix's smtpd(8) wording so that runbooks, pflogsumm and fail2ban keep working.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Config } from '../config/config.js';
import type { ClientInfo, Decision, TransactionActions, TransactionContext } from '../engine/types.js';
import { evaluateRcpt, evaluateStage } from '../engine/index.js';
import { decisionTraceLines, shouldTrace } from './decision-log.js';
import { namaddr, type Logger } from '../log/logger.js';
import type { Envelope as QueuedEnvelope, QueuedMessage, Spool, SpoolWriter } from '../queue/spool.js';
import { newQueueId } from '../queue/queue-id.js';
import { parseMailFrom, parseRcptTo } from './address.js';
import { InputReader, type BdatState, type DataFlags } from './reader.js';
import { renderReply, reply, replyLine, type Reply } from './reply.js';
import { receivedHeader } from './received.js';
import { passwordSasl, type SaslBackend, type SaslContext, type SaslServer } from './sasl.js';
import { SessionLimits } from '../limits/index.js';
import { dovecotSasl } from '../auth/dovecot-sasl.js';
import { applyXclient, parseXclient, XCLIENT_EHLO_LINE, XCLIENT_IN_TRANSACTION, XCLIENT_SYNTAX, XCLIENT_UNAUTHORIZED } from './xclient.js';
import type { NetworkList } from '../engine/networks.js';
import { startInboundAuth, type InboundAuth } from '../mailauth/index.js';
import { ForgedResultsFilter } from '../mailauth/forged.js';

export interface SessionDeps {
  readonly config: Config;
  readonly service: string;
  readonly logger: Logger;
  readonly spool: Spool;
  /** Checks AUTH credentials (mxguard's password file). */
  readonly passwd: SaslBackend;
  /** TLS context when smtpd_tls_cert_file is set. */
  readonly tlsContext?: SecureContext;
  /** The socket is already TLS (smtpd_tls_wrappermode). */
  readonly implicitTls: boolean;
  readonly onQueued: (msg: QueuedMessage) => void;
  /** smtpd_authorized_xclient_hosts, built once per listener; absent when empty. */
  readonly xclientHosts?: NetworkList;
}

type Verb = 'HELO' | 'EHLO' | 'XCLIENT' | 'STARTTLS' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA' | 'BDAT' | 'RSET' | 'NOOP' | 'VRFY' | 'ETRN' | 'QUIT';

interface VerbSpec {
  /** Counts toward smtpd_junk_command_limit (smtpd.c: HELO, EHLO, RSET, NOOP, VRFY, ETRN). */
  readonly junk: boolean;
  readonly run: (s: Session, arg: string) => Promise<void>;
}

/** Order of the disconnect statistics, as Postfix prints them. */
const STAT_ORDER = ['helo', 'ehlo', 'xclient', 'starttls', 'auth', 'mail', 'rcpt', 'data', 'bdat', 'rset', 'noop', 'vrfy', 'etrn', 'quit', 'unknown'] as const;

/** Commands that show a client is not speaking SMTP (postconf(5) smtpd_forbidden_commands). */
const FORBIDDEN = /^(CONNECT|GET|POST|PUT|HEAD|OPTIONS|USER|PASS)\b|^[A-Za-z-]+:/i;

interface Transaction {
  sender: string;
  smtputf8: boolean;
  body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  ret?: 'FULL' | 'HDRS';
  declaredSize?: number;
  recipients: { address: string; orig?: string; notify?: string[] }[];
  rcptTotal: number;
  queueId?: string;
  /** The queue file, opened at the first accepted recipient (so DATA does not wait for it). */
  writer?: Promise<SpoolWriter>;
  /** What access-map actions asked of this message (HOLD, DISCARD, FILTER, REDIRECT, BCC, PREPEND). */
  actions?: TransactionActions;
  bdat?: { writer?: SpoolWriter; state: BdatState; failed?: Reply; size: number; headers: HeaderScan };
  /** SPF done at MAIL FROM; DKIM/DMARC of the message as it arrives (mailauth/). */
  auth?: InboundAuth;
  /** Drops Authentication-Results: fields that claim this host's authserv-id (RFC 8601 §5). */
  forged?: ForgedResultsFilter;
}

/** Collects the header section (bounded) to find Message-ID for the cleanup log line. */
class HeaderScan {
  private parts: Buffer[] = [];
  private len = 0;
  done = false;
  push(chunk: Buffer) {
    if (this.done) return;
    this.parts.push(chunk); this.len += chunk.length;
    const b = Buffer.concat(this.parts);
    if (b.indexOf('\r\n\r\n') >= 0 || b.subarray(0, 2).toString() === '\r\n' || this.len > 65536) this.done = true;
    this.parts = [b];
  }
  messageId(): string {
    const text = Buffer.concat(this.parts).toString('latin1');
    const head = text.split('\r\n\r\n')[0] ?? '';
    const m = /^message-id:[ \t]*((?:.*)(?:\r\n[ \t].*)*)/im.exec(head);
    return m ? m[1]!.replace(/\r\n[ \t]+/g, ' ').trim() : '';
  }
}

export class Session {
  private conn: Socket;
  private readonly reader: InputReader;
  private out: string[] = [];
  private readonly cfg: Config;
  private readonly host: string;
  private helo: string | undefined;
  private esmtp = false;
  private tls: boolean;
  private tlsInfo: { protocol: string; cipher: string; bits: number } | undefined;
  private sasl: { method: string; username: string } | undefined;
  private tx: Transaction | undefined;
  /** The client sent commands ahead where that is not allowed (reject_unauth_pipelining). */
  private illegalPipelining = false;
  /** smtpd_delay_reject = no and the client list rejected: every command but QUIT gets 503. */
  private accessDenied = false;
  /** DEFER_IF_PERMIT pending after each stage evaluated at its own command (smtpd_delay_reject = no). */
  private deferIfPermit: { client?: Reply; helo?: Reply; sender?: Reply } = {};
  private errorCount = 0;
  private junkCount = 0;
  private readonly stats = new Map<string, { ok: number; total: number }>();
  private lastCommand = 'CONNECT';
  private closing = false;
  private shutdownRequested = false;
  private clientLog: string;
  /** The client may send XCLIENT (smtpd_authorized_xclient_hosts); decided again after each XCLIENT. */
  private xclientAllowed = false;
  /** Rate limits and ban offences (limits/, bans/). */
  private readonly limits: SessionLimits;

  constructor(socket: Socket, public client: ClientInfo, private readonly deps: SessionDeps) {
    this.conn = socket;
    this.cfg = deps.config;
    this.host = this.cfg.get('myhostname');
    this.tls = deps.implicitTls;
    this.reader = new InputReader(socket);
    this.clientLog = namaddr(client.name, client.address, this.cfg.bool('smtpd_client_port_logging') ? client.port : undefined);
    this.xclientAllowed = deps.xclientHosts?.matches(client.address, client.name) ?? false;
    this.limits = new SessionLimits({ config: this.cfg, logger: deps.logger, service: deps.service, xclientHosts: deps.xclientHosts, address: client.address, name: client.name, clientLog: this.clientLog });
    if (deps.implicitTls && socket instanceof TLSSocket) this.noteTls(socket);
  }

  private log(text: string) { this.deps.logger.line('smtpd', text, this.syslogName()); }
  private syslogName(): string { return this.cfg.get('syslog_name'); }

  /** Asks the session to end at its next idle moment (SIGTERM). */
  requestShutdown(): void {
    this.shutdownRequested = true;
    if (!this.tx) this.reader.interrupt();
  }

  /** Ends the session now with 421 (shutdown deadline passed). */
  forceClose(): void {
    if (this.closing) return;
    this.send(reply(421, '3.2', `${this.host} Service shutting down, closing transmission channel`));
    this.flush();
    this.closing = true;
    this.conn.destroySoon?.();
    setTimeout(() => this.conn.destroy(), 1000).unref();
  }

  // ---- output -------------------------------------------------------------------------

  private send(r: Reply) { this.out.push(renderReply(r)); }

  /** Writes all pending replies in one write (pipelined replies go out together, RFC 2920 §3.2). */
  private flush() {
    if (!this.out.length || this.conn.destroyed) { this.out = []; return; }
    const s = this.out.length === 1 ? this.out[0]! : this.out.join('');
    this.out = [];
    this.conn.write(s);
  }

  /** Sends an error reply: counts it and applies smtpd_error_sleep_time past the soft limit. */
  private async fail(r: Reply) {
    this.errorCount++;
    if (this.errorCount >= this.cfg.int('smtpd_soft_error_limit')) {
      const ms = this.cfg.time('smtpd_error_sleep_time') * 1000;
      if (ms > 0) { this.flush(); await new Promise((res) => setTimeout(res, ms)); }
    }
    this.send(r);
  }

  private count(name: string, ok: boolean) {
    const s = this.stats.get(name) ?? { ok: 0, total: 0 };
    s.total++; if (ok) s.ok++;
    this.stats.set(name, s);
  }

  // ---- the command loop ---------------------------------------------------------------

  async run(): Promise<void> {
    this.log(`connect from ${this.clientLog}`);
    await this.greet();
    const timeout = this.cfg.time('smtpd_timeout') * 1000;
    const hardLimit = this.cfg.int('smtpd_hard_error_limit');
    try {
      while (!this.closing) {
        if (this.errorCount >= hardLimit) {
          this.log(`too many errors after ${this.lastCommand} from ${this.clientLog}`);
          await this.limits.errorLimit();
          this.send(reply(421, '7.0', `${this.host} Error: too many errors`));
          break;
        }
        if (this.shutdownRequested && !this.tx) {
          this.send(reply(421, '3.2', `${this.host} Service shutting down, closing transmission channel`));
          break;
        }
        if (this.reader.pending === 0) this.flush();
        const limit = this.cfg.int('mxguard_command_line_limit');
        const r = await this.reader.readLine(limit, timeout);
        if (r.kind === 'eof') { this.log(`lost connection after ${this.lastCommand} from ${this.clientLog}`); break; }
        if (r.kind === 'timeout') {
          this.log(`timeout after ${this.lastCommand} from ${this.clientLog}`);
          this.send(reply(421, '4.2', `${this.host} Error: timeout exceeded`));
          break;
        }
        if (r.kind === 'interrupted') continue;
        if (r.kind === 'too-long') {
          this.count('unknown', false);
          await this.fail(reply(500, '5.2', 'Error: command line too long'));
          continue;
        }
        if (r.kind === 'bare-newline') {
          if (await this.bareNewlineInCommand()) break;
          continue;
        }
        await this.command(r.line);
      }
    } catch (e) {
      this.deps.logger.line('smtpd', `warning: ${this.clientLog}: ${(e as Error).message}`, this.syslogName());
      if (!this.conn.destroyed) this.send(reply(421, '3.0', `${this.host} Error: internal error`));
    } finally {
      await this.abortTransaction();
      this.flush();
      this.logDisconnect();
      this.closing = true;
      if (!this.conn.destroyed) this.conn.end();
      setTimeout(() => this.conn.destroy(), 5000).unref();
    }
  }

  /**
   * The greeting, or with smtpd_delay_reject = no the client list's reject in its place; the
   * session then answers every command but QUIT with 503 (smtpd.c smtpd_proto()). After
   * XCLIENT the log names the command: `reject: XCLIENT from …`.
   */
  private async greet(where: 'CONNECT' | 'XCLIENT' = 'CONNECT'): Promise<void> {
    this.accessDenied = false;
    this.deferIfPermit = {};
    if (!this.cfg.bool('smtpd_delay_reject')) {
      const d = await this.applyDecision(await evaluateStage('connect', this.context('connect')), where);
      this.deferIfPermit.client = d.deferIfPermit;
      if (d.action === 'reject' && d.reply) {
        this.accessDenied = true;
        this.send(d.reply);
        return;
      }
    }
    this.send(reply(220, undefined, this.cfg.get('smtpd_banner')));
  }

  /** postconf(5) smtpd_forbid_bare_newline = reject: refuse the command; 521 also disconnects. */
  private async bareNewlineInCommand(): Promise<boolean> {
    const code = this.cfg.int('smtpd_forbid_bare_newline_reject_code');
    this.count('unknown', false);
    this.log(`NOQUEUE: reject: ${this.lastCommand === 'CONNECT' ? 'CONNECT' : this.lastCommand} from ${this.clientLog}: bare <LF> received; proto=${this.esmtp ? 'ESMTP' : 'SMTP'}${this.helo ? ` helo=<${this.helo}>` : ''}`);
    await this.fail(reply(code, '5.2', `${this.host} Error: bare <LF> received`));
    // Postfix disconnects after a bare newline in a command: what follows cannot be trusted.
    return true;
  }

  private async command(raw: Buffer): Promise<void> {
    if (raw.includes(0)) {
      this.count('unknown', false);
      await this.fail(reply(500, '5.2', 'Error: NUL character in command'));
      return;
    }
    const eightBit = raw.some((b) => b > 127);
    const line = raw.toString(eightBit ? 'utf8' : 'latin1');
    const m = /^([A-Za-z]+)(?:[ \t]+(.*))?$/s.exec(line.replace(/[ \t]+$/, ''));
    const verb = (m?.[1] ?? '').toUpperCase() as Verb;
    const arg = m?.[2] ?? '';
    if (FORBIDDEN.test(line)) {
      this.deps.logger.line('smtpd', `warning: non-SMTP command from ${this.clientLog}: ${line.slice(0, 100)}`, this.syslogName());
      this.count('unknown', false);
      this.send(reply(221, '7.0', 'Error: I can break rules, too. Goodbye.'));
      this.closing = true;
      return;
    }
    const spec = m ? VERBS[verb] : undefined;
    if (!spec) {
      this.lastCommand = 'UNKNOWN';
      this.count('unknown', false);
      await this.fail(reply(502, '5.2', 'Error: command not recognized'));
      return;
    }
    // 8-bit octets are allowed only in MAIL/RCPT arguments of an SMTPUTF8 transaction (RFC 6531 §3.3).
    if (eightBit && verb !== 'MAIL' && !(verb === 'RCPT' && this.tx?.smtputf8)) {
      this.count(verb.toLowerCase(), false);
      await this.fail(reply(500, '5.2', 'Error: 8-bit characters in command require SMTPUTF8'));
      return;
    }
    if (spec.junk && this.junkCount++ > this.cfg.int('smtpd_junk_command_limit')) this.errorCount++;
    if (this.accessDenied && verb !== 'QUIT') {
      this.count(verb.toLowerCase(), false);
      this.errorCount++;
      this.send(reply(503, '7.0', `Error: access denied for ${namaddr(this.client.name, this.client.address)}`));
      return;
    }
    this.lastCommand = verb;
    this.checkPipelining(verb);
    await spec.run(this, arg);
  }

  private logDisconnect() {
    let total = 0, ok = 0;
    const parts: string[] = [];
    for (const name of STAT_ORDER) {
      const s = this.stats.get(name);
      if (!s) continue;
      total += s.total; ok += s.ok;
      parts.push(s.ok === s.total ? `${name}=${s.ok}` : `${name}=${s.ok}/${s.total}`);
    }
    parts.push(ok === total ? `commands=${ok}` : `commands=${ok}/${total}`);
    this.log(`disconnect from ${this.clientLog} ${parts.join(' ')}`);
  }

  // ---- helpers for handlers -----------------------------------------------------------

  private get proto(): string {
    // RFC 3848 protocol types for Received: and logs.
    return (this.esmtp ? 'ESMTP' : 'SMTP') + (this.esmtp && this.tls ? 'S' : '') + (this.esmtp && this.sasl ? 'A' : '');
  }

  private context(stage: TransactionContext['stage'], recipient?: string): TransactionContext {
    return {
      stage, config: this.cfg, service: this.deps.service, client: this.client, helo: this.helo,
      protocol: this.esmtp ? 'ESMTP' : 'SMTP', tls: this.tls, sasl: this.sasl,
      sender: this.tx?.sender, recipient, recipientCount: this.tx?.recipients.length ?? 0, queueId: this.tx?.queueId,
      deferIfPermit: this.carriedDeferral(stage), illegalPipelining: this.illegalPipelining, discarded: this.tx?.actions?.discard,
      ...(this.tx?.auth ? { spf: { result: this.tx.auth.spf.result, domain: this.tx.auth.spf.domain } } : {}),
    };
  }

  /** The DEFER_IF_PERMIT a stage starts with (smtpd_check.c defer_if_permit_client/_helo/_sender). */
  private carriedDeferral(stage: TransactionContext['stage']): Reply | undefined {
    const d = this.deferIfPermit;
    switch (stage) {
      case 'helo': return d.client;
      case 'mail': case 'etrn': return d.helo ?? d.client;
      case 'rcpt': return d.sender;
      default: return undefined;
    }
  }

  /**
   * Logs what a decision asks for (Postfix's log_whatsup() lines: reject, reject_warning, warn,
   * hold, …; the trace when debug_peer_list or mxguard_trace_log asks for it). A 421 or 521
   * reply also ends the session, as smtpd(8) hangs up after them.
   */
  private async applyDecision(d: Decision, where: string, view: { sender?: string; recipient?: string; helo?: string } = {}): Promise<Decision> {
    const rejected = d.action === 'reject' && d.reply;
    // Most decisions accept quietly: nothing to log, nothing to format.
    if (!rejected && !d.events.length && this.cfg.get('mxguard_trace_log') === 'no' && !this.cfg.list('debug_peer_list').length) return d;
    const sender = 'sender' in view ? view.sender : this.tx?.sender;
    const helo = view.helo ?? this.helo;
    const id = this.tx?.queueId ?? 'NOQUEUE';
    const tail = [
      sender !== undefined ? `from=<${sender}>` : '', view.recipient !== undefined ? `to=<${view.recipient}>` : '',
      `proto=${this.esmtp ? 'ESMTP' : 'SMTP'}`, helo ? `helo=<${helo}>` : '',
    ].filter(Boolean).join(' ');
    for (const e of d.events) {
      if (e.action === 'warning') this.deps.logger.line('smtpd', `warning: ${e.text}`, this.syslogName());
      else this.log(`${id}: ${e.action}: ${where} from ${this.clientLog}: ${e.text}; ${tail}`);
    }
    if (shouldTrace(this.cfg, this.client, d)) {
      for (const line of decisionTraceLines(d)) this.log(`${id}: trace: ${where} from ${this.clientLog}: ${line}`);
    }
    if (d.action === 'reject' && d.reply) {
      this.log(`${id}: reject: ${where} from ${this.clientLog}: ${replyLine(d.reply)}; ${tail}`);
      if (d.reply.code === 421 || d.reply.code === 521) this.closing = true;
      await this.limits.rejected();
    }
    return d;
  }

  /** Adds a decision's access-map actions to the transaction (the last FILTER/REDIRECT/BCC wins). */
  private keepActions(d: Decision, tx: Transaction | undefined = this.tx): void {
    const a = d.actions;
    if (!tx || !(a.hold || a.discard || a.filter || a.redirect || a.bcc || a.prepend.length)) return;
    const t = (tx.actions ??= { prepend: [] });
    if (a.hold) t.hold = true;
    if (a.discard) t.discard = true;
    if (a.filter) t.filter = a.filter;
    if (a.redirect) t.redirect = a.redirect;
    if (a.bcc) t.bcc = a.bcc;
    t.prepend.push(...a.prepend);
  }

  private authOffered(): boolean {
    return this.cfg.bool('smtpd_sasl_auth_enable') && this.saslServer() !== undefined
      && (this.tls || !this.cfg.bool('smtpd_tls_auth_only'));
  }

  /** The SASL server of smtpd_sasl_type: the password file, or Dovecot's auth socket (shared per process). */
  private saslServer(): SaslServer | undefined {
    switch (this.cfg.get('smtpd_sasl_type').toLowerCase()) {
      case 'mxguard': return passwordSasl(this.deps.passwd);
      case 'dovecot': {
        const s = dovecotSasl(this.cfg.get('smtpd_sasl_path'), this.cfg.get('queue_directory'));
        return typeof s === 'string' ? undefined : s;  // config/load.ts already refused a bad path
      }
      default: return undefined;  // cyrus: not supported (config/load.ts warns)
    }
  }

  private saslContext(): SaslContext {
    return {
      secured: this.tls,
      securityOptions: this.cfg.list(this.tls ? 'smtpd_sasl_tls_security_options' : 'smtpd_sasl_security_options'),
      service: this.cfg.get('smtpd_sasl_service'),
      clientAddress: this.client.address, localAddress: this.conn.localAddress,
    };
  }

  private tlsOffered(): boolean {
    const level = this.cfg.get('smtpd_tls_security_level').toLowerCase();
    return !this.tls && !!this.deps.tlsContext && (level === 'may' || level === 'encrypt');
  }

  private tlsRequired(): boolean {
    return !this.tls && this.cfg.get('smtpd_tls_security_level').toLowerCase() === 'encrypt';
  }

  private noteTls(s: TLSSocket) {
    const c = s.getCipher();
    this.tlsInfo = { protocol: s.getProtocol() ?? 'TLS', cipher: c?.name ?? 'unknown', bits: (c as { bits?: number } | undefined)?.bits ?? 0 };
    if (this.cfg.int('smtpd_tls_loglevel') >= 1) {
      this.log(`Anonymous TLS connection established from ${this.clientLog}: ${this.tlsInfo.protocol} with cipher ${this.tlsInfo.cipher}`);
    }
  }

  /**
   * smtpd.c SMTPD_FLAG_ILL_PIPELINING, for reject_unauth_pipelining: input is already waiting
   * when a command starts, and the client has not seen ESMTP (before a successful EHLO, or after
   * HELO), or the command must end a pipelined group (RFC 2920 §3.1: EHLO, DATA, VRFY, NOOP, HELO).
   * Once set it stays for the session.
   */
  private checkPipelining(verb: Verb): void {
    if (this.illegalPipelining || this.reader.pending === 0) return;
    if (this.esmtp && !['HELO', 'EHLO', 'DATA', 'NOOP', 'VRFY'].includes(verb)) return;
    this.illegalPipelining = true;
    const text = this.reader.peek(100).toString('latin1').replace(/[^\x20-\x7e]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`));
    this.log(`improper command pipelining after ${verb} from ${this.clientLog}: ${text}`);
  }

  /** Ends the transaction, if any, and removes its unfinished queue file. */
  private async abortTransaction() {
    const w = this.tx?.writer;
    this.tx?.auth?.abort();
    this.tx = undefined;
    if (w) await w.then((x) => x.abort(), () => {});
  }

  private rejectLogTail(recipient?: string, tx: Transaction | undefined = this.tx): string {
    const t: string[] = [];
    if (tx) t.push(`from=<${tx.sender}>`);
    if (recipient !== undefined) t.push(`to=<${recipient}>`);
    t.push(`proto=${this.esmtp ? 'ESMTP' : 'SMTP'}`);
    if (this.helo) t.push(`helo=<${this.helo}>`);
    if (this.sasl) t.push(`sasl_method=${this.sasl.method}`, `sasl_username=${this.sasl.username}`);
    return t.join(' ');
  }

  /**
   * Runs a stage's restriction list (smtpd_delay_reject = no for client/helo/sender; data and
   * end_of_data always); what it asks for is logged as Postfix logs it. The caller replies with
   * the reject (rejection()), or keeps the accepted decision's actions for the transaction.
   */
  private async stageDecision(stage: 'helo' | 'mail' | 'data' | 'eod', where: string, ctx: TransactionContext, recipient?: string): Promise<Decision> {
    // Postfix logs the HELO name being checked, and the protocol as it stood before the command.
    const view = stage === 'mail' ? { sender: ctx.sender, recipient } : { recipient, helo: stage === 'helo' && !this.helo ? ctx.helo : undefined };
    const d = await this.applyDecision(await evaluateStage(stage, ctx), where, view);
    if (stage === 'helo') this.deferIfPermit.helo = d.deferIfPermit;
    if (stage === 'mail') this.deferIfPermit.sender = d.deferIfPermit;
    return d;
  }

  // ---- verbs --------------------------------------------------------------------------

  async helloCmd(arg: string, extended: boolean): Promise<void> {
    const name = extended ? 'ehlo' : 'helo';
    if (!arg.trim()) {
      this.count(name, false);
      await this.fail(reply(501, '5.4', `Syntax: ${extended ? 'EHLO' : 'HELO'} hostname`));
      return;
    }
    void this.abortTransaction();
    const rejected = rejection(await this.stageDecision('helo', extended ? 'EHLO' : 'HELO', { ...this.context('helo'), helo: arg.trim(), protocol: extended ? 'ESMTP' : 'SMTP' }));
    if (rejected) { this.count(name, false); await this.fail(rejected); return; }
    this.helo = arg.trim();
    this.esmtp = extended;
    this.count(name, true);
    if (!extended) { this.send(reply(250, undefined, this.host)); return; }
    const lines = [this.host, 'PIPELINING'];
    const limit = this.cfg.size('message_size_limit');
    lines.push(limit > 0 ? `SIZE ${limit}` : 'SIZE');
    if (!this.cfg.bool('disable_vrfy_command')) lines.push('VRFY');
    lines.push('ETRN');
    if (this.tlsOffered()) lines.push('STARTTLS');
    const mechs = this.authOffered() ? (await this.saslServer()!.mechanisms(this.saslContext())).join(' ') : '';
    if (mechs) {
      lines.push(`AUTH ${mechs}`);
      if (this.cfg.bool('broken_sasl_auth_clients')) lines.push(`AUTH=${mechs}`);
    }
    if (this.xclientAllowed) lines.push(XCLIENT_EHLO_LINE); // smtpd.c ehlo_cmd(): after AUTH
    lines.push('ENHANCEDSTATUSCODES', '8BITMIME', 'DSN', 'SMTPUTF8', 'CHUNKING');
    this.send({ code: 250, text: lines });
  }

  async starttlsCmd(arg: string): Promise<void> {
    if (arg.trim()) { this.count('starttls', false); await this.fail(reply(501, '5.4', 'Syntax: STARTTLS')); return; }
    if (this.tls) { this.count('starttls', false); await this.fail(reply(554, '5.1', 'Error: TLS already active')); return; }
    if (!this.tlsOffered() || !this.deps.tlsContext) { this.count('starttls', false); await this.fail(reply(502, '5.2', 'Error: command not recognized')); return; }
    const limited = await this.limits.tls();
    if (limited) { this.count('starttls', false); this.send(limited); this.closing = true; return; }
    this.count('starttls', true);
    this.send(reply(220, '0.0', 'Ready to start TLS'));
    this.flush();
    // Input pipelined after STARTTLS was sent in plaintext and must not be acted on after the
    // handshake (RFC 3207 §4.2; CVE-2011-0411): it is dropped.
    const leftover = this.reader.detach();
    if (leftover.length) this.log(`improper command pipelining after STARTTLS from ${this.clientLog}`);
    const secure = new TLSSocket(this.conn, { isServer: true, secureContext: this.deps.tlsContext });
    const ok = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), this.cfg.time('smtpd_timeout') * 1000);
      secure.once('secure', () => { clearTimeout(t); resolve(true); });
      secure.once('error', (e) => {
        clearTimeout(t);
        this.deps.logger.line('smtpd', `warning: TLS library problem: ${e.message}`, this.syslogName());
        resolve(false);
      });
    });
    this.conn = secure;
    this.reader.attach(secure);
    if (!ok) {
      this.log(`SSL_accept error from ${this.clientLog}: -1`);
      this.closing = true;
      return;
    }
    this.tls = true;
    this.noteTls(secure);
    // RFC 3207 §4.2: forget everything learned before TLS.
    this.helo = undefined; this.esmtp = false; this.sasl = undefined; this.tx = undefined;
  }

  async authCmd(arg: string): Promise<void> {
    const fail = async (r: Reply) => { this.count('auth', false); await this.fail(r); };
    if (!this.cfg.bool('smtpd_sasl_auth_enable') || !this.authOffered()) return fail(reply(503, '5.1', 'Error: authentication not enabled'));
    if (!this.esmtp) return fail(reply(503, '5.1', 'Error: send EHLO first'));
    if (this.sasl) return fail(reply(503, '5.1', 'Error: already authenticated'));
    if (this.tx) return fail(reply(503, '5.1', 'Error: MAIL transaction in progress'));
    const limited = await this.limits.auth();
    if (limited) return fail(limited);
    const [mechRaw, initial] = arg.trim().split(/\s+/, 2);
    const mech = (mechRaw ?? '').toUpperCase();
    if (!mech) return fail(reply(501, '5.4', 'Syntax: AUTH mechanism'));
    const server = this.saslServer()!, ctx = this.saslContext();
    if (!(await server.mechanisms(ctx)).includes(mech)) return fail(reply(535, '7.8', 'Error: authentication failed: Invalid authentication mechanism'));
    const timeout = this.cfg.time('smtpd_timeout') * 1000;
    // RFC 4954 §4: a client response line may be up to 12288 octets.
    const ask = async (challenge: string): Promise<string | Reply> => {
      this.send({ code: 334, text: [challenge] });
      this.flush();
      const r = await this.reader.readLine(12288, timeout);
      if (r.kind !== 'line') { this.closing = r.kind !== 'too-long'; return reply(501, '7.0', 'Authentication aborted'); }
      const s = r.line.toString('latin1').trim();
      if (s === '*') return reply(501, '7.0', 'Authentication aborted');
      return s;
    };
    const result = await server.authenticate(mech, initial, ask, ctx);
    if (result.kind === 'error' && result.temporary) {
      // Not "authentication failed": fail2ban must not ban clients for the auth server's outage.
      this.deps.logger.line('smtpd', `warning: ${this.clientLog}: SASL ${mech} authentication temporarily unavailable: ${result.temporary}`, this.syslogName());
    }
    if (result.kind === 'error') return fail(result.reply);
    if (result.kind === 'failed') return fail(await this.authFailed(mech));
    this.sasl = { method: mech, username: result.username };
    this.count('auth', true);
    this.send(reply(235, '7.0', 'Authentication successful'));
  }

  private async authFailed(mech: string): Promise<Reply> {
    await this.limits.authFailed();
    // Same line as Postfix's, which fail2ban's postfix-sasl filter matches.
    this.deps.logger.line('smtpd', `warning: ${this.clientLog}: SASL ${mech} authentication failed: authentication failure`, this.syslogName());
    const ms = this.cfg.time('mxguard_auth_failure_delay') * 1000;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return reply(535, '7.8', 'Error: authentication failed: authentication failure');
  }

  async mailCmd(arg: string): Promise<void> {
    const fail = async (r: Reply) => { this.count('mail', false); await this.fail(r); };
    if (this.cfg.bool('smtpd_helo_required') && !this.helo) return fail(reply(503, '5.1', 'Error: send HELO/EHLO first'));
    if (this.tx) return fail(reply(503, '5.1', 'Error: nested MAIL command'));
    if (this.tlsRequired()) return fail(reply(530, '7.0', 'Must issue a STARTTLS command first'));
    const m = /^FROM:\s*(.*)$/is.exec(arg);
    if (!m) return fail(reply(501, '5.4', 'Syntax: MAIL FROM:<address>'));
    const smtputf8Param = /(^|\s)SMTPUTF8(\s|$)/i.test(m[1]!);
    const parsed = parseMailFrom(m[1]!, { smtputf8: smtputf8Param, strict: this.cfg.bool('strict_rfc821_envelopes') });
    if (!parsed.ok) return fail(parsed.reply);
    const params = parsed.params;
    let declaredSize: number | undefined;
    let body: Transaction['body'];
    let ret: Transaction['ret'];
    for (const [k, v] of params) {
      switch (k) {
        case 'SIZE': {
          // RFC 1870 §6: SIZE=n; refuse up front when it exceeds message_size_limit.
          if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) return fail(reply(501, '5.4', 'Bad message size syntax'));
          declaredSize = Number(v);
          const limit = this.cfg.size('message_size_limit');
          if (limit > 0 && declaredSize > limit) return fail(reply(552, '3.4', 'Message size exceeds fixed limit'));
          break;
        }
        case 'BODY': {
          const b = typeof v === 'string' ? v.toUpperCase() : '';
          if (b !== '7BIT' && b !== '8BITMIME') return fail(reply(501, '5.4', 'Bad BODY keyword syntax'));
          body = b;
          break;
        }
        case 'SMTPUTF8':
          if (v !== true) return fail(reply(501, '5.4', 'Bad SMTPUTF8 syntax'));
          break;
        case 'RET': {
          // RFC 3461 §4.3: what a failure notice returns of the message.
          const r = typeof v === 'string' ? v.toUpperCase() : '';
          if (r !== 'FULL' && r !== 'HDRS') return fail(reply(501, '5.4', 'Bad RET parameter syntax'));
          ret = r;
          break;
        }
        case 'AUTH': case 'ENVID':
          break; // RFC 4954 §5, RFC 3461 §4.4: accepted
        default:
          return fail(reply(555, '5.4', `Unsupported option: ${k}`));
      }
    }
    const limited = await this.limits.mail(this.sasl?.username, parsed.address, declaredSize);
    if (limited) return fail(limited);
    const decision = await this.stageDecision('mail', 'MAIL', { ...this.context('mail'), sender: parsed.address });
    const rejected = rejection(decision);
    if (rejected) return fail(rejected);
    const auth = await this.mailAuth(parsed.address);
    if (auth?.reply) return fail(auth.reply);
    this.tx = { sender: parsed.address, smtputf8: smtputf8Param, body, ret, declaredSize, recipients: [], rcptTotal: 0, auth };
    this.keepActions(decision);
    this.count('mail', true);
    this.send(reply(250, '1.0', 'Ok'));
  }

  async rcptCmd(arg: string): Promise<void> {
    const fail = async (r: Reply) => { this.count('rcpt', false); await this.fail(r); };
    if (!this.tx) return fail(reply(503, '5.1', 'Error: need MAIL command'));
    if (this.tx.bdat) return fail(reply(503, '5.1', 'Error: RCPT after BDAT'));
    const m = /^TO:\s*(.*)$/is.exec(arg);
    if (!m) return fail(reply(501, '5.4', 'Syntax: RCPT TO:<address>'));
    const parsed = parseRcptTo(m[1]!, { smtputf8: this.tx.smtputf8, strict: this.cfg.bool('strict_rfc821_envelopes') });
    if (!parsed.ok) return fail(parsed.reply);
    for (const k of parsed.params.keys()) {
      if (k !== 'NOTIFY' && k !== 'ORCPT') return fail(reply(555, '5.4', `Unsupported option: ${k}`));
    }
    // RFC 3461 §4.1: NOTIFY=NEVER, or any of SUCCESS, FAILURE, DELAY.
    const notifyRaw = parsed.params.get('NOTIFY');
    let notify: string[] | undefined;
    if (notifyRaw !== undefined) {
      notify = typeof notifyRaw === 'string' ? notifyRaw.toUpperCase().split(',') : [];
      const ok = notify.length > 0 && (notify.length === 1 && notify[0] === 'NEVER'
        || notify.every((n) => n === 'SUCCESS' || n === 'FAILURE' || n === 'DELAY') && new Set(notify).size === notify.length);
      if (!ok) return fail(reply(501, '5.4', 'Bad NOTIFY parameter syntax'));
    }
    this.tx.rcptTotal++;
    if (this.tx.recipients.length >= this.cfg.int('smtpd_recipient_limit')) {
      // Excess recipients count as errors only past smtpd_recipient_overshoot_limit.
      if (this.tx.rcptTotal > this.cfg.int('smtpd_recipient_limit') + this.cfg.int('smtpd_recipient_overshoot_limit')) this.errorCount++;
      this.count('rcpt', false);
      this.send(reply(452, '5.3', 'Error: too many recipients'));
      return;
    }
    const limited = await this.limits.rcpt(this.sasl?.username, this.tx.sender);
    if (limited) return fail(limited);
    const decision = await this.applyDecision(await evaluateRcpt(this.context('rcpt', parsed.address)), 'RCPT', { recipient: parsed.address });
    const rejected = rejection(decision);
    if (rejected) return fail(rejected);
    this.keepActions(decision);
    if (!this.tx.queueId) {
      // Postfix opens the queue file at the first accepted recipient and logs client= then.
      this.tx.queueId = newQueueId();
      const tx = this.tx;
      tx.writer = this.deps.spool.create({ sender: tx.sender, recipients: [], arrival: Date.now() }, tx.queueId);
      tx.writer.then((w) => { tx.queueId = w.envelope.id; }, () => {});
      const extra = this.sasl ? `, sasl_method=${this.sasl.method}, sasl_username=${this.sasl.username}` : '';
      this.log(`${this.tx.queueId}: client=${this.clientLog}${extra}`);
    }
    const orcpt = parsed.params.get('ORCPT');
    this.tx.recipients.push({ address: parsed.address, orig: typeof orcpt === 'string' ? orcpt : undefined, notify });
    this.count('rcpt', true);
    this.send(reply(250, '1.5', 'Ok'));
  }

  /** Starts the queue file and writes the Received: header (RFC 5321 §4.4). */
  private async openMessage(): Promise<SpoolWriter> {
    const tx = this.tx!;
    // cleanup(8) append_at_myorigin: an address without a domain is queued as user@$myorigin.
    const origin = this.cfg.get('myorigin');
    const qualify = (a: string) => (a === '' || a.includes('@') ? a : `${a}@${origin}`);
    const env = {
      sender: qualify(tx.sender), recipients: tx.recipients.map((r) => ({ ...r, address: qualify(r.address) })), arrival: Date.now(), client: this.clientLog,
      helo: this.helo, saslUsername: this.sasl?.username, smtputf8: tx.smtputf8, body: tx.body, ret: tx.ret,
    };
    tx.writer ??= this.deps.spool.create(env, tx.queueId);
    const writer = await tx.writer;
    writer.envelope = { ...env, id: writer.envelope.id };
    tx.queueId = writer.envelope.id;
    // access(5) PREPEND: the headers go above the Received: header this server adds.
    if (tx.actions?.prepend.length) await writer.write(Buffer.from(tx.actions.prepend.map((h) => `${h}\r\n`).join(''), 'utf8'));
    await writer.write(Buffer.from(receivedHeader({
      helo: this.helo, client: this.client, myhostname: this.host, mailName: this.cfg.get('mail_name'),
      // RFC 6531 §3.7.3: UTF8SMTP[S][A] for a transaction that used SMTPUTF8.
      protocol: tx.smtputf8 ? this.proto.replace('ESMTP', 'UTF8SMTP') : this.proto, queueId: writer.envelope.id,
      recipient: tx.recipients.length === 1 ? tx.recipients[0]!.address : undefined,
      tls: this.cfg.bool('smtpd_tls_received_header') ? this.tlsInfo : undefined,
      authSender: this.cfg.bool('smtpd_sasl_authenticated_header') ? this.sasl?.username : undefined,
    }), 'utf8'));
    return writer;
  }

  async dataCmd(arg: string): Promise<void> {
    const fail = async (r: Reply) => { this.count('data', false); await this.fail(r); };
    if (arg.trim()) return fail(reply(501, '5.4', 'Syntax: DATA'));
    if (!this.tx) return fail(reply(503, '5.1', 'Error: need RCPT command'));
    if (this.tx.bdat) return fail(reply(503, '5.1', 'Error: DATA after BDAT'));
    if (this.tx.recipients.length === 0) return fail(reply(554, '5.1', 'Error: no valid recipients'));
    const only = this.tx.recipients.length === 1 ? this.tx.recipients[0]!.address : undefined;
    const decision = await this.stageDecision('data', 'DATA', this.context('data', only), only);
    const rejected = rejection(decision);
    if (rejected) return fail(rejected);
    this.keepActions(decision);
    let writer: SpoolWriter;
    try { writer = await this.openMessage(); } catch (e) { return this.queueError(e, fail); }
    this.send(reply(354, undefined, 'End data with <CR><LF>.<CR><LF>'));
    this.flush();
    this.lastCommand = 'DATA';
    const limit = this.cfg.size('message_size_limit');
    const headers = new HeaderScan();
    const forged = this.tx.auth ? (this.tx.forged = new ForgedResultsFilter(this.host)) : undefined;
    let size = 0, tooBig = false, writeError: unknown;
    const r = await this.reader.readData(this.cfg.int('mxguard_data_line_limit'), this.cfg.time('smtpd_timeout') * 1000, async (chunk) => {
      size += chunk.length;
      if (limit > 0 && size > limit) tooBig = true;
      if (tooBig || writeError) return;
      headers.push(chunk);
      await this.tx?.auth?.push(chunk);
      const stored = forged ? forged.push(chunk) : chunk;
      try { await writer.write(stored); } catch (e) { writeError = e; }
    });
    if (r.kind === 'done' && forged && !tooBig && !writeError) {
      try { await writer.write(forged.flush()); } catch (e) { writeError = e; }
    }
    if (r.kind !== 'done') {
      await writer.abort();
      this.tx = undefined;
      this.count('data', false);
      if (r.kind === 'eof') this.log(`lost connection after DATA (${size} bytes) from ${this.clientLog}`);
      else {
        this.log(`timeout after DATA (${size} bytes) from ${this.clientLog}`);
        this.send(reply(421, '4.2', `${this.host} Error: timeout exceeded`));
      }
      this.closing = true;
      return;
    }
    await this.finishMessage(writer, r.flags, tooBig, writeError, headers, 'data');
  }

  /** End of DATA or BDAT LAST: refuse what is bad, otherwise make it durable, then 250. */
  private async finishMessage(writer: SpoolWriter, flags: DataFlags, tooBig: boolean, writeError: unknown, headers: HeaderScan, cmd: 'data' | 'bdat'): Promise<void> {
    const tx = this.tx!;
    const id = writer.envelope.id;
    this.tx = undefined;
    let bad: Reply | undefined;
    if (flags.bareNewline) {
      bad = reply(this.cfg.int('smtpd_forbid_bare_newline_reject_code'), '5.2', `${this.host} Error: bare <LF> received`);
      this.log(`${id}: reject: END-OF-MESSAGE from ${this.clientLog}: bare <LF> received; ${this.rejectLogTail(tx.recipients[0]?.address, tx)}`);
    } else if (tooBig) bad = reply(552, '3.4', 'Error: message file too big');
    else if (flags.nul) bad = reply(550, '6.0', 'Error: message contains NUL characters');
    else if (flags.longLine) bad = reply(500, '5.2', 'Error: message line too long');
    if (bad) {
      tx.auth?.abort();
      await writer.abort();
      this.count(cmd, false);
      if (!flags.bareNewline) this.log(`${id}: reject: END-OF-MESSAGE from ${this.clientLog}: ${replyLine(bad)}; ${this.rejectLogTail(tx.recipients[0]?.address, tx)}`);
      await this.fail(bad);
      return;
    }
    if (!writeError) {
      this.tx = tx;
      const only = tx.recipients.length === 1 ? tx.recipients[0]!.address : undefined;
      const decision = await this.stageDecision('eod', 'END-OF-MESSAGE', this.context('eod', only), only);
      const rejected = rejection(decision);
      if (!rejected) this.keepActions(decision, tx);
      this.tx = undefined;
      if (rejected) { await writer.abort(); this.count(cmd, false); await this.fail(rejected); return; }
    }
    if (!writeError && tx.actions?.discard) {
      // DISCARD: claim delivery, keep nothing (cleanup(8) CLEANUP_FLAG_DISCARD).
      await writer.abort();
      this.log(`${id}: discard: END-OF-MESSAGE from ${this.clientLog}: message discarded by an access table DISCARD action; ${this.rejectLogTail(undefined, tx)}`);
      this.errorCount = 0; this.junkCount = 0;
      this.count(cmd, true);
      this.send(reply(250, '0.0', `Ok: queued as ${id}`));
      return;
    }
    if (!writeError && tx.auth && !(await this.authAtEnd(tx, writer, cmd))) return;
    if (!writeError && tx.actions) writer.envelope = withActions(writer.envelope, tx.actions);
    if (writeError) { await writer.abort(); return this.queueError(writeError, async (r) => { this.count(cmd, false); await this.fail(r); }); }
    try {
      await writer.commit();
    } catch (e) {
      await writer.abort();
      return this.queueError(e, async (r) => { this.count(cmd, false); await this.fail(r); });
    }
    const mid = headers.messageId();
    this.deps.logger.line('cleanup', `${id}: message-id=${mid}`, this.cfg.get('syslog_name').split('/')[0]);
    // smtpd.c: error and junk counters restart when a message is queued.
    this.errorCount = 0; this.junkCount = 0;
    this.count(cmd, true);
    this.send(reply(250, '0.0', `Ok: queued as ${id}`));
    this.flush(); // the client waits for this reply; delivery can start after it is out
    this.deps.onQueued(writer.queued());
    await this.limits.queued(this.sasl?.username, tx.sender, writer.size);
  }

  /** SPF at MAIL FROM (mailauth/); a refusal is logged as Postfix logs a sender reject. */
  private async mailAuth(sender: string): Promise<InboundAuth | undefined> {
    let auth: InboundAuth | undefined;
    try {
      auth = await startInboundAuth(this.cfg, { client: { address: this.client.address, name: this.client.name, authenticated: !!this.sasl }, helo: this.helo, sender });
    } catch (e) {
      this.deps.logger.line('smtpd', `warning: ${this.clientLog}: SPF/DKIM/DMARC not evaluated: ${(e as Error).message}`, this.syslogName());
      return undefined;
    }
    if (auth?.reply) this.log(`NOQUEUE: reject: MAIL from ${this.clientLog}: ${replyLine(auth.reply)}; from=<${sender}> proto=${this.esmtp ? 'ESMTP' : 'SMTP'}${this.helo ? ` helo=<${this.helo}>` : ''}`);
    return auth;
  }

  /** DKIM/DMARC at end of message (mailauth/): the Authentication-Results: header goes on top; false when refused. */
  private async authAtEnd(tx: Transaction, writer: SpoolWriter, cmd: 'data' | 'bdat'): Promise<boolean> {
    const id = writer.envelope.id;
    const a = await tx.auth!.finish();
    this.log(`${id}: authentication: ${a.summary}`);
    if (tx.forged?.removed) this.log(`${id}: removed ${tx.forged.removed} Authentication-Results: header(s) claiming ${this.host} (RFC 8601 section 5)`);
    const v = a.verdict;
    if (v.reply) {
      this.log(`${id}: reject: END-OF-MESSAGE from ${this.clientLog}: ${replyLine(v.reply)}; ${this.rejectLogTail(undefined, tx)}`);
      await writer.abort();
      this.count(cmd, false);
      await this.fail(v.reply);
      return false;
    }
    if (v.action === 'hold') {
      (tx.actions ??= { prepend: [] }).hold = true;
      this.log(`${id}: hold: END-OF-MESSAGE from ${this.clientLog}: ${v.reason}; ${this.rejectLogTail(undefined, tx)}`);
    }
    try {
      await writer.prepend(Buffer.from(a.header, 'utf8'));
    } catch (e) {
      await writer.abort();
      await this.queueError(e, async (r) => { this.count(cmd, false); await this.fail(r); });
      return false;
    }
    return true;
  }

  private async queueError(e: unknown, fail: (r: Reply) => Promise<void>) {
    this.deps.logger.line('smtpd', `warning: queue file write error: ${(e as Error).message}`, this.syslogName());
    this.tx = undefined;
    await fail(reply(451, '3.0', 'Error: queue file write error'));
  }

  async bdatCmd(arg: string): Promise<void> {
    // RFC 3030 §2: BDAT <size> [LAST]; the chunk is always read, whatever the verdict.
    const m = /^(\d{1,15})(?:\s+(LAST))?\s*$/i.exec(arg.trim());
    if (!m) {
      this.count('bdat', false);
      await this.fail(reply(501, '5.4', 'Syntax: BDAT count [LAST]'));
      this.closing = true; // the chunk length is unknown: the stream cannot be resynchronised
      return;
    }
    const n = Number(m[1]);
    const last = !!m[2];
    const timeout = this.cfg.time('smtpd_timeout') * 1000;
    let refusal: Reply | undefined;
    if (!this.tx) refusal = reply(503, '5.1', 'Error: need MAIL command');
    else if (this.tx.recipients.length === 0) refusal = reply(554, '5.1', 'Error: no valid recipients');
    if (refusal) {
      const st: BdatState = { lastCR: false, flags: { bareNewline: false, nul: false, longLine: false } };
      const r = await this.reader.readChunk(n, timeout, st, () => {});
      if (r !== 'done') { this.closing = true; return; }
      this.count('bdat', false);
      await this.fail(refusal);
      return;
    }
    const tx = this.tx!;
    if (!tx.bdat) {
      tx.bdat = { state: { lastCR: false, flags: { bareNewline: false, nul: false, longLine: false } }, size: 0, headers: new HeaderScan() };
      try { tx.bdat.writer = await this.openMessage(); } catch (e) { tx.bdat.failed = reply(451, '3.0', 'Error: queue file write error'); this.deps.logger.line('smtpd', `warning: queue file write error: ${(e as Error).message}`, this.syslogName()); }
    }
    const b = tx.bdat;
    const limit = this.cfg.size('message_size_limit');
    this.lastCommand = 'BDAT';
    const r = await this.reader.readChunk(n, timeout, b.state, async (chunk) => {
      b.size += chunk.length;
      if (limit > 0 && b.size > limit && !b.failed) b.failed = reply(552, '3.4', 'Error: message file too big');
      if (b.failed || !b.writer) return;
      b.headers.push(chunk);
      await tx.auth?.push(chunk);
      if (tx.auth) tx.forged ??= new ForgedResultsFilter(this.host);
      const stored = tx.forged ? tx.forged.push(chunk) : chunk;
      try { await b.writer.write(stored); } catch (e) { b.failed = reply(451, '3.0', 'Error: queue file write error'); }
    });
    if (r === 'done' && last && tx.forged && b.writer && !b.failed) {
      try { await b.writer.write(tx.forged.flush()); } catch (e) { b.failed = reply(451, '3.0', 'Error: queue file write error'); }
    }
    if (r !== 'done') {
      await this.abortTransaction();
      this.count('bdat', false);
      this.log(`${r === 'eof' ? 'lost connection' : 'timeout'} after BDAT (${b.size} bytes) from ${this.clientLog}`);
      if (r === 'timeout') this.send(reply(421, '4.2', `${this.host} Error: timeout exceeded`));
      this.closing = true;
      return;
    }
    if (b.failed && b.failed.code === 451) {
      await this.abortTransaction(); this.count('bdat', false); await this.fail(b.failed); return;
    }
    if (!last) {
      if (b.failed) { this.count('bdat', false); await this.fail(b.failed); return; }
      this.count('bdat', true);
      this.send(reply(250, '0.0', `Ok: ${n} bytes`));
      return;
    }
    const flags = { ...b.state.flags, bareNewline: b.state.flags.bareNewline || b.state.lastCR };
    await this.finishMessage(b.writer!, flags, !!b.failed, undefined, b.headers, 'bdat');
  }

  async rsetCmd(arg: string): Promise<void> {
    if (arg.trim()) { this.count('rset', false); await this.fail(reply(501, '5.4', 'Syntax: RSET')); return; }
    await this.abortTransaction();
    this.count('rset', true);
    this.send(reply(250, '0.0', 'Ok'));
  }

  async noopCmd(): Promise<void> { this.count('noop', true); this.send(reply(250, '0.0', 'Ok')); }

  async vrfyCmd(arg: string): Promise<void> {
    if (this.cfg.bool('disable_vrfy_command')) { this.count('vrfy', false); await this.fail(reply(502, '5.1', 'VRFY command is disabled')); return; }
    if (!arg.trim()) { this.count('vrfy', false); await this.fail(reply(501, '5.4', 'Syntax: VRFY address')); return; }
    this.count('vrfy', true);
    // RFC 5321 §3.5.3: 252 when the address is not verified but delivery will be attempted.
    this.send(reply(252, '0.0', arg.trim()));
  }

  async etrnCmd(arg: string): Promise<void> {
    if (!this.helo) { this.count('etrn', false); await this.fail(reply(503, '5.1', 'Error: send HELO/EHLO first')); return; }
    if (this.tx) { this.count('etrn', false); await this.fail(reply(503, '5.1', 'Error: MAIL transaction in progress')); return; }
    if (!arg.trim()) { this.count('etrn', false); await this.fail(reply(501, '5.4', 'Syntax: ETRN domain')); return; }
    // smtpd_etrn_restrictions (with smtpd_delay_reject, the client and HELO lists first).
    const domain = arg.trim().replace(/^@/, '');
    const d = await this.applyDecision(await evaluateStage('etrn', { ...this.context('etrn'), etrnDomain: domain }), 'ETRN');
    const rejected = rejection(d);
    if (rejected) { this.count('etrn', false); await this.fail(rejected); return; }
    // mxguard keeps no per-domain fast-flush logs: like Postfix without fast_flush_domains.
    this.count('etrn', false);
    await this.fail(reply(459, '3.0', `<${arg.trim()}>: service unavailable`));
  }

  /**
   * XCLIENT (XCLIENT_README; parsing in xclient.ts): replaces the client's name, address, HELO
   * name, protocol and login, then restarts the session at the greeting. TLS stays, as it
   * cannot be undone. Postfix counts XCLIENT in the disconnect statistics but never as a
   * success (it restarts instead of returning), and so does mxguard.
   */
  async xclientCmd(arg: string): Promise<void> {
    const fail = async (r: Reply) => { this.count('xclient', false); await this.fail(r); };
    if (this.tx) return fail(XCLIENT_IN_TRANSACTION);
    if (!arg.trim()) return fail(XCLIENT_SYNTAX);
    if (!this.xclientAllowed) return fail(XCLIENT_UNAUTHORIZED);
    const parsed = parseXclient(arg);
    const before = {
      name: this.client.name, reverseName: this.client.reverseName, address: this.client.address, port: this.client.port,
      nameStatus: this.client.nameStatus, reverseNameStatus: this.client.reverseNameStatus,
      helo: this.helo, protocol: this.esmtp ? 'ESMTP' as const : 'SMTP' as const, login: this.sasl?.username,
    };
    const next = applyXclient(before, parsed.ok ? parsed.attributes : parsed.partial);
    const st = next.state;
    this.client = { address: st.address, port: st.port, name: st.name, reverseName: st.reverseName, nameStatus: st.nameStatus, reverseNameStatus: st.reverseNameStatus };
    this.helo = st.helo;
    this.esmtp = st.protocol === 'ESMTP';
    if (next.login && st.login !== undefined) this.sasl = { method: 'XCLIENT', username: st.login };
    // Postfix applies each attribute as it goes: on a bad one, the earlier ones stay in force
    // (but the logged name[addr] and the authorisation are only updated after success).
    if (!parsed.ok) return fail(parsed.reply);
    this.count('xclient', false);
    this.clientLog = namaddr(st.name, st.address, this.cfg.bool('smtpd_client_port_logging') ? st.port : undefined);
    this.xclientAllowed = this.deps.xclientHosts?.matches(st.address, st.name) ?? false;
    if (!next.helo) this.helo = undefined;
    if (!next.protocol) this.esmtp = false;
    if (!next.login) this.sasl = undefined;
    await this.abortTransaction();
    await this.greet('XCLIENT');
  }

  async quitCmd(): Promise<void> {
    this.count('quit', true);
    this.send(reply(221, '0.0', 'Bye'));
    this.closing = true;
  }
}

const VERBS: Record<Verb, VerbSpec> = {
  HELO: { junk: true, run: (s, a) => s.helloCmd(a, false) },
  EHLO: { junk: true, run: (s, a) => s.helloCmd(a, true) },
  STARTTLS: { junk: false, run: (s, a) => s.starttlsCmd(a) },
  AUTH: { junk: false, run: (s, a) => s.authCmd(a) },
  MAIL: { junk: false, run: (s, a) => s.mailCmd(a) },
  RCPT: { junk: false, run: (s, a) => s.rcptCmd(a) },
  DATA: { junk: false, run: (s, a) => s.dataCmd(a) },
  BDAT: { junk: false, run: (s, a) => s.bdatCmd(a) },
  RSET: { junk: true, run: (s, a) => s.rsetCmd(a) },
  NOOP: { junk: true, run: (s) => s.noopCmd() },
  VRFY: { junk: true, run: (s, a) => s.vrfyCmd(a) },
  ETRN: { junk: true, run: (s, a) => s.etrnCmd(a) },
  QUIT: { junk: false, run: (s) => s.quitCmd() },
  XCLIENT: { junk: false, run: (s, a) => s.xclientCmd(a) },
};

/**
 * The envelope with what access-map actions asked for: REDIRECT replaces the recipients, BCC
 * adds one, FILTER sends every recipient through transport:destination, HOLD keeps the message
 * in the hold queue until `mxguard queue release`.
 */
function withActions<E extends QueuedEnvelope>(env: E, a: TransactionActions): E {
  let recipients = env.recipients;
  if (a.redirect) recipients = [{ address: a.redirect }];
  if (a.bcc && !recipients.some((r) => r.address === a.bcc)) recipients = [...recipients, { address: a.bcc }];
  return { ...env, recipients, ...(a.filter ? { filter: a.filter } : {}), ...(a.hold ? { hold: true } : {}) };
}

/** The reply of a rejecting decision; undefined when the command is accepted. */
function rejection(d: Decision): Reply | undefined {
  return d.action === 'reject' ? d.reply : undefined;
}
