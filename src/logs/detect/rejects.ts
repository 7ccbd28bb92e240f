/**
 * @module logs/detect/rejects
 * `repeat-rejects`: clients that keep coming back after a permanent "no". A 5xx reply tells the
 * client not to retry the same thing; a real mail server obeys, a spam tool does not (seed 004:
 * 185.191.228.36, refused with `504 5.5.2 Helo command rejected: need fully-qualified hostname`
 * again and again, each time with another made-up sender).
 *
 * Counted per client address: sessions with at least one 5xx reject (ten refused recipients in one
 * session are one "no"), --rejects within a window (default 5/1h). 4xx replies are not counted:
 * greylisting and rate limits ask the client to come back. mxguard's own ban refusals
 * (`421 … banned`) are counted apart: a client that keeps knocking while banned belongs in the
 * firewall.
 */
import { CappedCounter, DistinctSample, LruMap, RateRing } from './bounded.js';
import { detach } from '../strings.js';
import type { DetectContext } from './context.js';
import { EvidenceList, listOf, makeFinding, plural, span, type Finding } from './findings.js';
import type { InputLine } from '../input.js';

/** One reject as the scanner read it. */
export interface RejectEvent {
  readonly t: number;
  readonly ip: string;
  readonly code: number;
  /** Normalised reason (`Helo command rejected: need fully-qualified hostname`). */
  readonly reason: string;
  /** Session number (smtpd process session, postscreen connection); rejects of one session count once. */
  readonly session: number;
  readonly sender?: string;
  readonly recipient?: string;
  readonly helo?: string;
}

interface ClientState {
  readonly ring: RateRing;
  /** Created at the first ban refusal (mxguard only). */
  banRing?: RateRing;
  lastSession: number;
  sessions: number;
  rejects: number;
  banRefusals: number;
  /** mxguard `ban: client [...] banned` warnings. */
  bans: number;
  first: number;
  last: number;
  reached: number;
  banReached: number;
  readonly reasons: CappedCounter;
  readonly senders: DistinctSample;
  readonly recipients: DistinctSample;
  readonly evidence: EvidenceList;
}

export class RejectDetector {
  private readonly clients: LruMap<string, ClientState>;

  constructor(private readonly ctx: DetectContext) {
    this.clients = new LruMap(ctx.opts.maxKeys);
  }

  private state(ip: string, t: number): ClientState {
    let st = this.clients.touch(ip);
    if (!st) {
      const n = this.ctx.opts.rejects.count;
      // Kept small: thousands of clients get a state, few of them become findings.
      st = {
        ring: new RateRing(n), lastSession: -1, sessions: 0, rejects: 0, banRefusals: 0, bans: 0,
        first: t, last: t, reached: 0, banReached: 0,
        reasons: new CappedCounter(5, true), senders: new DistinctSample(20, 3), recipients: new DistinctSample(10, 3),
        evidence: new EvidenceList(this.ctx.opts.evidence, 2),
      };
      this.clients.set(detach(ip), st);
    }
    st.last = t;
    return st;
  }

  /** onReject - a 5xx reject (other codes are ignored here). */
  onReject(e: RejectEvent, l: InputLine): void {
    if (e.code < 500 || e.code > 599) return;
    const st = this.state(e.ip, e.t);
    st.rejects++;
    st.reasons.add(e.reason);
    if (e.sender !== undefined) st.senders.add(e.sender);
    if (e.recipient) st.recipients.add(e.recipient);
    if (e.session === st.lastSession) return;
    st.lastSession = e.session;
    st.sessions++;
    if (st.ring.push(e.t, this.ctx.opts.rejects.windowMs) && !st.reached) {
      st.reached = e.t;
      st.evidence.promote();
    }
    st.evidence.add(l);
  }

  /** onBanRefusal - mxguard refused a banned client at connect (`421 … banned`). */
  onBanRefusal(ip: string, t: number, l: InputLine): void {
    const st = this.state(ip, t);
    st.banRefusals++;
    st.banRing ??= new RateRing(this.ctx.opts.rejects.count);
    if (st.banRing.push(t, this.ctx.opts.rejects.windowMs) && !st.banReached) {
      st.banReached = t;
      st.evidence.promote();
    }
    st.evidence.add(l, 'ban', 2);
  }

  /** onBanned - mxguard's `ban: client [IP] banned …` warning. */
  onBanned(ip: string, t: number, l: InputLine): void {
    const st = this.state(ip, t);
    st.bans++;
    st.evidence.add(l, 'banned', 1);
  }

  /** Client addresses forgotten over --max-keys. */
  get evicted(): number { return this.clients.evicted; }

  finish(): Finding[] {
    const out: Finding[] = [];
    for (const [ip, st] of this.clients.entries()) {
      if (st.reached || st.banReached) out.push(this.finding(ip, st));
    }
    return out;
  }

  private finding(ip: string, st: ClientState): Finding {
    const rate = this.ctx.opts.rejects;
    const reasons = st.reasons.top(4).map(([r, c]) => `${c}× "${r}"`);
    const senders = st.senders.samples.map((s) => `<${s}>`);
    const rcpts = st.recipients.samples.map((r) => `<${r}>`);
    const claimed = this.ctx.claimedNames.peek(ip);
    const parts: string[] = [];
    if (st.sessions) {
      parts.push(`${ip}${claimed ? ` (claims to be ${claimed})` : ''} was refused with a 5xx reply in ${plural(st.sessions, 'session')} (${plural(st.rejects, 'reject')}) ${span(st.first, st.last)}, at least ${rate.text} (--rejects): ${listOf(reasons, 4)}.`);
      if (st.senders.distinct > 1) {
        const n = st.senders.more ? `more than ${st.senders.distinct} senders` : plural(st.senders.distinct, 'sender');
        parts.push(`It used ${n} (${listOf(senders, 3)}${st.senders.distinct > senders.length ? ', …' : ''})${rcpts.length ? ` for ${listOf(rcpts, 3)}` : ''}: made-up senders are a spam tool's mark.`);
      }
      parts.push('A 5xx reply means "do not send this again"; real mail servers obey it, spam tools do not, and each retry still costs an smtpd process.');
    }
    if (st.banRefusals) parts.push(`mxguard refused it ${plural(st.banRefusals, 'time')} while it was banned${st.bans ? ` (banned ${plural(st.bans, 'time')})` : ''}: it keeps connecting anyway.`);
    const helo = st.reasons.top(5).some(([r]) => /helo/i.test(r));
    const rec = [
      `Block it before SMTP: \`mxguard bans add ${ip}\`, or load this command's --ban-output nftables|fail2ban.`,
      'Let the server do it from now on: mxguard bans clients after repeated rejects with `mxguard_ban_rejects = 5` (docs/bans.md); with Postfix alone, fail2ban\'s `[postfix]` jail (filter `postfix`, mode `more`: it matches "Helo command rejected", "Relay access denied", "Client host rejected" and the other reject lines) with `maxretry = 3`, `bantime = 1h`.',
    ];
    if (st.banRefusals) rec.unshift('It is already banned by mxguard and still connects: move it to the firewall (`mxguard bans export --nft`, docs/bans.md), so it stops costing a connection each time.');
    if (helo) rec.push('The rejects themselves are right (`reject_non_fqdn_helo_hostname`/`reject_invalid_helo_hostname` are doing their job): nothing to change in the restrictions.');
    return makeFinding({
      kind: 'repeat-rejects',
      severity: st.sessions >= rate.count * 4 || st.banRefusals >= rate.count * 4 ? 'high' : 'medium',
      subject: ip,
      title: st.sessions ? `${ip} keeps sending after being refused` : `${ip} keeps connecting while banned`,
      summary: parts.join(' '),
      first: st.first,
      last: st.last,
      evidence: st.evidence.lines(),
      recommendation: rec,
      addresses: [ip],
      details: {
        count: st.sessions + st.banRefusals, sessions: st.sessions, rejects: st.rejects, banRefusals: st.banRefusals, threshold: rate.text,
        reasons: st.reasons.top(5).map(([reason, count]) => ({ reason, count })), senders: st.senders.distinct, recipients: st.recipients.samples,
      },
    });
  }
}

/**
 * normaliseReason - the reply text of a reject without what changes from one reject to the next
 * (the address in `<…>: `, the client address in `[…]`, the list's explanation URL), so the same
 * restriction gives the same reason.
 */
export function normaliseReason(reply: string): string {
  const blocked = /(Client host|Sender address|Helo command|Recipient address|client)?\s*\[[^\]]*\]\s*blocked using ([A-Za-z0-9.-]+)/.exec(reply);
  if (blocked) return `${blocked[1] ? `${blocked[1][0]!.toUpperCase()}${blocked[1].slice(1)} ` : ''}blocked using ${blocked[2]}`;
  let r = reply.replace(/^<[^>]*>: /, '');
  r = r.replace(/,? ?\[[0-9A-Fa-f:.]+\]/g, '').trim();
  return r.length > 120 ? `${r.slice(0, 117)}…` : r;
}
