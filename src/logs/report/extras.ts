/**
 * @module logs/report/extras
 * The sections pflogsumm does not have: greylisting, policy services and content filters, SASL
 * (logins, per-user use, failures), TLS, postscreen, rejects by short reason, top clients. Fed by
 * the collector with lines it has already classified, so each method knows what it looks at.
 *
 * Log formats read (Postfix 3.x unless said):
 * - postgrey: `[QID: ]action=greylist|pass, reason=…[, delay=N], client_name=…, client_address=…,
 *   sender=…, recipient=…`; `whitelisted: name[ip]` (auto-whitelist entry); older `delayed N
 *   seconds: client=…`. mxguard writes the same fields: in its policy service's lines
 *   (`postfix/policy`) and in smtpd `info:` lines (`NOQUEUE: info: RCPT from …: action=greylist, …`).
 * - Postfix's side of greylisting: `reject: RCPT … 450 4.2.0 <rcpt>: Recipient address rejected:
 *   Greylisted…` — counted as greylisting only when no decision lines are in the logs, since both
 *   describe the same event.
 * - policyd-spf `prepend Received-SPF: <Result> …` / `550 5.7.23 …` / `defer_if_permit …`;
 *   mxguard `QID: authentication: spf=<result> …`; postfwd `[RULES] … action=<action>`;
 *   policyd-weight `decided action=<action>; …`; amavis `(id) Passed CLEAN {…}` / `Blocked SPAM`;
 *   dovecot `<service>: Login:` / `auth failed` lines.
 * - SASL: smtpd `warning: CLIENT: SASL METHOD authentication failed: …`; `client=…,
 *   sasl_method=M, sasl_username=U` (messages per user); `disconnect from … auth=N[/M]` (logins:
 *   sessions with at least one successful AUTH — the counters exist since Postfix 3.0).
 * - TLS: `<Anonymous|Trusted|Verified|Untrusted> TLS connection established from|to HOST: PROTO
 *   with cipher CIPHER (BITS)` (smtpd: inbound, smtp/lmtp: outbound).
 * - postscreen: `CONNECT from`, `PASS NEW`, `PASS OLD`, `NOQUEUE: reject: RCPT …`, and the other
 *   upper-case events (PREGREET, HANGUP, DNSBL rank, COMMAND …, NON-SMTP COMMAND, BARE NEWLINE, …);
 *   dnsblog `addr IP listed by domain SITE as …` (sites; else the `blocked using SITE` of rejects).
 *
 * Memory: every table is a capped Tally; greylist triplets waiting for a retry are a Bounded map.
 */
import type { InputLine } from '../input.js';
import type { Program } from './classify.js';
import { Bounded, Budget, Tally, cmp } from './counters.js';
import { detach, hashRange } from '../strings.js';
import type { Counted, GreylistStats, PolicyStats, PostscreenStats, ReportData, SaslStats, TlsStats } from './model.js';
import type { RejectKey } from './rules.js';

interface N { n: number }
/** `n` is the weight kept when the table is pruned: everything the client did. */
export interface ClientRow {
  n: number;
  connections: number;
  messages: number;
  rejects: number;
  /** The collector's connection-time row of the client's host/domain, once looked up. */
  conn?: unknown;
}

/**
 * The top-clients state of one smtpd session. Clients enter the table of clients at their second
 * connection (a doorkeeper counts first connections in a small array of counters), or when one
 * session did much: one-time clients, most of a botnet's, never cost a table entry.
 */
export interface ClientSession {
  row: ClientRow | undefined;
  /** Counted here while the client is not in the table. */
  messages: number;
  rejects: number;
}

interface TlsKind { level: string; outbound: boolean; tails: Array<{ text: string; n: number }>; more: Map<string, number> }

/** A session with this many messages and rejects enters the table of clients at its end. */
const ADMIT_ACTIVITY = 3;
const DOORKEEPER_BITS = 18;
interface UserRow { n: number; clients: Set<string>; methods: Set<string> }

const CAP = 20_000;
/** Authenticated users followed (each with its sets of clients and methods). */
const USER_CAP = 5000;
const TRIPLET_CAP = 20_000;

const tally = (cap = CAP, budget?: Budget): Tally<N> => new Tally<N>(cap, () => ({ n: 0 }), budget);
const counted = (t: Tally<N>, limit?: number): Counted[] => t.top(limit, 'n').map(([key, e]) => ({ key, count: e.n }));

/** Informational Postfix texts no table counts, known so that --strict does not list them. */
const KNOWN = [
  'connect from ', 'disconnect from ', 'lost connection after ', 'timeout after ', 'too many errors after ',
  'improper command pipelining after ', 'SSL_accept error from ', 'SSL_connect error to ', 'setting up TLS connection ',
  'message-id=', 'resent-message-id=', 'removed', 'skipped, still being delivered', 'statistics: ', 'daemon started',
  'reload', 'terminating on signal', 'host ', 'conversation with ', 'lost connection with ', 'connect to ',
  'enabling PIX workarounds', 'client=', 'uid=', 'sender=', 'from=<', 'to=<', 'info: ', 'warn: ', 'filter: ',
  'redirect: ', 'prepend: ', 'replace: ', 'trace: ', 'authentication: ', 'milter-', 'proxy-accept: ', 'proxy-reject: ',
  'discard: ', 'hold: ', 'reject: ', 'reject_warning: ', 'warning: ', 'error: ', 'fatal: ', 'panic: ',
  'sender non-delivery notification: ', 'sender delivery status notification: ', 'sender delay notification: ',
  'postmaster non-delivery notification: ', 'cache ', 'addr ', 'Deleted: ', 'Requeued: ', 'requeued',
  'Placed on hold: ', 'placed on hold', 'Released from hold: ', 'released from hold', 'Cannot start TLS',
  'TLS is required', 'Server certificate', 'server certificate', 'certificate verification', 'Peer certificate',
  'discarding EHLO keywords', 'recovered ', 'no non-delivery notice', 'no delay notice', 'undeliverable ',
  'listening on ', 'breaking line', 'mail for ', 'NOQUEUE: ', 'Untrusted TLS', 'Trusted TLS', 'Verified TLS',
  'Anonymous TLS', 'TLS connection established',
];

const GREY_RE = /action=([\w-]+), reason=([^,;]*)(?:, delay=(\d+))?(?:, client_name=([^,;]*))?(?:, client_address=([^,;]*))?(?:, sender=([^,;]*))?(?:, recipient=([^,;]*))?/;
const SASL_FAIL_RE = /^warning: (.+?)(?::\d+)?: SASL (\S+) authentication failed/;
const TLS_RE = /^(\S+) with cipher (\S+)(?: \(([^)]*)\))?/;
/** postscreen(8) events, as logged (DNSBL rank N, PREGREET N after …, HANGUP after …, …). */
const PS_EVENTS = [
  'DNSBL', 'PREGREET', 'HANGUP', 'COMMAND PIPELINING', 'COMMAND TIME LIMIT', 'COMMAND COUNT LIMIT', 'COMMAND LENGTH LIMIT',
  'NON-SMTP COMMAND', 'BARE NEWLINE', 'WHITELISTED', 'ALLOWLISTED', 'BLACKLISTED', 'DENYLISTED', 'WHITELIST VETO',
  'ALLOWLIST VETO',
];
/** Events that are not a client's fault (the rest count towards its "failed tests"). */
const PS_NOT_OFFENCES = new Set(['WHITELISTED', 'ALLOWLISTED', 'WHITELIST VETO', 'ALLOWLIST VETO']);
const PS_EVENT_RE = /^([A-Z][A-Z-]*(?: [A-Z][A-Z-]*)*)(?= |$)/;

/** Counts of the extra sections; the collector calls the methods for lines of the matching kind. */
export class Extras {
  // Greylisting.
  private greylisted = 0;
  private passedAfterDelay = 0;
  private whitelisted = 0;
  private readonly greyReasons = tally();
  private readonly greyClients: Tally<N>;
  private rejectGreylisted = 0;
  private readonly rejectGreyClients: Tally<N>;
  private readonly waiting = new Bounded<true>(TRIPLET_CAP);
  private readonly delays = new Map<number, number>();
  // Policy services.
  private readonly services = new Map<string, Tally<N>>();
  private readonly spf = tally(100);
  // SASL.
  private logins = 0;
  private saslFailures = 0;
  private readonly users: Tally<UserRow>;
  private readonly failClients: Tally<N>;
  private readonly failMethods = tally(100);
  // TLS.
  /** TLS sessions by level and direction, then by "protocol with cipher …". */
  private readonly tlsKinds: TlsKind[] = [];
  private connects = 0;
  // postscreen.
  private psConnects = 0;
  private passNew = 0;
  private passOld = 0;
  private psRejected = 0;
  private readonly psEvents = tally(200);
  private readonly dnsblogSites = tally(1000);
  private readonly rejectSites = tally(1000);
  private readonly psClients: Tally<N>;
  // Rejects and clients.
  private readonly reasons: Tally<N>;
  private readonly clients: Tally<ClientRow>;
  private readonly seen = new Uint8Array(1 << DOORKEEPER_BITS);

  /**
   * @param trackClients keep the tables of clients and of reject reasons (`topClients`,
   *   `rejectsByReason`): the text report shows neither, so it leaves them out
   */
  constructor(private readonly trackClients = true, budget?: Budget) {
    this.greyClients = tally(CAP, budget);
    this.rejectGreyClients = tally(CAP, budget);
    this.failClients = tally(CAP, budget);
    this.psClients = tally(CAP, budget);
    this.reasons = tally(CAP, budget);
    this.users = new Tally<UserRow>(USER_CAP, () => ({ n: 0, clients: new Set(), methods: new Set() }), budget);
    this.clients = new Tally<ClientRow>(CAP, () => ({ n: 0, connections: 0, messages: 0, rejects: 0 }), budget);
  }

  private service(name: string): Tally<N> {
    let t = this.services.get(name);
    if (!t) this.services.set(name, (t = tally(500)));
    return t;
  }

  /** policyLine - a line of a policy service, content filter or dovecot. */
  policyLine(p: Program, l: InputLine): void {
    const text = l.queueId ? l.text.slice(l.queueId.length + 2) : l.text;
    switch (p.family) {
      case 'postgrey':
      case 'mxguard-policy': {
        const name = p.family === 'postgrey' ? 'postgrey' : 'mxguard policy';
        if (this.greylistDecision(name, text)) return;
        if (text.startsWith('whitelisted: ')) this.service(name).entry('whitelisted (AWL entry)').n++;
        else if (text.startsWith('delayed ')) {
          // postgrey before 1.30: `delayed 300 seconds: client=…, from=…, to=…`.
          this.greylisted++;
          this.greyReasons.entry('new').n++;
          this.service(name).entry('greylist').n++;
        } else if (p.family === 'mxguard-policy') {
          const w = /^([\w-]+)[:=]/.exec(text)?.[1];
          if (w) this.service(name).entry(w).n++;
        }
        return;
      }
      case 'policyd-spf': {
        const svc = this.service('policyd-spf');
        if (text.startsWith('prepend Received-SPF: ')) {
          svc.entry('prepend').n++;
          const r = /^prepend Received-SPF: (\w+)/.exec(text)?.[1];
          if (r) this.spf.entry(capital(r)).n++;
        } else if (/^\d{3} /.test(text)) {
          svc.entry('reject').n++;
          const r = /SPF (\w+)/.exec(text)?.[1];
          if (r) this.spf.entry(capital(r)).n++;
        } else if (text.startsWith('defer_if_permit')) {
          svc.entry('defer_if_permit').n++;
        } else if (text.startsWith('prepend X-Comment')) {
          svc.entry('prepend (skipped)').n++;
        }
        return;
      }
      case 'postfwd': {
        if (!text.startsWith('[RULES]')) return;
        const a = /, action=(\S+)/.exec(text)?.[1];
        if (a) this.service('postfwd').entry(actionWord(a)).n++;
        return;
      }
      case 'policyd-weight': {
        const a = /^decided action=(\S+)/.exec(text)?.[1];
        if (a) this.service('policyd-weight').entry(actionWord(a)).n++;
        return;
      }
      case 'amavis': {
        const m = /^\([\w-]+\) (Passed|Blocked|Not-Delivered|Discarded|Bounced|Rejected)(?: ([A-Z][A-Z-]*))?/.exec(text);
        if (m) this.service('amavis').entry(m[2] ? `${m[1]} ${m[2]}` : m[1]!).n++;
        return;
      }
      case 'dovecot': {
        const ev = text.includes(': Login: ') ? 'login'
          : /auth failed|password mismatch|unknown user|Authentication failure/i.test(text) ? 'auth failed'
            : /saved mail to|stored mail into mailbox/.test(text) ? 'delivered' : undefined;
        if (ev) this.service('dovecot').entry(ev).n++;
        return;
      }
      default:
    }
  }

  /** greylistDecision - a postgrey-style `action=…, reason=…` text; false when it is not one. */
  private greylistDecision(service: string, text: string): boolean {
    if (!text.startsWith('action=')) return false;
    const m = GREY_RE.exec(text);
    if (!m) return false;
    const action = m[1]!;
    const reason = m[2]!;
    this.service(service).entry(action).n++;
    const triplet = `${m[5] ?? ''}/${m[6] ?? ''}/${m[7] ?? ''}`;
    if (action === 'greylist') {
      this.greylisted++;
      // `early-retry (8s missing)` → `early-retry`
      const paren = reason.indexOf(' (');
      this.greyReasons.entry(paren < 0 ? reason : reason.slice(0, paren)).n++;
      const client = m[4] && m[4] !== 'unknown' ? `${m[4]}[${m[5] ?? ''}]` : (m[5] ?? '');
      this.greyClients.entry(client).n++;
      if (this.waiting.get(triplet) === undefined) this.waiting.set(triplet, true);
    } else if (action === 'pass') {
      if (m[3] !== undefined) {
        this.passedAfterDelay++;
        this.waiting.delete(triplet);
        const d = Number(m[3]);
        if (this.delays.has(d) || this.delays.size < 50_000) this.delays.set(d, (this.delays.get(d) ?? 0) + 1);
      } else if (/whitelist|allowlist|AWL/i.test(reason)) {
        this.whitelisted++;
      }
    }
    return true;
  }

  /**
   * postfixLine - a Postfix line no pflogsumm table counted (or that pflogsumm skips): TLS,
   * connections, SASL logins, postscreen, dnsblog, mxguard's greylist and authentication lines.
   * Returns whether the line is one of the known kinds.
   */
  postfixLine(daemon: string, l: InputLine, off: number): boolean {
    const text = l.text;
    const c = text.charCodeAt(off);
    if (daemon === 'postscreen') return this.postscreen(text, off);
    if (c === 99 /* c */ && daemon === 'smtpd' && text.startsWith('connect from ', off)) {
      this.connectLine(off ? text.slice(off) : text);
      return true;
    }
    if (c === 100 /* d */ && text.startsWith('disconnect from ', off)) {
      this.disconnectLine(text);
      return true;
    }
    const tls = text.indexOf('TLS connection established ', off);
    if (tls >= 0) {
      this.tlsLine(text, off, tls);
      return true;
    }
    if (daemon === 'dnsblog') {
      const m = /^addr \S+ listed by domain (\S+)/.exec(text);
      if (m) this.dnsblogSites.entry(m[1]!).n++;
      return true;
    }
    if ((c === 105 /* i */ && text.startsWith('info: ', off)) || (c === 78 /* N */ && text.startsWith('NOQUEUE: info: ', off))) {
      // mxguard: `NOQUEUE|QID: info: RCPT from CLIENT: action=greylist, …; from=<…> …`
      const a = text.indexOf(': action=', off);
      if (a >= 0) this.greylistDecision('mxguard greylist', text.slice(a + 2));
      return true;
    }
    if (c === 97 /* a */ && text.startsWith('authentication: ', off)) {
      // mxguard: `QID: authentication: spf=pass dkim=none dmarc=none`
      const r = /\bspf=(\w+)/.exec(text)?.[1];
      if (r) this.spf.entry(capital(r)).n++;
      return true;
    }
    if (daemon === 'postfix-script' || daemon === 'master') return true;
    for (const k of KNOWN) if (text.startsWith(k, off)) return true;
    return false;
  }

  /**
   * tlsLine - `[LEVEL ]TLS connection established from|to HOST: PROTOCOL with cipher …`, counted
   * by level and direction (a handful) and then by the text after the host (a few more: protocol
   * and cipher), split into its parts in finish(). Kept without cutting strings out of the line:
   * the known texts are compared in place.
   */
  private tlsLine(text: string, off: number, tls: number): void {
    const colon = text.indexOf(': ', tls + 27);
    if (colon < 0) return;
    const outbound = text.charCodeAt(tls + 27) !== 102 /* f */;
    const level = tls - 1 > off ? text.slice(off, tls - 1) : '';
    let kind: TlsKind | undefined;
    for (const k of this.tlsKinds) if (k.outbound === outbound && k.level === level) kind = k;
    if (!kind) this.tlsKinds.push((kind = { level: detach(level), outbound, tails: [], more: new Map() }));
    const start = colon + 2;
    const len = text.length - start;
    for (const t of kind.tails) {
      if (t.text.length === len && text.startsWith(t.text, start)) {
        t.n++;
        return;
      }
    }
    // A handful in practice; past 32 (an odd log), the rest go to a map.
    const tail = text.slice(start);
    if (kind.tails.length < 32) {
      kind.tails.push({ text: detach(tail), n: 1 });
      return;
    }
    const n = kind.more.get(tail);
    if (n !== undefined) kind.more.set(tail, n + 1);
    else if (kind.more.size < 1000) kind.more.set(detach(tail), 1);
  }

  /** connectLine - smtpd `connect from CLIENT`: a new session. */
  connectLine(text: string): ClientRow | undefined {
    this.connects++;
    if (!this.trackClients) return undefined;
    const end = clientEnd(text, 13);
    // Connections seen before from this client, as far as the counters tell (collisions add).
    const h = hashRange(text, 13, end) >>> (32 - DOORKEEPER_BITS);
    const before = this.seen[h]!;
    if (before < 255) this.seen[h] = before + 1;
    if (before === 0) return undefined;
    const e = this.clients.entry(text.slice(13, end));
    if (e.connections === 0) {
      e.connections = before;
      e.n += before;
    }
    e.n++;
    e.connections++;
    return e;
  }

  /** sessionEnd - smtpd `disconnect from CLIENT …`: a busy session of a new client enters the table. */
  sessionEnd(text: string, s: ClientSession): void {
    if (!this.trackClients || s.row || s.messages + s.rejects < ADMIT_ACTIVITY) return;
    const e = this.clients.entry(text.slice(16, clientEnd(text, 16)));
    if (e.connections === 0) {
      e.connections = 1;
      e.n++;
    }
    e.n += s.messages + s.rejects;
    e.messages += s.messages;
    e.rejects += s.rejects;
    s.row = e;
  }

  /** disconnectLine - smtpd `disconnect from CLIENT ehlo=1 auth=1/2 …`: logins from the AUTH counter. */
  disconnectLine(text: string): void {
    // `auth=1` or `auth=1/2`: at least one successful AUTH in the session.
    const a = text.indexOf(' auth=');
    if (a >= 0 && text.charCodeAt(a + 6) !== 48 /* 0 */) this.logins++;
  }

  /** postscreen - postscreen's events; returns whether the line is one. */
  private postscreen(text: string, off: number): boolean {
    const c = text.charCodeAt(off);
    if (c < 65 || c > 90) return text.startsWith('cache ', off) || text.startsWith('warning: ', off);
    if (text.startsWith('CONNECT from ', off)) {
      this.psConnects++;
      return true;
    }
    if (text.startsWith('PASS ', off)) {
      if (text.startsWith('PASS NEW', off)) this.passNew++;
      else if (text.startsWith('PASS OLD', off)) this.passOld++;
      return true;
    }
    if (text.startsWith('DISCONNECT', off) || text.startsWith('NOQUEUE: ', off)) return true;
    // Known events by name (constant strings: no allocation, hash cached); others by their words.
    let ev: string | undefined;
    for (let i = 0; i < PS_EVENTS.length && ev === undefined; i++) if (text.startsWith(PS_EVENTS[i]!, off)) ev = PS_EVENTS[i];
    if (ev === undefined) {
      ev = PS_EVENT_RE.exec(off ? text.slice(off) : text)?.[1];
      if (!ev) return false;
    }
    this.psEvents.entry(ev).n++;
    if (!PS_NOT_OFFENCES.has(ev)) {
      const b = text.indexOf('[', off);
      const e = b < 0 ? -1 : text.indexOf(']', b);
      if (e > b + 1) this.psClients.entry(text.slice(b + 1, e)).n++;
    }
    return true;
  }

  /** clientLine - smtpd `QID: client=CLIENT[, sasl_method=M, sasl_username=U]`. */
  clientLine(client: string, text: string, comma: number, session: ClientSession | undefined): void {
    // The session's state when the collector has it (a small per-pid table is cheaper to ask
    // than the large table of clients).
    if (this.trackClients) {
      const cl = session ? session.row : this.clients.entry(stripPort(client));
      if (cl) {
        cl.n++;
        cl.messages++;
      } else if (session) {
        session.messages++;
      }
    }
    if (comma < 0) return;
    const u = text.indexOf('sasl_username=', comma);
    if (u < 0) return;
    const end = text.indexOf(',', u);
    const user = text.slice(u + 14, end < 0 ? text.length : end);
    const row = this.users.entry(user);
    if (row.n++ === 0) this.users.counted(user);
    if (row.clients.size < 1000) {
      const ip = stripPort(client);
      if (!row.clients.has(ip)) row.clients.add(detach(ip));
    }
    const m = text.indexOf('sasl_method=', comma);
    if (m >= 0 && row.methods.size < 20) {
      const mEnd = text.indexOf(',', m);
      const meth = text.slice(m + 12, mEnd < 0 ? text.length : mEnd);
      if (!row.methods.has(meth)) row.methods.add(detach(meth));
    }
  }

  /** warningLine - a `warning:` line of a Postfix daemon (SASL failures). */
  warningLine(daemon: string, text: string): void {
    if (daemon !== 'smtpd' || text.indexOf(' authentication failed') < 0) return;
    const m = SASL_FAIL_RE.exec(text);
    if (!m) return;
    this.saslFailures++;
    this.failClients.entry(m[1]!).n++;
    this.failMethods.entry(m[2]!.toUpperCase()).n++;
  }

  /** rejectLine - an smtpd or postscreen `reject:` (also smtpd `milter-reject:`). */
  rejectLine(daemon: string, k: RejectKey, text: string, session: ClientSession | undefined): void {
    if (this.trackClients) this.reasons.entry(k.reason).n++;
    if (daemon === 'postscreen') {
      this.psRejected++;
      const site = / blocked using ([^;,\s]+)/.exec(text)?.[1];
      if (site) this.rejectSites.entry(site).n++;
      const ip = /\[([^\]]+)\]/.exec(k.client)?.[1];
      if (ip) this.psClients.entry(ip).n++;
      return;
    }
    if (this.trackClients) {
      const cl = session ? session.row : this.clients.entry(stripPort(k.client));
      if (cl) {
        cl.n++;
        cl.rejects++;
      } else if (session) {
        session.rejects++;
      }
    }
    if (text.indexOf('reylist') >= 0) {
      this.rejectGreylisted++;
      this.rejectGreyClients.entry(stripPort(k.client)).n++;
    }
  }

  /** rejectReason - a reject counted without an smtpd-style line (cleanup's checks and milters). */
  rejectReason(reason: string): void {
    if (this.trackClients) this.reasons.entry(reason).n++;
  }

  /** Names of tables that reached their caps. */
  approximate(): string[] {
    const out: string[] = [];
    const tables: Array<[string, { pruned: boolean }]> = [
      ['greylist clients', this.greyClients], ['SASL users', this.users], ['SASL failure clients', this.failClients],
      ['postscreen clients', this.psClients], ['reject reasons', this.reasons], ['top clients', this.clients],
    ];
    for (const [name, t] of tables) if (t.pruned) out.push(name);
    if (this.waiting.evicted) out.push('greylist triplets');
    return out;
  }

  finish(): Pick<ReportData, 'greylist' | 'policy' | 'sasl' | 'tls' | 'postscreen' | 'rejectsByReason' | 'topClients'> {
    const decisions = this.greylisted > 0;
    const greylist: GreylistStats = {
      greylisted: decisions ? this.greylisted : this.rejectGreylisted,
      passedAfterDelay: this.passedAfterDelay,
      whitelisted: this.whitelisted,
      neverRetried: decisions ? this.waiting.map.size + this.waiting.evicted : 0,
      byReason: counted(this.greyReasons),
      topClients: counted(decisions ? this.greyClients : this.rejectGreyClients),
      ...(this.passedAfterDelay ? { medianDelay: median(this.delays) } : {}),
    };
    const policy: PolicyStats = {
      byService: [...this.services].sort((a, b) => cmp(a[0], b[0])).map(([service, t]) => ({ service, actions: counted(t) })),
      spf: counted(this.spf),
    };
    const sasl: SaslStats = {
      logins: this.logins,
      failures: this.saslFailures,
      byUser: this.users.top(undefined, 'n').map(([user, r]) => ({ user, messages: r.n, clients: r.clients.size, methods: [...r.methods].sort() })),
      failuresByClient: counted(this.failClients),
      failuresByMethod: counted(this.failMethods),
    };
    const level = tally(), proto = tally(), cipher = tally();
    let inbound = 0, outbound = 0;
    for (const kind of this.tlsKinds) {
      const lv = kind.level;
      const dir = kind.outbound ? 'to' : 'from';
      for (const { text: rest, n } of [...kind.tails, ...[...kind.more].map(([text, n]) => ({ text, n }))]) {
        // `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)[ key-exchange …]`
        const t = TLS_RE.exec(rest);
        if (!t) continue;
        if (dir === 'from') inbound += n;
        else outbound += n;
        level.entry(lv || 'unnamed').n += n;
        proto.entry(t[1]!).n += n;
        cipher.entry(t[3] ? `${t[2]} (${t[3]})` : t[2]!).n += n;
      }
    }
    const tls: TlsStats = {
      inbound, outbound, byLevel: counted(level), byProtocol: counted(proto), byCipher: counted(cipher), inboundConnections: this.connects,
    };
    const postscreen: PostscreenStats = {
      connects: this.psConnects,
      passNew: this.passNew,
      passOld: this.passOld,
      rejected: this.psRejected,
      byEvent: counted(this.psEvents),
      dnsblSites: counted(this.dnsblogSites.map.size ? this.dnsblogSites : this.rejectSites),
      topClients: counted(this.psClients),
    };
    const topClients = this.clients.top(undefined, 'n')
      .map(([key, r]) => ({ key, connections: r.connections, messages: r.messages, rejects: r.rejects }))
      .sort((a, b) => b.connections + b.rejects - (a.connections + a.rejects) || cmp(a.key, b.key));
    return { greylist, policy, sasl, tls, postscreen, rejectsByReason: counted(this.reasons), topClients };
  }
}

/** clientEnd - where the client `name[addr]` that starts at `from` ends (a `:port` left out). */
function clientEnd(text: string, from: number): number {
  const sp = text.indexOf(' ', from);
  const end = sp < 0 ? text.length : sp;
  if (text.charCodeAt(end - 1) === 93 /* ] */) return end;
  const b = text.lastIndexOf(']', end);
  return b > from ? b + 1 : end;
}

/** `unknown[192.0.2.1]:4711` → `unknown[192.0.2.1]` */
function stripPort(client: string): string {
  const b = client.lastIndexOf(']');
  return b > 0 && b < client.length - 1 ? client.slice(0, b + 1) : client;
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();

/** First word of an access(5)-style action, upper-cased: `450`, `REJECT`, `DUNNO`, `PREPEND`. */
function actionWord(a: string): string {
  const w = /^[^\s(;,]+/.exec(a)?.[0] ?? a;
  return w.toUpperCase();
}

/** median - of a histogram (value → count). */
function median(h: Map<number, number>): number {
  const rows = [...h].sort((a, b) => a[0] - b[0]);
  const total = rows.reduce((n, [, c]) => n + c, 0);
  let seen = 0;
  for (const [v, c] of rows) {
    seen += c;
    if (seen * 2 >= total) return v;
  }
  return 0;
}
