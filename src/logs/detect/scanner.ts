/**
 * @module logs/detect/scanner
 * One pass over the log for every detector: each line is looked at once, by its daemon (the last
 * part of the program name: `postfix/submission/smtpd` is smtpd), cut into the facts the detectors
 * want, and handed to them. Postfix's wording and mxguard's (which logs in Postfix's format, plus
 * its own ban, rate-limit and DNS-list health warnings) are read alike.
 *
 * Shared state kept here, all bounded:
 * - messages in flight: queue id → where it came from (SMTP client and login, pickup uid, bounce)
 *   and its sender, dropped at `removed`; capped (least recently used go first);
 * - smtpd sessions (sessions.ts) and postscreen connections.
 *
 * Cheap tests (`startsWith`, `indexOf`) come before any regular expression: most lines of a big
 * log are deliveries and queue-manager lines that only need a lookup.
 */
import type { InputLine } from '../input.js';
import { AccountDetector } from './accounts.js';
import { AuthDetector } from './auth.js';
import { BackscatterDetector, type Origin } from './backscatter.js';
import { LruMap } from './bounded.js';
import { detach } from '../strings.js';
import { DetectContext, domainOf } from './context.js';
import { DnsblDetector } from './dnsbl.js';
import type { Finding } from './findings.js';
import { field, parseReject } from './lines.js';
import { clientAt, isPublic, listOfQuery } from './net.js';
import type { DetectOptions } from './options.js';
import { PickupDetector } from './pickup.js';
import { normaliseReason, RejectDetector } from './rejects.js';
import { SessionTracker, type Session } from './sessions.js';

interface Msg {
  origin: Origin;
  ip?: string;
  account?: string;
  uid?: number;
  sender?: string;
  session?: number;
  nullCounted?: boolean;
  remoteSeen?: boolean;
  localSeen?: boolean;
}

const MAX_MESSAGES = 100_000;
const MAX_OPEN_SESSIONS = 5000;
const LOCAL_AGENTS = new Set(['lmtp', 'local', 'virtual', 'pipe']);

export class Scanner {
  readonly ctx: DetectContext;
  readonly accounts: AccountDetector;
  readonly pickup: PickupDetector;
  readonly auth: AuthDetector;
  readonly rejects: RejectDetector;
  readonly backscatter: BackscatterDetector;
  readonly dnsbl: DnsblDetector;
  private readonly sessions: SessionTracker;
  private readonly msgs = new LruMap<string, Msg>(MAX_MESSAGES);
  private readonly psSessions: LruMap<string, number>;
  private nextPsSession = -1;
  private readonly daemons = new Map<string, string>();
  /** `@domain` of the last local delivery: the same few domains come again and again. */
  private lastLocalSuffix = '\u0000';
  private lastTime = 0;

  constructor(opts: DetectOptions) {
    this.ctx = new DetectContext(opts);
    this.accounts = new AccountDetector(this.ctx);
    this.pickup = new PickupDetector(this.ctx);
    this.auth = new AuthDetector(this.ctx);
    this.rejects = new RejectDetector(this.ctx);
    this.backscatter = new BackscatterDetector(this.ctx);
    this.dnsbl = new DnsblDetector(this.ctx);
    // Postfix runs at most default_process_limit (100) smtpd processes: a few thousand open
    // sessions is plenty; more are lost disconnect lines.
    this.sessions = new SessionTracker(Math.min(opts.maxKeys, MAX_OPEN_SESSIONS), (s) => this.sessionEnded(s));
    this.psSessions = new LruMap(opts.maxKeys);
  }

  /** line - one parsed log line. */
  readonly line = (l: InputLine): void => {
    const daemon = this.daemonOf(l.program);
    const t = l.time.getTime();
    if (t > this.lastTime) this.lastTime = t;
    switch (daemon) {
      case 'smtpd': this.smtpd(l, t); break;
      case 'qmgr': this.qmgr(l, t); break;
      case 'smtp': case 'lmtp': case 'local': case 'virtual': case 'pipe': case 'error': case 'discard':
        this.delivery(l, daemon); break;
      case 'cleanup': this.cleanup(l, t); break;
      case 'pickup': this.pickupLine(l, t); break;
      case 'bounce': this.bounce(l, t); break;
      case 'postscreen': this.postscreen(l, t); break;
      case 'dnsblog': this.dnsblog(l, t); break;
      default: break;
    }
  };

  /** daemonOf - the last part of a program name, cached (a few dozen names; no string cut per line). */
  private daemonOf(program: string): string {
    let d = this.daemons.get(program);
    if (d === undefined) {
      const slash = program.lastIndexOf('/');
      d = detach(slash < 0 ? program : program.slice(slash + 1));
      if (this.daemons.size < 1000) this.daemons.set(detach(program), d);
    }
    return d;
  }

  private sessionEnded(s: Session): void {
    this.auth.onSessionEnd(s, s.authOk);
  }

  // --- smtpd ---------------------------------------------------------------------------------

  private smtpd(l: InputLine, t: number): void {
    const x = l.text;
    if (l.queueId) {
      const at = l.queueId.length + 2;
      if (x.startsWith('client=', at)) this.clientLine(l, t, at + 7);
      else if (x.startsWith('reject: ', at)) this.reject(l, t, at + 8, false);
      return;
    }
    if (x.startsWith('connect from ')) {
      const c = clientAt(x, 13);
      if (!c) return;
      this.sessions.start(l, c.name, c.ip, t);
      if (isPublic(c.ip)) this.dnsbl.onConnect(c.ip, t);
    } else if (x.startsWith('disconnect from ')) {
      this.disconnect(l, t, x);
    } else if (x.startsWith('lost connection after ') || x.startsWith('timeout after ')) {
      const after = x.indexOf('after ') + 6;
      const from = x.indexOf(' from ', after);
      if (from < 0) return;
      const c = clientAt(x, from + 6);
      if (!c) return;
      const cmd = x.slice(after, x.indexOf(' ', after));
      const s = this.sessions.of(l, c.name, c.ip, t);
      s.lostAfter = cmd;
      if (cmd === 'AUTH') SessionTracker.noteAuthTrouble(s, l);
    } else if (x.startsWith('NOQUEUE: reject: ')) {
      this.reject(l, t, 17, false);
    } else if (x.startsWith('NOQUEUE: reject_warning: ')) {
      this.reject(l, t, 25, true);
    } else if (x.startsWith('warning: ')) {
      this.smtpdWarning(l, t, x);
    } else if (x.startsWith('too many errors after ')) {
      const from = x.indexOf(' from ');
      const c = from < 0 ? undefined : clientAt(x, from + 6);
      if (!c) return;
      const s = this.sessions.of(l, c.name, c.ip, t);
      this.rejects.onReject({ t, ip: c.ip, code: 550, reason: x.slice(0, from), session: s.id }, l);
    }
  }

  private disconnect(l: InputLine, t: number, x: string): void {
    const c = clientAt(x, 16);
    if (!c) return;
    const s = this.sessions.of(l, c.name, c.ip, t);
    const ai = x.indexOf(' auth=', c.end);
    if (ai >= 0) {
      const m = /^ auth=(\d+)(?:\/(\d+))?/.exec(x.slice(ai, ai + 24));
      if (m) {
        const ok = Number(m[1]);
        const total = m[2] === undefined ? ok : Number(m[2]);
        if (ok > 0) s.authOk = true;
        s.authCounted = total - ok;
        if (s.authCounted > 0) SessionTracker.noteAuthTrouble(s, l);
      }
    }
    this.sessions.finish(l, c.name, c.ip, t);
  }

  private smtpdWarning(l: InputLine, t: number, x: string): void {
    if (x.includes(' authentication failed')) {
      // warning: NAME[IP]: SASL LOGIN authentication failed: REASON[, sasl_username=USER]
      const c = clientAt(x, 9);
      if (!c || !x.startsWith(': SASL ', c.end)) return;
      // The SASL server's own trouble is not the client's guessing (fail2ban excludes it too).
      if (x.includes('Connection lost to authentication server')) return;
      const s = this.sessions.of(l, c.name, c.ip, t);
      s.authFailures++;
      SessionTracker.noteAuthTrouble(s, l);
      const ui = x.lastIndexOf(', sasl_username=');
      if (ui >= 0) {
        s.triedNames ??= [];
        if (s.triedNames.length < 5) s.triedNames.push(detach(x.slice(ui + 16)));
      }
      return;
    }
    if (x.startsWith('warning: hostname ')) {
      const m = /^warning: hostname (\S+) does not resolve to address ([0-9A-Fa-f:.]+?):? /.exec(x);
      if (m) this.ctx.claimedNames.set(detach(m[2]!), detach(m[1]!));
      return;
    }
    const rbl = x.indexOf(': RBL lookup error:');
    if (rbl > 0) {
      const list = listOfQuery(x.slice(9, rbl));
      if (list) this.dnsbl.onError(list, t, l);
      return;
    }
    if (x.startsWith('warning: ban: client [')) {
      const end = x.indexOf(']', 22);
      if (end > 0) this.rejects.onBanned(x.slice(22, end), t, l);
      return;
    }
    if (x.startsWith('warning: Rate limit exceeded: ')) {
      const m = / for sasl_username=(\S+) from /.exec(x);
      if (m) this.accounts.onRateLimit(m[1]!, t, l);
    }
  }

  /** clientLine - `QUEUEID: client=NAME[IP][, sasl_method=M, sasl_username=USER]`. */
  private clientLine(l: InputLine, t: number, at: number): void {
    const x = l.text;
    const c = clientAt(x, at);
    if (!c) return;
    const s = this.sessions.of(l, c.name, c.ip, t);
    const ui = x.indexOf('sasl_username=', c.end);
    let account: string | undefined;
    if (ui >= 0) {
      const comma = x.indexOf(',', ui);
      account = x.slice(ui + 14, comma < 0 ? undefined : comma);
    }
    const pub = isPublic(c.ip);
    const msg: Msg = { origin: account ? 'sasl' : pub ? 'smtpd' : 'local', ip: detach(c.ip), session: s.id };
    if (account) {
      msg.account = detach(account);
      s.sasl = msg.account;
      s.authOk = true;
      this.accounts.onMessage(msg.account, c.ip, t, l.program, l);
      if (s.helo) this.accounts.onHelo(msg.account, s.helo, c.ip, l);
    } else if (pub) {
      this.dnsbl.onAccepted(c.ip);
    }
    this.msgs.set(detach(l.queueId!), msg);
  }

  /** reject - a reject (or reject_warning) line; `at` is where `STAGE from …` starts. */
  private reject(l: InputLine, t: number, at: number, warning: boolean): void {
    const r = parseReject(l.text, at);
    if (!r) return;
    const listed = r.reply.indexOf('blocked using ');
    if (listed >= 0) {
      const m = /^blocked using ([A-Za-z0-9.-]+)/.exec(r.reply.slice(listed));
      if (m) this.dnsbl.onListed(m[1]!.replace(/\.$/, ''), r.ip, t, l, undefined, r.reply);
    }
    const s = this.sessions.of(l, r.name, r.ip, t);
    if (r.helo) {
      s.helo = detach(r.helo);
      if (s.sasl) this.accounts.onHelo(s.sasl, r.helo, r.ip, l);
    }
    if (warning) return;
    if (r.code === 421 && r.reply.includes(' banned (')) {
      this.rejects.onBanRefusal(r.ip, t, l);
      return;
    }
    s.rejects++;
    this.rejects.onReject({ t, ip: r.ip, code: r.code, reason: normaliseReason(r.reply), session: s.id, sender: r.sender, recipient: r.recipient, helo: r.helo }, l);
  }

  // --- postscreen, dnsblog ------------------------------------------------------------------

  private postscreen(l: InputLine, t: number): void {
    const x = l.text;
    if (x.startsWith('CONNECT from [')) {
      const end = x.indexOf(']', 14);
      if (end < 0) return;
      const ip = x.slice(14, end);
      this.psSessions.set(detach(ip), this.nextPsSession--);
      if (isPublic(ip)) this.dnsbl.onConnect(ip, t);
    } else if (x.startsWith('NOQUEUE: reject: ')) {
      const r = parseReject(x, 17);
      if (!r) return;
      const listed = /blocked using ([A-Za-z0-9.-]+)/.exec(r.reply);
      if (listed) this.dnsbl.onListed(listed[1]!, r.ip, t, l, undefined, r.reply);
      let session = this.psSessions.peek(r.ip);
      if (session === undefined) {
        session = this.nextPsSession--;
        this.psSessions.set(detach(r.ip), session);
      }
      this.rejects.onReject({ t, ip: r.ip, code: r.code, reason: normaliseReason(r.reply), session, sender: r.sender, recipient: r.recipient, helo: r.helo }, l);
    }
  }

  private dnsblog(l: InputLine, t: number): void {
    const x = l.text;
    if (x.startsWith('addr ')) {
      const m = /^addr (\S+) listed by domain (\S+) as (.+)$/.exec(x);
      if (m) this.dnsbl.onListed(m[2]!, m[1]!, t, l, m[3]!);
    } else if (x.startsWith('warning: dnsblog_query: lookup error for DNS query ')) {
      const q = x.slice(51, x.indexOf(':', 51));
      const list = listOfQuery(q);
      if (list) this.dnsbl.onError(list, t, l);
    } else if (x.startsWith('warning: dnsbl ')) {
      // mxguard: "dnsbl LIST: refusing: REASON; not used for 60s, …" / "dnsbl LIST: healthy again (…)"
      const bad = /^warning: dnsbl (\S+): (degraded|refusing): (.*?)(?:; not used for .*)?$/.exec(x);
      if (bad) {
        this.dnsbl.onHealth(bad[1]!, bad[2]!, bad[3]!, t, l);
        return;
      }
      const good = /^warning: dnsbl (\S+): healthy again(?: \((.*)\))?$/.exec(x);
      if (good) this.dnsbl.onHealth(good[1]!, 'healthy', good[2] ?? '', t, l);
    }
  }

  // --- queue: pickup, cleanup, qmgr, bounce, delivery ----------------------------------------

  private pickupLine(l: InputLine, t: number): void {
    if (!l.queueId) return;
    const m = /^ uid=(\d+) from=<([^>]*)>/.exec(l.text.slice(l.queueId.length + 1));
    if (!m) return;
    const uid = Number(m[1]);
    this.msgs.set(detach(l.queueId), { origin: 'pickup', uid });
    this.pickup.onPickup(uid, m[2]!, t, l);
  }

  private cleanup(l: InputLine, t: number): void {
    if (!l.queueId) return;
    const x = l.text;
    const at = l.queueId.length + 2;
    if (x.startsWith('message-id=', at)) return;
    const hi = x.indexOf(' helo=<', at);
    if (hi < 0) return;
    // QUEUEID: ACTION: header|body TEXT from NAME[IP]; from=<S> to=<R> proto=P helo=<H>: TEXT
    const helo = x.slice(hi + 7, x.indexOf('>', hi + 7));
    const msg = this.msgs.peek(l.queueId);
    const fromClient = x.lastIndexOf(' from ', x.indexOf('; from=<', at));
    const c = fromClient < 0 ? undefined : clientAt(x, fromClient + 6);
    const ip = c?.ip ?? msg?.ip ?? '';
    if (msg?.account && helo) this.accounts.onHelo(msg.account, helo, ip, l);
    if (x.startsWith('reject: ', at) && c) {
      const after = x.slice(x.indexOf('>: ', hi) + 3);
      const m = /^([45])\.\d{1,3}\.\d{1,3} (.*)$/.exec(after);
      const code = m?.[1] === '4' ? 450 : 550;
      this.rejects.onReject({ t, ip: c.ip, code, reason: normaliseReason(m?.[2] ?? after), session: msg?.session ?? this.nextPsSession--, sender: field(x, 'from=<', fromClient), recipient: field(x, 'to=<', fromClient), helo }, l);
    }
  }

  private qmgr(l: InputLine, t: number): void {
    const id = l.queueId;
    if (!id) return;
    const x = l.text;
    const at = id.length + 2;
    if (x.length === at + 7 && x.endsWith('removed')) {
      this.msgs.delete(id);
      return;
    }
    if (!x.startsWith('from=<', at)) return;
    const end = x.indexOf('>', at + 6);
    if (end < 0) return;
    let m = this.msgs.peek(id);
    if (!m) {
      m = { origin: 'unknown' };
      this.msgs.set(detach(id), m);
    }
    if (m.sender === undefined) m.sender = detach(x.slice(at + 6, end));
    if (end === at + 6 && m.origin === 'smtpd' && !m.nullCounted && m.ip) {
      m.nullCounted = true;
      this.backscatter.onNullSender(m.ip, t, l);
    }
  }

  private bounce(l: InputLine, t: number): void {
    const id = l.queueId;
    if (!id) return;
    const x = l.text;
    const at = id.length + 2;
    if (!x.startsWith('sender non-delivery notification: ', at)) return;
    const ndr = x.slice(at + 34).trim();
    const m = this.msgs.peek(id);
    if (ndr) this.msgs.set(detach(ndr), { origin: 'bounce', sender: '' });
    if (m?.sender !== undefined) this.backscatter.onNdr(m.sender, m.origin, t, l);
  }

  private delivery(l: InputLine, daemon: string): void {
    const id = l.queueId;
    if (!id) return;
    const local = LOCAL_AGENTS.has(daemon);
    const m = this.msgs.peek(id);
    // Most deliveries are of messages no detector follows: only local ones teach our domains.
    if (!m && !local) return;
    const x = l.text;
    const at = id.length + 2;
    if (!x.startsWith('to=<', at)) return;
    const rEnd = x.indexOf('>', at + 4);
    if (rEnd < 0) return;
    const si = x.indexOf(' status=', rEnd);
    if (si < 0) return;
    const sEnd = x.indexOf(' ', si + 8);
    const status = x.slice(si + 8, sEnd < 0 ? undefined : sEnd);
    const rcpt = x.slice(at + 4, rEnd);
    if (local && status === 'sent' && !rcpt.endsWith(this.lastLocalSuffix)) {
      const dom = domainOf(rcpt);
      if (dom) {
        this.ctx.local.learn(dom);
        this.lastLocalSuffix = detach(`@${dom}`);
      }
    }
    if (!m) return;
    const ri = x.indexOf(' relay=', rEnd);
    const relay = ri < 0 ? '' : x.slice(ri + 7, x.indexOf(',', ri));
    if (daemon === 'smtp' && (relay.includes('[127.') || relay.includes('[::1]'))) {
      // A content filter: the message comes back under a new queue id and keeps its origin.
      const q = /queued as ([0-9A-Za-z]+)\)?\s*$/.exec(x);
      if (q && status === 'sent') {
        const child = this.msgs.peek(q[1]!);
        const copy: Msg = { ...m, nullCounted: true, remoteSeen: false, localSeen: false, sender: child?.sender ?? m.sender };
        this.msgs.set(detach(q[1]!), copy);
      }
      return;
    }
    const remote = daemon === 'smtp';
    if (m.origin === 'pickup' && m.uid !== undefined) {
      const first = remote ? !m.remoteSeen : !m.localSeen;
      if (remote) m.remoteSeen = true; else m.localSeen = true;
      const reason = status === 'sent' ? '' : x.slice(x.indexOf('(', si) + 1, x.lastIndexOf(')'));
      this.pickup.onDelivery(m.uid, rcpt, remote, status, reason, first, l);
    }
    if (m.account) this.accounts.onRecipient(m.account, rcpt);
  }

  /** finish - ends open sessions and collects every detector's findings. */
  finish(): Finding[] {
    this.sessions.closeAll();
    return [
      ...this.accounts.finish(),
      ...this.pickup.finish(),
      ...this.auth.finish(),
      ...this.rejects.finish(),
      ...this.backscatter.finish(),
      ...this.dnsbl.finish(this.lastTime),
    ];
  }

  /** notes - what the caps made the run forget (empty when nothing was). */
  notes(): string[] {
    const out: string[] = [];
    if (this.msgs.evicted) out.push(`${this.msgs.evicted} queue ids were dropped before their "removed" line (over ${MAX_MESSAGES} in flight)`);
    if (this.sessions.evicted) out.push(`${this.sessions.evicted} smtpd sessions had no disconnect line and were closed when more than ${Math.min(this.ctx.opts.maxKeys, MAX_OPEN_SESSIONS)} were open`);
    const keys = this.auth.evicted + this.rejects.evicted + this.accounts.evicted;
    if (keys) out.push(`${keys} client addresses, networks or accounts were forgotten over --max-keys ${this.ctx.opts.maxKeys}; clients that keep coming are still found, one that returns after that many others starts from zero`);
    return out;
  }
}
