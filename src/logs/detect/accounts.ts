/**
 * @module logs/detect/accounts
 * `account-abuse`: a SASL account whose password someone else has (seed 002: `user@my-domain.net`,
 * logged in from 201.91.101.26 in Brazil, sending to yahoo.com.br). Signals, each enough alone:
 *
 * - places: the account sent from --account-networks distinct public networks (/16, IPv6 /32;
 *   default 5) or --account-ips distinct public addresses (default 20) within --account-window
 *   (24h). People move between home, office and phone; a stolen password is used by a botnet.
 *   Internal addresses (RFC 1918, loopback: webmail, the office LAN) are not counted.
 * - volume: a clock hour with at least --account-rate messages (50) and at least --account-factor
 *   (10) times the account's median hour in the log so far (hours it sent nothing do not count).
 * - spam software: the client announced a machine-generated HELO name (seed 002:
 *   `EHZDDZCUEY0FN7B75U0HKZOH1JP2P2UI`). Mail programs announce the computer's name, an address
 *   literal, or `localhost`; bulk-mail tools make up random strings. Seen in any line of the
 *   message that logs `helo=<…>` (header/body checks, rejects).
 * - mxguard rate limits: `Rate limit exceeded: … for sasl_username=…` (docs/limits.md).
 *
 * Memory per account: the addresses and networks of the last window (capped), 48 hour counts, a
 * few samples; accounts beyond --max-keys are forgotten least recently used first.
 */
import { CappedCounter, LruMap, RecentSet } from './bounded.js';
import { detach } from '../strings.js';
import { domainOf, type DetectContext } from './context.js';
import { duration, EvidenceList, listOf, makeFinding, plural, span, stamp, type Finding } from './findings.js';
import type { InputLine } from '../input.js';
import { isPublic, network } from './net.js';

const HISTORY_HOURS = 48;
const HOUR_MS = 3_600_000;

interface Burst { hour: number; count: number; median: number; addresses: string[] }

interface AccountState {
  messages: number;
  first: number;
  last: number;
  readonly ips: RecentSet;
  readonly nets: RecentSet;
  readonly allIps: CappedCounter;
  readonly services: Set<string>;
  internal: number;
  /** The most networks/addresses within one window, and the addresses of that window. */
  peakNets: number;
  peakIps: number;
  peak?: { t: number; nets: string[]; ips: string[] };
  hour: number;
  hourCount: number;
  hourIps: Set<string>;
  readonly history: number[];
  readonly bursts: Burst[];
  burstCount: number;
  botHelo?: { helo: string; ip: string };
  readonly botIps: Set<string>;
  rateLimits: number;
  readonly recipients: CappedCounter;
  readonly rcptDomains: CappedCounter;
  readonly evidence: EvidenceList;
}

/**
 * looksGenerated - a HELO name no mail program would send: 16+ characters of letters and digits
 * only (no dot, no hyphen: not a host name, not `DESKTOP-1A2B3C`), digits and letters mixed
 * through it (at least 3 of each, 4 or more changes between the two).
 */
export function looksGenerated(helo: string): boolean {
  if (helo.length < 16 || !/^[A-Za-z0-9]+$/.test(helo)) return false;
  let digits = 0;
  let changes = 0;
  let prevDigit: boolean | undefined;
  for (const ch of helo) {
    const d = ch >= '0' && ch <= '9';
    if (d) digits++;
    if (prevDigit !== undefined && d !== prevDigit) changes++;
    prevDigit = d;
  }
  return digits >= 3 && helo.length - digits >= 3 && changes >= 4;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export class AccountDetector {
  private readonly accounts: LruMap<string, AccountState>;

  constructor(private readonly ctx: DetectContext) {
    this.accounts = new LruMap(ctx.opts.maxKeys);
  }

  private state(account: string, t: number): AccountState {
    let st = this.accounts.touch(account);
    if (!st) {
      const o = this.ctx.opts;
      st = {
        messages: 0, first: t, last: t,
        ips: new RecentSet(o.accountWindowMs, 500), nets: new RecentSet(o.accountWindowMs, 500), allIps: new CappedCounter(50), services: new Set(),
        internal: 0, peakNets: 0, peakIps: 0,
        hour: Math.floor(t / HOUR_MS), hourCount: 0, hourIps: new Set(), history: [], bursts: [], burstCount: 0,
        botIps: new Set(), rateLimits: 0, recipients: new CappedCounter(200), rcptDomains: new CappedCounter(20),
        evidence: new EvidenceList(o.evidence),
      };
      this.accounts.set(detach(account), st);
    }
    return st;
  }

  /** onMessage - `QUEUEID: client=NAME[IP], sasl_method=…, sasl_username=ACCOUNT`. */
  onMessage(account: string, ip: string, t: number, program: string, l: InputLine): void {
    const st = this.state(account, t);
    const dom = domainOf(account);
    if (dom) this.ctx.local.learn(dom);
    st.messages++;
    st.last = t;
    if (!st.services.has(program) && st.services.size < 8) st.services.add(detach(program));
    st.evidence.add(l, 'msg', 3);
    const hour = Math.floor(t / HOUR_MS);
    if (hour !== st.hour) this.closeHour(st, hour);
    st.hourCount++;
    if (!isPublic(ip)) {
      st.internal++;
      return;
    }
    if (st.hourIps.size < 50) st.hourIps.add(detach(ip));
    st.allIps.add(ip);
    st.ips.add(ip, t);
    st.nets.add(network(ip, 16, 32), t);
    const o = this.ctx.opts;
    const nets = st.nets.size;
    const ips = st.ips.size;
    if ((nets > st.peakNets && nets >= o.accountNetworks) || (ips > st.peakIps && ips >= o.accountIps)) {
      st.peak = { t, nets: st.nets.values(), ips: st.ips.values() };
    }
    if (nets > st.peakNets) st.peakNets = nets;
    if (ips > st.peakIps) st.peakIps = ips;
  }

  /** closeHour - judges the hour that ended against the account's earlier hours, then starts `next`. */
  private closeHour(st: AccountState, next: number): void {
    if (st.hourCount > 0) {
      const med = median(st.history);
      const o = this.ctx.opts;
      if (st.hourCount >= o.accountRate && st.hourCount >= o.accountFactor * med) {
        st.burstCount++;
        if (st.bursts.length < 5) st.bursts.push({ hour: st.hour, count: st.hourCount, median: med, addresses: [...st.hourIps] });
        else {
          // Keep the five largest.
          const min = st.bursts.reduce((a, b) => (b.count < a.count ? b : a));
          if (st.hourCount > min.count) st.bursts.splice(st.bursts.indexOf(min), 1, { hour: st.hour, count: st.hourCount, median: med, addresses: [...st.hourIps] });
        }
      }
      st.history.push(st.hourCount);
      if (st.history.length > HISTORY_HOURS) st.history.shift();
    }
    st.hour = next;
    st.hourCount = 0;
    st.hourIps = new Set();
  }

  /** onHelo - a HELO name seen with a message or session of the account. */
  onHelo(account: string, helo: string, ip: string, l: InputLine): void {
    const st = this.accounts.peek(account);
    if (!st || !looksGenerated(helo)) return;
    if (!st.botHelo) st.botHelo = { helo: detach(helo), ip: detach(ip) };
    if (isPublic(ip) && st.botIps.size < 50) st.botIps.add(detach(ip));
    st.evidence.add(l, 'helo', 2);
  }

  /** onRateLimit - mxguard refused the account over a `sasl_username` rate rule. */
  onRateLimit(account: string, t: number, l: InputLine): void {
    const st = this.state(account, t);
    st.rateLimits++;
    st.evidence.add(l, 'limit', 1);
  }

  /** onRecipient - a delivery attempt of one of the account's messages. */
  onRecipient(account: string, rcpt: string): void {
    const st = this.accounts.peek(account);
    if (!st) return;
    st.recipients.add(rcpt.toLowerCase());
    st.rcptDomains.add(domainOf(rcpt) || rcpt);
  }

  /** Accounts forgotten over --max-keys. */
  get evicted(): number { return this.accounts.evicted; }

  finish(): Finding[] {
    const out: Finding[] = [];
    for (const [account, st] of this.accounts.entries()) {
      this.closeHour(st, st.hour + 1);
      const f = this.finding(account, st);
      if (f) out.push(f);
    }
    return out;
  }

  private finding(account: string, st: AccountState): Finding | undefined {
    const o = this.ctx.opts;
    const places = st.peak !== undefined;
    const volume = st.burstCount > 0;
    const bot = st.botHelo !== undefined;
    if (!places && !volume && !bot && st.rateLimits === 0) return undefined;

    const addresses = new Set<string>();
    const parts: string[] = [];
    const ipsShown = st.allIps.top(5).map(([ip]) => {
      const claimed = this.ctx.claimedNames.peek(ip);
      return claimed ? `${ip} (claims to be ${claimed}, which does not resolve back)` : ip;
    });
    if (st.messages) {
      parts.push(`The SASL account ${account} sent ${plural(st.messages, 'message')} ${span(st.first, st.last)} through ${listOf([...st.services])}, from ${plural(st.allIps.distinct + (st.allIps.other ? 1 : 0), 'public address', 'public addresses')}${ipsShown.length ? `: ${listOf(ipsShown, 5)}` : ''}${st.internal ? ` (and ${plural(st.internal, 'message')} from internal addresses)` : ''}.`);
    } else {
      parts.push(`The SASL account ${account} sent no message that the log shows accepted.`);
    }
    if (st.recipients.distinct) {
      const doms = st.rcptDomains.top(4).map(([d, c]) => `${d} (${c})`);
      parts.push(`Recipients: ${plural(st.recipients.distinct, 'address', 'addresses')}${st.recipients.other ? '+' : ''} at ${listOf(doms, 4)}.`);
    }
    const titles: string[] = [];
    if (bot) {
      const b = st.botHelo!;
      parts.push(`The client ${b.ip} announced itself as HELO "${b.helo}", a machine-generated name: mail programs send the computer's name, bulk-mail software makes up random strings.`);
      titles.push('used by spam software');
      for (const ip of st.botIps) addresses.add(ip);
    }
    if (places) {
      const p = st.peak!;
      parts.push(`In the ${duration(o.accountWindowMs)} up to ${stamp(p.t)} it was used from ${plural(p.ips.length, 'address', 'addresses')} in ${plural(p.nets.length, 'network')} (${listOf(p.nets, 6)}); thresholds ${o.accountNetworks} networks or ${o.accountIps} addresses per ${duration(o.accountWindowMs)} (--account-networks, --account-ips, --account-window).`);
      titles.push(`used from ${p.nets.length} networks`);
      for (const ip of p.ips) addresses.add(ip);
    }
    if (volume) {
      const top = [...st.bursts].sort((a, b) => b.count - a.count)[0]!;
      parts.push(`It sent ${top.count} messages in the hour from ${stamp(top.hour * HOUR_MS)}, against a usual ${top.median ? `${top.median} per hour (median of its earlier hours)` : 'nothing (no earlier hours in the log)'}${st.burstCount > 1 ? `; ${plural(st.burstCount, 'hour')} like that` : ''} (--account-rate ${o.accountRate}, --account-factor ${o.accountFactor}).`);
      titles.push('sending far above its usual rate');
      for (const ip of top.addresses) addresses.add(ip);
    }
    if (st.rateLimits) {
      parts.push(`mxguard's rate limits refused it ${plural(st.rateLimits, 'time')}.`);
      if (!titles.length) titles.push('hit its rate limit');
    }
    const compromised = bot || places || volume;
    if (compromised) parts.push('Whoever sends this has the account\'s password: treat it as stolen (guessed, or taken from the user\'s computer).');

    const rec = compromised ? [
      `Reset the password of ${account} now, and check the user's computer for malware that steals saved passwords; stop the sessions that are open (restart or reload the SASL service, e.g. Dovecot).`,
      'Remove what is still queued: `postqueue -p` lists it, `postsuper -d QUEUEID` deletes one message (`mxguard queue list` / `mxguard queue delete` for mxguard\'s queue).',
      'Let a login send only as its own addresses: `smtpd_sender_login_maps` with `reject_sender_login_mismatch` (or `reject_authenticated_sender_login_mismatch`) in `smtpd_sender_restrictions`; it does not stop a thief who sends as the account itself, but it stops forged senders.',
      'Cap what any one login can send, so the next stolen password does limited harm: `mxguard_rate_limits = sasl_username messages 50/1h 200/1d` (docs/limits.md; Postfix alone: a policy daemon such as postfwd).',
      'Stop password guessing: `mxguard_ban_auth_failures` (docs/bans.md) or fail2ban\'s `[postfix-sasl]` jail; and ban the addresses it was used from (--ban-output) once the password is changed.',
    ] : [
      `Check with the owner of ${account} whether this mail was theirs; if not, reset the password.`,
      'If it was theirs, raise the account\'s `sasl_username` rule in `mxguard_rate_limits` (docs/limits.md).',
    ];
    return makeFinding({
      kind: 'account-abuse',
      severity: compromised ? 'high' : 'medium',
      subject: account,
      title: `SASL account ${account} ${listOf(titles, 3)}`,
      summary: parts.join(' '),
      first: st.first,
      last: st.last,
      evidence: st.evidence.lines(),
      recommendation: rec,
      addresses: [...addresses],
      details: {
        count: st.messages,
        signals: [bot && 'generated-helo', places && 'many-networks', volume && 'rate', st.rateLimits && 'rate-limit'].filter(Boolean),
        helo: st.botHelo?.helo,
        networks: st.peak?.nets.length ?? 0,
        addresses: st.peak?.ips.length ?? 0,
        burstHours: st.burstCount,
        recipients: st.recipients.distinct,
        publicAddresses: st.allIps.top(50).map(([ip, count]) => ({ ip, count })),
      },
    });
  }
}
