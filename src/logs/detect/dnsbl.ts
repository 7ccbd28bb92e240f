/**
 * @module logs/detect/dnsbl
 * DNS lists that broke, both ways:
 *
 * - `dnsbl-answers-all`: a list that lists (nearly) everyone: in some hour with at least
 *   --dnsbl-min-clients distinct clients (20), it listed --dnsbl-share of them (90%); or it gave an
 *   answer that is not a listing (Spamhaus 127.255.255.254 "query via a public resolver" and the
 *   other refusal codes of src/dnsbl/codes.ts, or a reply text such as "open resolver"). Postfix
 *   then rejects every client, good ones included ("otherwise fine": clients that got mail
 *   accepted at another time are counted).
 * - `dnsbl-stopped`: a list that listed clients earlier and then nothing for so long that, at its
 *   earlier rate per connection, --dnsbl-silence listings (10) were missing; or one with
 *   --dnsbl-errors lookup errors (5: `RBL lookup error`, dnsblog `lookup error for DNS query`);
 *   or mxguard's own health warnings (`dnsbl LIST: degraded|refusing`, docs/dnsbl.md).
 *
 * Listings are read from `blocked using LIST` in reject lines (smtpd, postscreen; reject_warning
 * too: the list did answer) and dnsblog's `addr IP listed by domain LIST as ANSWER`. Clients are
 * the distinct addresses of `connect from` (smtpd) and `CONNECT from` (postscreen), per clock hour.
 */
import { classifyAnswer } from '../../dnsbl/codes.js';
import { CappedCounter, LruMap } from './bounded.js';
import { detach } from '../strings.js';
import type { DetectContext } from './context.js';
import { EvidenceList, listOf, makeFinding, plural, span, stamp, type Finding } from './findings.js';
import type { InputLine } from '../input.js';

const HOUR_MS = 3_600_000;
const MAX_LISTS = 100;
const MAX_HOUR_CLIENTS = 50_000;
/** Reply texts operators use for a refused query (the TXT record Postfix appends to the reject). */
const REFUSAL_TEXT = /open resolver|public resolver|returnc\/|excessive number of queries|query refused/i;

interface ListState {
  readonly name: string;
  listed: number;
  first: number;
  last: number;
  /** Listings that were real answers (not refusals), the last one's time, and the connections counted then. */
  realListed: number;
  lastReal: number;
  connsAtLastReal: number;
  hourListed: Set<string>;
  saturatedHours: number;
  satFirst: number;
  satLast: number;
  maxShare: number;
  maxShareClients: number;
  refusals: number;
  readonly refusalAnswers: CappedCounter;
  readonly goodListed: CappedCounter;
  errors: number;
  errFirst: number;
  errLast: number;
  readonly health: string[];
  healthState?: string;
  readonly evidence: EvidenceList;
  readonly errEvidence: EvidenceList;
}

export class DnsblDetector {
  private readonly lists = new Map<string, ListState>();
  private hour = -1;
  private hourClients = new Set<string>();
  private conns = 0;
  /** Clients that got a message accepted (not listed, or not rejected for it). */
  private readonly good: LruMap<string, true>;

  constructor(private readonly ctx: DetectContext) {
    this.good = new LruMap(ctx.opts.maxKeys);
  }

  private roll(t: number): void {
    const h = Math.floor(t / HOUR_MS);
    if (h === this.hour) return;
    this.closeHour();
    this.hour = h;
  }

  /** closeHour - judges each list's share of the hour's clients. */
  private closeHour(): void {
    const o = this.ctx.opts;
    for (const ls of this.lists.values()) {
      const n = ls.hourListed.size;
      if (n === 0) continue;
      const clients = Math.max(this.hourClients.size, n);
      const share = n / clients;
      if (clients >= o.dnsblMinClients && share > ls.maxShare) {
        ls.maxShare = share;
        ls.maxShareClients = clients;
      }
      if (clients >= o.dnsblMinClients && share >= o.dnsblShare) {
        ls.saturatedHours++;
        if (!ls.satFirst) ls.satFirst = this.hour * HOUR_MS;
        ls.satLast = (this.hour + 1) * HOUR_MS - 1000;
      }
      ls.hourListed = new Set();
    }
    this.hourClients = new Set();
  }

  private list(name: string, t: number): ListState | undefined {
    const key = name.toLowerCase();
    let ls = this.lists.get(key);
    if (!ls) {
      if (this.lists.size >= MAX_LISTS) return undefined;
      ls = {
        name: detach(key), listed: 0, first: t, last: t, realListed: 0, lastReal: 0, connsAtLastReal: 0, hourListed: new Set(), saturatedHours: 0, satFirst: 0, satLast: 0,
        maxShare: 0, maxShareClients: 0, refusals: 0, refusalAnswers: new CappedCounter(5), goodListed: new CappedCounter(1000),
        errors: 0, errFirst: 0, errLast: 0, health: [], evidence: new EvidenceList(this.ctx.opts.evidence), errEvidence: new EvidenceList(Math.max(2, this.ctx.opts.evidence >> 1)),
      };
      this.lists.set(ls.name, ls);
    }
    return ls;
  }

  /** onConnect - a client connection (not loopback). */
  onConnect(ip: string, t: number): void {
    this.roll(t);
    this.conns++;
    if (this.hourClients.size < MAX_HOUR_CLIENTS && !this.hourClients.has(ip)) this.hourClients.add(detach(ip));
  }

  /** onAccepted - a client got a message accepted: "otherwise fine". */
  onAccepted(ip: string): void {
    if (!this.good.touch(ip)) this.good.set(detach(ip), true);
  }

  /** onListed - LIST listed IP (answer: the A record, when dnsblog logged it; text: the reject reply). */
  onListed(list: string, ip: string, t: number, l: InputLine, answer?: string, text?: string): void {
    this.roll(t);
    const ls = this.list(list, t);
    if (!ls) return;
    let refusal: string | undefined;
    if (answer) {
      const c = classifyAnswer(ls.name, answer.split(/\s+/));
      if (c.kind === 'refused') refusal = c.why;
    }
    if (refusal === undefined && text) {
      const m = REFUSAL_TEXT.exec(text);
      if (m) refusal = `the reply says "${m[0]}"`;
    }
    const good = this.good.peek(ip) !== undefined;
    ls.evidence.add(l, refusal ? 'refused' : good ? 'good' : answer ? 'answer' : 'reject', 2);
    // dnsblog's answer and smtpd's reject are one listing of one client: count it once an hour.
    if (ls.hourListed.has(ip)) return;
    if (ls.hourListed.size < MAX_HOUR_CLIENTS) ls.hourListed.add(detach(ip));
    ls.listed++;
    ls.last = t;
    if (refusal) {
      ls.refusals++;
      ls.refusalAnswers.add(refusal);
    } else {
      // Only real listings set the rate that "stopped answering" is judged by.
      ls.realListed++;
      ls.lastReal = t;
      ls.connsAtLastReal = this.conns;
    }
    if (good) ls.goodListed.add(ip);
  }

  /** onError - a lookup of LIST failed. */
  onError(list: string, t: number, l: InputLine): void {
    const ls = this.list(list, t);
    if (!ls) return;
    ls.errors++;
    if (!ls.errFirst) ls.errFirst = t;
    ls.errLast = t;
    ls.errEvidence.add(l);
  }

  /** onHealth - mxguard's `dnsbl LIST: degraded|refusing: …` / `healthy again` warnings. */
  onHealth(list: string, state: string, reason: string, t: number, l: InputLine): void {
    const ls = this.list(list, t);
    if (!ls) return;
    ls.healthState = state;
    if (ls.health.length < 5) ls.health.push(detach(`${stamp(t)} ${state}${reason ? `: ${reason}` : ''}`));
    if (state === 'refusing') ls.refusalAnswers.add(reason.replace(/ \(query [^)]*\)$/, ''));
    ls.errEvidence.add(l);
    if (!ls.errFirst) ls.errFirst = t;
    ls.errLast = t;
  }

  finish(end: number): Finding[] {
    this.closeHour();
    const out: Finding[] = [];
    for (const ls of this.lists.values()) {
      if (ls.saturatedHours > 0 || ls.refusals > 0) out.push(this.allFinding(ls));
      const f = this.stoppedFinding(ls, end);
      if (f) out.push(f);
    }
    return out;
  }

  private allFinding(ls: ListState): Finding {
    const o = this.ctx.opts;
    const parts: string[] = [];
    if (ls.saturatedHours > 0) {
      parts.push(`${ls.name} listed at least ${Math.round(o.dnsblShare * 100)}% of the clients in ${plural(ls.saturatedHours, 'hour')} ${span(ls.satFirst, ls.satLast)} (at most ${Math.round(ls.maxShare * 100)}% of ${ls.maxShareClients} clients in an hour; --dnsbl-share, --dnsbl-min-clients).`);
    } else {
      parts.push(`${ls.name} listed ${plural(ls.listed, 'client')} ${span(ls.first, ls.last)}.`);
    }
    if (ls.refusals) parts.push(`${plural(ls.refusals, 'answer')} ${ls.refusals === 1 ? 'was' : 'were'} not a listing but a refusal: ${listOf(ls.refusalAnswers.top(3).map(([w]) => w), 3)}.`);
    if (ls.goodListed.distinct) parts.push(`It listed ${plural(ls.goodListed.distinct, 'client')} that had mail accepted at other times.`);
    parts.push('A list that answers for every client makes the server reject everyone, good senders included.');
    const spamhaus = /spamhaus\.(org|net)$/.test(ls.name);
    const rec = [
      `Take ${ls.name} out of \`smtpd_recipient_restrictions\`/\`smtpd_client_restrictions\` (\`reject_rbl_client\`) and \`postscreen_dnsbl_sites\` until it answers properly again.`,
      spamhaus
        ? 'Spamhaus answers 127.255.255.254 to queries that come through a public resolver (8.8.8.8, 1.1.1.1, a provider\'s shared resolver): run your own resolver (unbound) and point /etc/resolv.conf at it, or use a Spamhaus DQS key.'
        : 'Check what the list answers for its test points: `dig +short 2.0.0.127.LIST` must give a 127.0.0.x address, `dig +short 1.0.0.127.LIST` nothing; an answer for 1.0.0.127 means the list (or your resolver) answers everything.',
      `Accept only real listing codes: \`reject_rbl_client ${ls.name}=127.0.0.[2..11]\` in Postfix (and \`${ls.name}=127.0.0.[2..11]*N\` in postscreen_dnsbl_sites), so an error code never rejects. mxguard does this by itself: it checks each list's answers and stops using a list that refuses (docs/dnsbl.md; \`mxguard lists\` shows the state).`,
    ];
    return makeFinding({
      kind: 'dnsbl-answers-all',
      severity: 'high',
      subject: ls.name,
      title: `DNS list ${ls.name} answers for every client`,
      summary: parts.join(' '),
      first: ls.saturatedHours ? ls.satFirst : ls.first,
      last: ls.saturatedHours ? ls.satLast : ls.last,
      evidence: ls.evidence.lines(),
      recommendation: rec,
      addresses: [],
      details: { count: ls.listed, saturatedHours: ls.saturatedHours, maxShare: ls.maxShare, refusals: ls.refusals, goodListed: ls.goodListed.distinct },
    });
  }

  private stoppedFinding(ls: ListState, end: number): Finding | undefined {
    const o = this.ctx.opts;
    const after = this.conns - ls.connsAtLastReal;
    const rate = ls.connsAtLastReal > 0 ? ls.realListed / ls.connsAtLastReal : 0;
    const expected = rate * after;
    const silent = ls.realListed >= o.dnsblSilence && expected >= o.dnsblSilence;
    const errors = ls.errors >= o.dnsblErrors;
    const unhealthy = ls.healthState === 'degraded' || ls.healthState === 'refusing';
    if (!silent && !errors && !unhealthy) return undefined;
    const parts: string[] = [];
    if (silent) parts.push(`${ls.name} listed ${plural(ls.realListed, 'client')} until ${stamp(ls.lastReal)} (about 1 in ${Math.max(1, Math.round(1 / rate))} connections), then none in the ${plural(after, 'connection')} up to ${stamp(end)}, where about ${Math.round(expected)} listings were due (--dnsbl-silence ${o.dnsblSilence}).`);
    if (ls.errors) parts.push(`${plural(ls.errors, 'lookup')} of it failed ${span(ls.errFirst, ls.errLast)}${errors ? ` (--dnsbl-errors ${o.dnsblErrors})` : ''}.`);
    if (ls.health.length) parts.push(`mxguard's list health: ${ls.health.join('; ')}.`);
    parts.push('A list that stopped answering protects nothing: the spam it used to stop now reaches the next check, or the mailboxes.');
    const rec = [
      `Ask the list by hand: \`dig 2.0.0.127.${ls.name}\` must answer 127.0.0.2; a timeout or SERVFAIL means the list or your resolver fails, NXDOMAIN means the list is gone or refuses you.`,
      'Lists stop answering for good (shut down, or they now answer only paying users): if so, remove it from the restrictions and postscreen_dnsbl_sites; if your resolver is the problem, fix or replace it (a local unbound).',
      'mxguard watches its lists itself and skips one that fails (docs/dnsbl.md); `mxguard lists` shows each list\'s state.',
    ];
    const first = silent ? ls.lastReal : ls.errFirst || ls.first;
    const what = silent ? 'stopped answering' : ls.healthState === 'refusing' ? 'refuses queries' : 'fails lookups';
    return makeFinding({
      kind: 'dnsbl-stopped',
      severity: silent && (errors || unhealthy) ? 'high' : 'medium',
      subject: ls.name,
      title: `DNS list ${ls.name} ${what}`,
      summary: parts.join(' '),
      first,
      last: Math.max(end, ls.errLast),
      evidence: [...ls.evidence.lines().slice(-2), ...ls.errEvidence.lines()].slice(0, o.evidence),
      recommendation: rec,
      addresses: [],
      details: { count: ls.errors, listed: ls.realListed, connectionsAfter: after, expected: Math.round(expected), errors: ls.errors, health: ls.healthState ?? null },
    });
  }
}
