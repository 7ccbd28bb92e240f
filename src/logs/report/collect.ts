/**
 * @module logs/report/collect
 * One pass over the logs for `mxguard logs report`: every line is classified by its program
 * (classify.ts), then by how its text starts, and counted into pflogsumm's tables (same rules as
 * pflogsumm 1.1.5-8, so the grand totals agree) and into the sections pflogsumm lacks
 * (extras.ts: greylisting, policy services, SASL, TLS, postscreen).
 *
 * Speed: this runs once per line of logs with millions of lines. Dispatch uses the program name
 * (cached), `startsWith` at the offset after the queue id, and `indexOf`; regular expressions run
 * only on lines already known to be of their kind.
 *
 * Memory (bounded whatever the input): per-queue-id state (size, "received from", "deferred
 * once") lives from the first line of a queue id to its `removed` line, in a table of at most
 * IN_FLIGHT_CAP ids (the oldest dropped first). Tables of addresses, domains, clients and detail
 * keys are Tally/Detail instances sharing one Budget of entries (counters.ts); totals are always
 * exact, lists and distinct counts exact until the budget is spent. The CLI runs this in a worker
 * thread with a capped heap (worker.ts).
 *
 * Deliberate differences from pflogsumm (docs/logs-report.md lists them with the reasons): more
 * program names (Postfix instances `postfix-NAME/…`, every master.cf service name); smtpd's own
 * `milter-reject:` lines count as rejects; a queue id's state ends at `removed` (pflogsumm keeps
 * it forever, so a reused queue id is not counted again there). `pflogsummCompat` turns the first
 * two off.
 */
import { scanLogs, type InputLine, type LogInputOptions, type LogInputStats } from '../input.js';
import { Daemon, ProgramClassifier, type Program } from './classify.js';
import { Bounded, Budget, Detail, Tally, cmp, keysOf, sortOrder, sortRows } from './counters.js';
import { detach } from '../strings.js';
import { parseDelivery, type Delivery } from './delivery.js';
import { Extras, type ClientSession } from './extras.js';
import type { Counted, DetailGroup, ReportData, ReportOptions, Sized, TrafficRow } from './model.js';
import {
  addressDomain, bounceReason, verpMung, cleanupCheck, clientDomain, deferralReason, normAddress, rejectKey, smtpConnectFailure, trim,
  type KeyOptions,
} from './rules.js';

/** Queue ids followed at once; more (ids whose `removed` line is not in the logs) drop the oldest. */
export const IN_FLIGHT_CAP = 30_000;
/**
 * Entries (addresses, domains, clients, detail reasons and keys) of all tables together: about
 * 130 bytes each, so some 16 MB. Below it every table is exact.
 */
export const ENTRY_BUDGET = 120_000;
/** Distinct addresses kept per address table (senders, recipients). */
export const ADDRESS_CAP = 100_000;
/** Distinct domains / client hosts kept per table. */
export const DOMAIN_CAP = 10_000;
/** Open smtpd sessions followed for connection times. */
export const SESSION_CAP = 10_000;
/** Entries of one detail table at most (within the shared budget). */
const DETAIL_CAP = 40_000;
/** Rows of "Messages with no size data" kept (all are counted). */
const NO_SIZE_ROWS = 1000;

/** What pflogsumm keeps per queue id. */
interface Msg {
  /** "Whence it came": the client's host/domain, or `pickup`; cleared once the size is seen. */
  rcvd: string | undefined;
  /** From the first `from=<…>, size=N` line; 0 = not seen. */
  size: number;
  deferred: boolean;
}

interface RecipDom {
  n: number;
  bytes: number;
  defers: number;
  delaySum: number;
  maxDelay: number;
}

interface Counts { n: number; bytes: number }
/** An open smtpd session (and its top-clients state: one object per session). */
interface Session extends ClientSession { host: string; start: number }
interface ConnRow { n: number; seconds: number; max: number }

const SIZE_RE = /from=<([^>]*)>, size=(\d+)/;
const WORD_RE = /^\w+$/;
/** Lengths of reject, reject_warning, hold, discard. */
const KEYWORD_LENGTH = [6, 14, 4, 7];

const STATUS_OTHER = 0;
const STATUS_SENT = 1;
const STATUS_DEFERRED = 2;
const STATUS_BOUNCED = 3;

/** statusOf - the delivery status written in text[a, b) (`sent`, `deferred`, `bounced`, other). */
function statusOf(text: string, a: number, b: number): number {
  const n = b - a;
  if (n === 4 && text.startsWith('sent', a)) return STATUS_SENT;
  if (n === 8 && text.startsWith('deferred', a)) return STATUS_DEFERRED;
  if (n === 7 && text.startsWith('bounced', a)) return STATUS_BOUNCED;
  return STATUS_OTHER;
}

/** senderDomain - the domain of `local@domain` (after the first `@`), or '' for other forms. */
function senderDomain(addr: string): string {
  const at = addr.indexOf('@');
  return at > 0 && at < addr.length - 1 ? addr.slice(at + 1) : '';
}

/** leadingInt - the decimal number at `i` (at least one digit), or -1. */
function leadingInt(s: string, i: number): number {
  let n = -1;
  for (;;) {
    const c = s.charCodeAt(i++);
    if (c < 48 || c > 57) return n;
    n = (n < 0 ? 0 : n * 10) + (c - 48);
  }
}

/** First token of a text, as pflogsumm's "qid" (up to a colon or blank). */
function firstToken(text: string): string {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 58 || c === 32 || c === 9) break;
    i++;
  }
  return text.slice(0, i);
}

/** isWord - `text` starts with `w` followed by a colon, blank or the end (pflogsumm's `$qid eq w`). */
function isWord(text: string, w: string): boolean {
  if (!text.startsWith(w)) return false;
  const c = text.charCodeAt(w.length);
  return Number.isNaN(c) || c === 58 || c === 32 || c === 9;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** The collector's state; `line` is called for each line in range, `finish` builds the report. */
export class Collector {
  private readonly classifier: ProgramClassifier;
  private readonly compat: boolean;
  /** Follow smtpd sessions (connection times, the top-clients rows); off for a lean text report. */
  private readonly trackSessions: boolean;
  private readonly keys: KeyOptions;
  private readonly rejAddFrom: boolean;
  private readonly zeroFill: boolean;
  readonly extras: Extras;

  // Grand totals.
  private received = 0;
  private delivered = 0;
  private forwarded = 0;
  private deferredMsgs = 0;
  private deferrals = 0;
  private bounced = 0;
  private rejected = 0;
  private warned = 0;
  private held = 0;
  private discarded = 0;
  private bytesReceived = 0;
  private bytesDelivered = 0;

  // Per queue id.
  private readonly inFlight = new Bounded<Msg>(IN_FLIGHT_CAP);

  // Traffic by day ("YYYY-MM-DD") and hour: received, delivered, deferred, bounced, rejected.
  private readonly perDay = new Map<string, number[]>();
  private readonly perHour: number[][] = Array.from({ length: 24 }, () => [0, 0, 0, 0, 0]);
  private days = 0;
  private lastTime: Date | undefined;
  private lastDate = -1;
  private hourStart = 0;
  private hourEnd = 0;
  private hour = 0;
  private dayRow: number[] = [0, 0, 0, 0, 0];
  private dayKey = '';

  // Tables.
  // Per address; the per-domain tables are sums over these, made in finish() (one table to update
  // per line, not two). Senders without a `local@domain` form are filed under the client's
  // host/domain (pflogsumm's rule), which the address does not tell: those go to otherSendDomains.
  private readonly budget = new Budget(ENTRY_BUDGET);
  private readonly senders = new Tally<Counts>(ADDRESS_CAP, () => ({ n: 0, bytes: 0 }), this.budget);
  private readonly otherSendDomains = new Tally<Counts>(DOMAIN_CAP, () => ({ n: 0, bytes: 0 }), this.budget);
  /** `n` counts deliveries; an address only deferred so far has n = 0 and is not (yet) a recipient. */
  private readonly recipients = new Tally<RecipDom>(ADDRESS_CAP, () => ({ n: 0, bytes: 0, defers: 0, delaySum: 0, maxDelay: 0 }), this.budget);
  private noSize = 0;
  private readonly noSizeRows: Array<{ id: string; address: string }> = [];

  // Detail sections.
  // Three levels (stage → reason → recipient/sender/client) or two (group → reason), as pflogsumm's.
  private readonly deferred = new Detail(true, DETAIL_CAP, this.budget);
  private readonly bounces = new Detail(true, DETAIL_CAP, this.budget);
  private readonly rejects = new Detail(false, DETAIL_CAP, this.budget);
  private readonly warns = new Detail(false, DETAIL_CAP, this.budget);
  private readonly holds = new Detail(false, DETAIL_CAP, this.budget);
  private readonly discards = new Detail(false, DETAIL_CAP, this.budget);
  private readonly smtpMsgs = new Detail(true, DETAIL_CAP, this.budget);
  private readonly warnings = new Detail(true, DETAIL_CAP, this.budget);
  private readonly fatals = new Detail(true, DETAIL_CAP, this.budget);
  private readonly panics = new Detail(true, DETAIL_CAP, this.budget);
  private readonly master = new Tally<Counts>(2000, () => ({ n: 0, bytes: 0 }));

  // smtpd connection times (pflogsumm --smtpd-stats), by host and pid.
  /** Open smtpd sessions by pid: for connection times, and the client's row of the top-clients table. */
  private readonly sessions = new Bounded<Session, number>(SESSION_CAP);
  private connCount = 0;
  private connSeconds = 0;
  private readonly connPerHour: ConnRow[] = Array.from({ length: 24 }, () => ({ n: 0, seconds: 0, max: 0 }));
  private readonly connPerDay = new Map<string, ConnRow>();
  private connDayKey = '';
  private connDay: ConnRow = { n: 0, seconds: 0, max: 0 };
  private readonly connByHost = new Tally<ConnRow>(DOMAIN_CAP, () => ({ n: 0, seconds: 0, max: 0 }), this.budget);

  /** Reused for every delivery line. */
  private readonly dl: Delivery = { addr: '', relayStart: 0, relayEnd: 0, delay: 0, statusStart: 0, statusEnd: 0 };
  private readonly hostNames = new Set<string>();
  private readonly domainNames = new Map<string, string>();
  private lastHost = '';
  notUnderstood = 0;
  otherPrograms = 0;

  constructor(opts: ReportOptions, private readonly onUnrecognized?: (l: InputLine) => void) {
    this.classifier = new ProgramClassifier(opts.syslogNames ?? []);
    this.compat = opts.pflogsummCompat === true;
    this.keys = { ignoreCase: opts.ignoreCase === true, verbose: opts.verboseMsgDetail === true, compat: this.compat, verpMung: opts.verpMung ?? 0 };
    this.zeroFill = opts.zeroFill === true;
    this.rejAddFrom = opts.rejAddFrom === true;
    // The text report shows neither top clients nor connection times (unless --smtpd-stats):
    // it need not pay for them.
    const lean = opts.lean === true;
    this.trackSessions = !lean || opts.smtpdStats === true;
    this.extras = new Extras(!lean, this.budget);
  }

  /** line - one parsed line inside the time range. */
  line(l: InputLine): void {
    const p = this.classifier.classify(l.program);
    if (p.family !== 'postfix') {
      if (p.family === 'other') this.otherPrograms++;
      else this.extras.policyLine(p, l);
      return;
    }
    if (l.host !== this.lastHost) {
      this.lastHost = l.host;
      if (this.hostNames.size < 100 && !this.hostNames.has(l.host)) this.hostNames.add(detach(l.host));
    }
    let known: boolean;
    if (this.compat && p.pfCmd === undefined) {
      // pflogsumm skips this program name; the extra sections still see the line.
      known = this.extras.postfixLine(p.daemon, l, l.queueId ? l.queueId.length + 2 : 0);
    } else {
      if (l.time !== this.lastTime) this.clock(l.time);
      known = this.compat ? this.postfix(p.pfCmd!, p.pfKind, p, l) : this.postfix(p.daemon, p.kind, p, l);
    }
    if (!known) {
      this.notUnderstood++;
      this.onUnrecognized?.(l);
    }
  }

  /**
   * clock - hour and day of the line; a new calendar day adds to the day count (pflogsumm's).
   * Local-time Date methods are slow: they run once per hour of log, and a line inside the
   * current hour (kept as a range of epoch milliseconds, so DST changes are right) costs a compare.
   */
  private clock(t: Date): void {
    this.lastTime = t;
    const ms = t.getTime();
    if (ms >= this.hourStart && ms < this.hourEnd) return;
    const y = t.getFullYear();
    const mo = t.getMonth();
    const d = t.getDate();
    this.hour = t.getHours();
    this.hourStart = new Date(y, mo, d, this.hour).getTime();
    this.hourEnd = new Date(y, mo, d, this.hour + 1).getTime();
    const date = y * 10000 + mo * 100 + d;
    if (date !== this.lastDate) {
      this.lastDate = date;
      this.dayKey = `${y}-${pad2(mo + 1)}-${pad2(d)}`;
      let row = this.perDay.get(this.dayKey);
      if (!row) {
        row = [0, 0, 0, 0, 0];
        this.perDay.set(this.dayKey, row);
        this.days++;
      }
      this.dayRow = row;
    }
  }

  private count(col: number): void {
    this.perHour[this.hour]![col]!++;
    this.dayRow[col]!++;
  }

  /**
   * postfix - pflogsumm's main loop for one line of a Postfix program: `cmd` is the daemon name
   * (`kind` its number) under the counting rules in force. Returns whether a rule recognised it.
   */
  private postfix(cmd: string, kind: Daemon, p: Program, l: InputLine): boolean {
    let text = l.text;
    // Solaris syslog adds `[ID 123456 mail.info] ` after the tag; pflogsumm drops it.
    if (text.charCodeAt(0) === 91 && text.startsWith('[ID ')) {
      const e = text.indexOf('] ');
      if (e > 0) text = text.slice(e + 2);
    }
    const qid = l.queueId;
    const off = qid ? qid.length + 2 : 0;

    if (kind === Daemon.Cleanup) {
      // Most cleanup lines name the message-id: nothing to count (pflogsumm still searches them
      // for size and delivery fields, which a message-id does not hold).
      if (text.startsWith('message-id=', off)) return true;
      // Header/body checks and milters (pflogsumm tests these before anything else).
      if (l.pid !== undefined && this.cleanup(cmd, text)) return true;
    } else if (kind === Daemon.Qmgr && qid && text.startsWith('removed', off)) {
      // End of this queue id: pflogsumm keeps its state forever (see the module comment).
      this.inFlight.delete(qid);
      return true;
    }

    // warning: / fatal: / panic: / reject: / reject_warning: / hold: / discard: as the first word.
    if (!qid && this.keyword(cmd, p.daemon, text)) return true;

    if (kind === Daemon.Master) {
      // The text after the last ": " (pflogsumm splits on `master…: `).
      const c = text.lastIndexOf(': ');
      this.master.entry(c < 0 ? text : text.slice(c + 2)).n++;
      return true;
    }
    if (kind === Daemon.Smtpd || kind === Daemon.Postscreen) return this.smtpd(kind, text, qid, off, p, l);

    // Every other daemon: qmgr's size lines, delivery lines, pickup, smtp connect failures.
    // pflogsumm looks for `from=<…>, size=` and `to=<…>, relay=` anywhere in the line; they
    // are at the start in practice.
    if (text.startsWith('from=<', off)) {
      const e = text.indexOf('>, size=', off + 6);
      if (e >= 0 && text.indexOf('>', off + 6) === e) {
        const size = leadingInt(text, e + 8);
        if (size >= 0) {
          this.sizeLine(qid ?? firstToken(text), text.slice(off + 6, e), size);
          return true;
        }
      }
    }
    if (text.indexOf('>, size=') >= 0) {
      const m = SIZE_RE.exec(text);
      if (m) {
        this.sizeLine(qid ?? firstToken(text), m[1]!, Number(m[2]));
        return true;
      }
    }
    const toAt = text.indexOf('to=<');
    if (toAt >= 0) {
      const d = parseDelivery(text, toAt, this.dl);
      if (d) {
        this.delivery(cmd, qid ?? firstToken(text), d, text);
        return true;
      }
    }
    if (qid && text.startsWith('removed', off)) {
      // End of this queue id (qmgr; postsuper -d): pflogsumm keeps its state forever.
      this.inFlight.delete(qid);
      return true;
    }
    if (kind === Daemon.Pickup && (text.startsWith('uid=', off) || text.startsWith('sender=', off) || text.includes(': uid=') || text.includes(': sender='))) {
      this.received++;
      this.count(0);
      this.msg(qid ?? firstToken(text)).rcvd = 'pickup';
      return true;
    }
    if (kind === Daemon.Smtp && !qid) {
      const f = smtpConnectFailure(text, !this.compat);
      if (f) {
        this.smtpMsgs.add(f.reason, f.host);
        return true;
      }
    }
    return this.extras.postfixLine(p.daemon, l, off);
  }

  /** cleanup - a cleanup(8) header/body check or milter result; false when the line is not one. */
  private cleanup(cmd: string, text: string): boolean {
    const chk = cleanupCheck(text, this.keys.verbose);
    if (!chk) return false;
    const detail = chk.action === 'reject' || chk.action === 'milter-reject' ? (this.rejected++, this.rejects)
      : chk.action === 'warning' ? (this.warned++, this.warns)
        : chk.action === 'hold' ? (this.held++, this.holds) : (this.discarded++, this.discards);
    detail.add(cmd, chk.part, chk.detail);
    this.count(4);
    if (detail === this.rejects) this.extras.rejectReason(chk.action === 'milter-reject' ? 'milter reject' : `${chk.part} check`);
    return true;
  }

  /** keyword - pflogsumm's first-word rules (its "qid" is then a word, not a queue id). */
  private keyword(cmd: string, daemon: string, text: string): boolean {
    switch (text.charCodeAt(0)) {
      case 119: /* w */
        if (!isWord(text, 'warning')) return false;
        // pflogsumm strips up to the last "warning: ".
        this.warnings.add(cmd, trim(text.slice(text.lastIndexOf('warning: ') + 9), 66, this.keys.verbose));
        this.extras.warningLine(daemon, text);
        return true;
      case 102: /* f */
        if (!isWord(text, 'fatal')) return false;
        this.fatals.add(cmd, trim(text.slice(text.lastIndexOf('fatal: ') + 7), 66, this.keys.verbose));
        return true;
      case 112: /* p */
        if (!isWord(text, 'panic')) return false;
        this.panics.add(cmd, trim(text.slice(text.lastIndexOf('panic: ') + 7), 66, this.keys.verbose));
        return true;
      case 114: /* r */
      case 104: /* h */
      case 100: { /* d */
        const kind = isWord(text, 'reject') ? 0 : isWord(text, 'reject_warning') ? 1 : isWord(text, 'hold') ? 2 : isWord(text, 'discard') ? 3 : -1;
        if (kind < 0) return false;
        this.smtpdReject(kind, text, 0, KEYWORD_LENGTH[kind]!, daemon, undefined);
        return true;
      }
      default:
        return false;
    }
  }

  /** smtpd - smtpd(8) and postscreen(8) lines: `client=` (received), rejects, connections. */
  private smtpd(kind: Daemon, text: string, qid: string | undefined, off: number, p: Program, l: InputLine): boolean {
    const c = text.charCodeAt(off);
    if (qid && c === 99 /* c */ && l.pid !== undefined && text.startsWith('client=', off)) {
      const comma = text.indexOf(',', off + 7);
      const client = comma < 0 ? text.slice(off + 7) : text.slice(off + 7, comma);
      this.received++;
      this.count(0);
      this.msg(qid).rcvd = this.domainName(clientDomain(client));
      this.extras.clientLine(client, text, comma, this.sessionClient(l));
      return true;
    }
    if (kind === Daemon.Smtpd && l.pid !== undefined && !qid) {
      // The session lines first: most smtpd lines are these.
      if (c === 99 /* c */ && text.startsWith('connect from ')) {
        const row = this.extras.connectLine(text);
        if (this.trackSessions) this.sessions.set(l.pid, { host: l.host, start: Math.floor(l.time.getTime() / 1000), row, messages: 0, rejects: 0 });
        return true;
      }
      if (c === 100 /* d */ && text.startsWith('disconnect from ')) {
        this.disconnect(text, l);
        return true;
      }
    }
    // `WORD: reject: …` (WORD a queue id or NOQUEUE) and the other smtpd_*_restrictions results.
    if (l.pid !== undefined) {
      const colon = qid ? qid.length : text.startsWith('NOQUEUE: ') ? 7 : text.indexOf(': ');
      if (colon > 0) {
        const at = colon + 2;
        const c2 = text.charCodeAt(at);
        if (c2 === 114 /* r */ || c2 === 104 /* h */ || c2 === 100 /* d */ || c2 === 109 /* m */) {
          let rk = text.startsWith('reject: ', at) ? 0 : text.startsWith('reject_warning: ', at) ? 1 : text.startsWith('hold: ', at) ? 2
            : text.startsWith('discard: ', at) ? 3 : -1;
          let kw = KEYWORD_LENGTH[rk] ?? 0;
          // smtpd's own milter rejects (connect … DATA stage); pflogsumm counts only cleanup's.
          if (rk < 0 && !this.compat && text.startsWith('milter-reject: ', at)) {
            rk = 0;
            kw = 13;
          }
          if (rk >= 0 && (qid || colon === 7 || WORD_RE.test(text.slice(0, colon)))) {
            this.smtpdReject(rk, text, at, kw, p.daemon, l);
            return true;
          }
        }
      }
    }
    return this.extras.postfixLine(p.daemon, l, off);
  }

  /** domainName - a host/domain kept in per-message state: one copy of each (see counters.ts detach()). */
  private domainName(d: string): string {
    let v = this.domainNames.get(d);
    if (v === undefined) {
      if (this.domainNames.size >= 10_000) this.domainNames.clear();
      v = detach(d);
      this.domainNames.set(v, v);
    }
    return v;
  }

  /** msg - the state of a queue id, created when new. */
  private msg(id: string): Msg {
    let m = this.inFlight.get(id);
    if (m === undefined) {
      m = { rcvd: undefined, size: 0, deferred: false };
      this.inFlight.set(id, m);
    }
    return m;
  }

  /** smtpdReject - reject, reject_warning, hold, discard of smtpd/postscreen style (pflogsumm's proc_smtpd_reject). */
  private smtpdReject(kind: number, text: string, at: number, kw: number, daemon: string, l: InputLine | undefined): void {
    const k = rejectKey(text, at, kw, this.keys, this.rejAddFrom);
    this.count(4);
    switch (kind) {
      case 0:
        this.rejected++;
        this.rejects.add(k.stage, k.reason, k.key);
        this.extras.rejectLine(daemon, k, text, l ? this.sessionClient(l) : undefined);
        break;
      case 1:
        this.warned++;
        this.warns.add(k.stage, k.reason, k.key);
        break;
      case 2:
        this.held++;
        this.holds.add(k.stage, k.reason, k.key);
        break;
      default:
        this.discarded++;
        this.discards.add(k.stage, k.reason, k.key);
    }
  }

  /** sizeLine - qmgr's `from=<…>, size=N`: the first one per queue id counts the message as received bytes. */
  private sizeLine(id: string, from: string, size: number): void {
    const m = this.msg(id);
    // qmgr logs this line again each time a deferred message comes back to the active queue.
    if (m.size) return;
    const addr = from ? verpMung(normAddress(from, this.keys.ignoreCase), this.keys.verpMung ?? 0) : 'from=<>';
    m.size = size;
    // Only messages seen arriving (smtpd client= or pickup) count as received: not bounces, not forwards.
    const rcvd = m.rcvd;
    if (rcvd === undefined) return;
    m.rcvd = undefined;
    // The sender's domain is the part after `@`; without one (the null sender, a bare name) it is
    // the client's host/domain, or the address itself for pickup.
    if (!senderDomain(addr)) {
      const d = this.otherSendDomains.entry(rcvd === 'pickup' ? addr : rcvd);
      d.n++;
      d.bytes += size;
    }
    const u = this.senders.entry(addr);
    if (u.n++ === 0) this.senders.counted(addr);
    u.bytes += size;
    this.bytesReceived += size;
  }

  /** delivery - a `to=<…>, relay=…, delay=…, status=…` line of any delivery agent. */
  private delivery(cmd: string, id: string, d: Delivery, text: string): void {
    const addr = normAddress(d.addr, this.keys.ignoreCase);
    const delay = d.delay;
    const status = statusOf(text, d.statusStart, d.statusEnd);
    if (status === STATUS_SENT) {
      if (text.indexOf('forwarded as ', d.statusEnd) >= 0) {
        this.forwarded++;
        return;
      }
      const ru = this.recipients.entry(addr);
      if (ru.n++ === 0) this.recipients.counted(addr);
      ru.delaySum += delay || 0;
      if (delay > ru.maxDelay) ru.maxDelay = delay;
      this.count(1);
      this.delivered++;
      const size = this.inFlight.get(id)?.size ?? 0;
      if (size) {
        ru.bytes += size;
        this.bytesDelivered += size;
      } else {
        this.noSize++;
        if (this.noSizeRows.length < NO_SIZE_ROWS) this.noSizeRows.push({ id: detach(id), address: detach(addr) });
      }
    } else if (status === STATUS_DEFERRED) {
      this.deferred.add(cmd, deferralReason(text, this.keys.verbose, this.compat));
      this.count(2);
      this.deferrals++;
      const msg = this.msg(id);
      if (!msg.deferred) {
        msg.deferred = true;
        this.deferredMsgs++;
      }
      const rd = this.recipients.entry(addr);
      rd.defers++;
      if (delay > rd.maxDelay) rd.maxDelay = delay;
    } else if (status === STATUS_BOUNCED) {
      const r = text.slice(d.relayStart, d.relayEnd);
      const relay = this.keys.ignoreCase ? r.toLowerCase() : r;
      this.bounces.add(relay, bounceReason(text, this.keys.verbose));
      this.count(3);
      this.bounced++;
    }
  }

  /** sessionClient - this smtpd process's session's client state, if its connect line was seen. */
  private sessionClient(l: InputLine): ClientSession | undefined {
    const s = l.pid === undefined ? undefined : this.sessions.get(l.pid);
    return s !== undefined && s.host === l.host ? s : undefined;
  }

  /** disconnect - the end of an smtpd session: its connect time (pflogsumm's --smtpd-stats), SASL logins. */
  private disconnect(text: string, l: InputLine): void {
    this.extras.disconnectLine(text);
    if (!this.trackSessions) return;
    // Sessions are keyed by pid (numbers hash fast); the host is compared, for logs of several machines.
    const s = this.sessions.get(l.pid!);
    if (s === undefined || s.host !== l.host) return;
    this.sessions.delete(l.pid!);
    const secs = Math.max(0, Math.floor(l.time.getTime() / 1000) - s.start);
    this.extras.sessionEnd(text, s);
    // The client's host/domain row, found once per client (its top-clients row keeps it).
    const row = s.row;
    let h = row?.conn as ConnRow | undefined;
    if (h === undefined) {
      const sp = text.indexOf(' ', 16);
      const host = clientDomain(sp < 0 ? text.slice(16) : text.slice(16, sp));
      h = this.connByHost.entry(host);
      if (h.n === 0) this.connByHost.counted(host);
      if (row) row.conn = h;
    }
    const add = (r: ConnRow): void => {
      r.n++;
      r.seconds += secs;
      if (secs > r.max) r.max = secs;
    };
    add(this.connPerHour[this.hour]!);
    if (this.connDayKey !== this.dayKey) {
      this.connDayKey = this.dayKey;
      let d = this.connPerDay.get(this.dayKey);
      if (!d) this.connPerDay.set(this.dayKey, (d = { n: 0, seconds: 0, max: 0 }));
      this.connDay = d;
    }
    add(this.connDay);
    add(h);
    this.connCount++;
    this.connSeconds += secs;
  }

  /** domains - the per-domain tables, summed over the per-address ones. */
  private domains(): { recipDomains: Map<string, RecipDom>; sendDomains: Map<string, Counts> } {
    const recipDomains = new Map<string, RecipDom>();
    for (const [addr, e] of this.recipients.map) {
      const dom = addressDomain(addr);
      let d = recipDomains.get(dom);
      if (!d) recipDomains.set(dom, (d = { n: 0, bytes: 0, defers: 0, delaySum: 0, maxDelay: 0 }));
      d.n += e.n;
      d.bytes += e.bytes;
      d.defers += e.defers;
      d.delaySum += e.delaySum;
      if (e.maxDelay > d.maxDelay) d.maxDelay = e.maxDelay;
    }
    const sendDomains = new Map<string, Counts>();
    const add = (dom: string, e: Counts): void => {
      let d = sendDomains.get(dom);
      if (!d) sendDomains.set(dom, (d = { n: 0, bytes: 0 }));
      d.n += e.n;
      d.bytes += e.bytes;
    };
    for (const [addr, e] of this.senders.map) {
      const dom = senderDomain(addr);
      if (dom) add(dom, e);
    }
    for (const [dom, e] of this.otherSendDomains.map) add(dom, e);
    return { recipDomains, sendDomains };
  }

  /** finish - the report data (lists sorted as pflogsumm sorts them). */
  finish(stats: LogInputStats, input: LogInputOptions): ReportData {
    const total = this.delivered + this.rejected + this.discarded;
    const pct = (n: number): number => (total ? Math.floor((n / total) * 100) : 0);
    const avg = this.days > 1;
    const row = (period: string, v: readonly number[], div: number): TrafficRow => {
      const f = (x: number): number => (div > 1 ? Math.floor(x / div + 0.5) : x);
      return { period, received: f(v[0]!), delivered: f(v[1]!), deferred: f(v[2]!), bounced: f(v[3]!), rejected: f(v[4]!) };
    };
    // A day with nothing counted is left out, as pflogsumm does unless --zero-fill.
    const perDay = [...this.perDay].filter(([, v]) => this.zeroFill || v.some((x) => x > 0)).sort((a, b) => cmp(a[0], b[0])).map(([k, v]) => row(k, v, 1));
    const perHour = this.perHour.map((v, h) => row(pad2(h), v, avg ? this.days : 1));
    const { recipDomains, sendDomains } = this.domains();
    // Address lists: by count and by size (ties: the order first seen). Each table is emptied
    // once its rows are made: the report's lists and the tables need not be in memory together.
    // Plain loops over parallel arrays: this runs once, on tables of tens of thousands of rows, in
    // code not yet optimised, where every closure call and pair array counts.
    const byUser = <E extends Counts>(t: Tally<E>): { byCount: Counted[]; bySize: Sized[] } => {
      const keys: string[] = [];
      const counts: number[] = [];
      const sizes: number[] = [];
      for (const [key, e] of t.map) {
        if (e.n === 0) continue;
        keys.push(key);
        counts.push(e.n);
        sizes.push(e.bytes);
      }
      t.map.clear();
      const byCountOrder = sortOrder(Float64Array.from(counts));
      const bySizeOrder = sortOrder(Float64Array.from(sizes));
      const n = keys.length;
      const byCount = new Array<Counted>(n);
      const bySize = new Array<Sized>(n);
      for (let i = 0; i < n; i++) {
        const c = byCountOrder[i]!;
        byCount[i] = { key: keys[c]!, count: counts[c]! };
        const s = bySizeOrder[i]!;
        bySize[i] = { key: keys[s]!, count: counts[s]!, bytes: sizes[s]! };
      }
      return { byCount, bySize };
    };
    const distinct = { senders: this.senders.distinct, recipients: this.recipients.distinct };
    const snd = byUser(this.senders);
    const rcp = byUser(this.recipients);
    const approx: string[] = [];
    const note = (name: string, t: { pruned: boolean }) => t.pruned && approx.push(name);
    note('senders', this.senders);
    note('recipients', this.recipients);
    note('sending domains', this.otherSendDomains);
    note('smtpd hosts', this.connByHost);
    for (const [name, d] of Object.entries({ deferrals: this.deferred, bounces: this.bounces, rejects: this.rejects, 'reject warnings': this.warns, warnings: this.warnings })) {
      if (d.pruned) approx.push(name);
    }
    approx.push(...this.extras.approximate());
    const smtpdPerHour = this.connPerHour.map((r, h) => ({ period: pad2(h), connections: r.n, seconds: r.seconds, maxSeconds: r.max })).filter((r) => r.connections > 0);
    const smtpdPerDay = [...this.connPerDay].sort((a, b) => cmp(a[0], b[0])).map(([k, r]) => ({ period: k, connections: r.n, seconds: r.seconds, maxSeconds: r.max }));
    const extras = this.extras.finish();
    return {
      generated: new Date().toISOString(),
      hosts: [...this.hostNames].sort(),
      input: {
        files: stats.files.length ? stats.files : ['-'],
        lines: stats.lines,
        parsed: stats.parsed,
        unparsed: stats.unparsed,
        outside: stats.outside,
        first: stats.first?.toISOString(),
        last: stats.last?.toISOString(),
        since: input.since?.toISOString(),
        until: input.until?.toISOString(),
      },
      totals: {
        received: this.received,
        delivered: this.delivered,
        forwarded: this.forwarded,
        deferred: this.deferredMsgs,
        deferrals: this.deferrals,
        bounced: this.bounced,
        rejected: this.rejected,
        rejectedPercent: pct(this.rejected),
        rejectWarnings: this.warned,
        held: this.held,
        discarded: this.discarded,
        discardedPercent: pct(this.discarded),
        bytesReceived: this.bytesReceived,
        bytesDelivered: this.bytesDelivered,
        senders: distinct.senders,
        sendingDomains: sendDomains.size,
        recipients: distinct.recipients,
        recipientDomains: [...recipDomains.values()].filter((d) => d.n > 0).length,
      },
      perDay,
      perHour,
      perHourIsAverage: avg,
      // pflogsumm: by count, then by bytes (both descending).
      deliveryDomains: sortRows([...recipDomains], (e) => e.n, (e) => e.bytes)
        .map(([domain, e]) => ({ domain, sent: e.n, bytes: e.bytes, defers: e.defers, avgDelay: e.n ? e.delaySum / e.n : 0, maxDelay: e.maxDelay })),
      receivedDomains: sortRows([...sendDomains], (e) => e.n, (e) => e.bytes)
        .map(([key, e]) => ({ key, count: e.n, bytes: e.bytes })),
      sendersByCount: snd.byCount,
      recipientsByCount: rcp.byCount,
      sendersBySize: snd.bySize,
      recipientsBySize: rcp.bySize,
      noSizeData: this.noSizeRows.map((r) => r.id),
      noSizeDataRows: this.noSizeRows,
      smtpd: {
        connections: this.connCount,
        hosts: this.connByHost.distinct,
        totalConnectTime: this.connSeconds,
        avgConnectTime: this.connCount ? this.connSeconds / this.connCount : 0,
        perDay: smtpdPerDay,
        perHour: smtpdPerHour,
        byHost: sortRows([...this.connByHost.map], (r) => r.n, (r) => r.seconds)
          .map(([key, r]) => ({ key, connections: r.n, seconds: r.seconds, maxSeconds: r.max })),
      },
      deferrals: detailGroups(this.deferred),
      bounces: detailGroups(this.bounces),
      rejects: detailGroups(this.rejects),
      rejectWarnings: detailGroups(this.warns),
      holds: detailGroups(this.holds),
      discards: detailGroups(this.discards),
      smtpFailures: detailGroups(this.smtpMsgs),
      warnings: detailGroups(this.warnings),
      fatals: detailGroups(this.fatals),
      panics: detailGroups(this.panics),
      masterMessages: this.master.top(undefined, 'n').map(([key, e]) => ({ key, count: e.n })),
      ...extras,
      counting: {
        pflogsummCompat: this.compat,
        days: this.days,
        notUnderstood: this.notUnderstood,
        otherPrograms: this.otherPrograms,
        inFlightEvicted: this.inFlight.evicted,
        approximate: approx,
      },
    };
  }
}

/**
 * detailGroups - a Detail as sorted rows: groups and reasons by name (pflogsumm sorts these keys),
 * keys by count then pflogsumm's host order. Two-level tables (no keys) have empty `keys`.
 */
export function detailGroups(d: Detail): DetailGroup[] {
  const byCount = <T extends { n: number }>(rows: Array<[string, T]>) => sortRows(rows, (v) => v.n);
  return [...d.groups].sort((a, b) => cmp(a[0], b[0])).map(([group, g]) => ({
    group,
    count: g.n,
    reasons: (d.twoLevel ? byCount([...g.reasons]) : [...g.reasons].sort((a, b) => cmp(a[0], b[0])))
      .map(([reason, r]) => ({
        reason,
        count: r.n,
        keys: byCount(keysOf(r).map(([k, n]) => [k, { n }] as [string, { n: number }])).map(([key, v]) => ({ key, count: v.n })),
      })),
  }));
}

/** collectReport - reads the logs once and returns the report data and the input counters. */
export async function collectReport(input: LogInputOptions, opts: ReportOptions, onUnrecognized?: (l: InputLine) => void): Promise<{ data: ReportData; stats: LogInputStats }> {
  const c = new Collector(opts, onUnrecognized);
  // The collector copies what it keeps from a line (detach, numbers): the reader may reuse line objects.
  const stats = await scanLogs({ ...input, reuseLine: true }, (l) => c.line(l));
  return { data: c.finish(stats, input), stats };
}
