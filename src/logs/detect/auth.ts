/**
 * @module logs/detect/auth
 * Password guessing over SMTP AUTH, at three scales:
 *
 * - `auth-brute-force`: one client address with --auth-failures failed attempts (default 5/10m,
 *   fail2ban's maxretry/findtime);
 * - `auth-network`: one /24 (IPv6 /64) with --auth-network failed attempts (default 10/1h) from two
 *   addresses or more: guessing spread over a provider's neighbouring addresses;
 * - `auth-flood`: the whole server with --auth-flood sessions that failed or abandoned AUTH
 *   (default 5/1m) from at least --auth-flood-addresses addresses (3): seed 004, where each bot
 *   connects once, says AUTH and hangs up (`lost connection after AUTH`, `auth=0/1`), so no
 *   per-address count ever reaches a ban.
 *
 * What counts: per smtpd session (see sessions.ts), the failed attempts are the larger of the
 * `SASL … authentication failed` warnings and the failures in the disconnect counters; a session
 * that ended right after AUTH without a success counts as one attempt.
 */
import { CappedCounter, LruMap, RateRing } from './bounded.js';
import { detach } from '../strings.js';
import { BurstTracker } from './bursts.js';
import type { DetectContext } from './context.js';
import { EvidenceList, listOf, makeFinding, plural, span, stamp, type Finding } from './findings.js';
import { isPublic, network } from './net.js';
import type { Session } from './sessions.js';

interface Offender {
  readonly ring: RateRing;
  attempts: number;
  sessions: number;
  dropped: number;
  first: number;
  last: number;
  /** When the threshold was first reached (0: never). */
  reached: number;
  readonly evidence: EvidenceList;
  /** Login names tried (created when Postfix logs one). */
  names?: CappedCounter;
  readonly programs: string[];
  /** Networks only: the addresses seen. */
  readonly addresses?: CappedCounter;
}

export class AuthDetector {
  private readonly byIp: LruMap<string, Offender>;
  private readonly byNet: LruMap<string, Offender>;
  private readonly flood: BurstTracker;
  private readonly floodPrograms = new Set<string>();
  private readonly floodNets = new CappedCounter(2000);

  constructor(private readonly ctx: DetectContext) {
    const o = ctx.opts;
    this.byIp = new LruMap(o.maxKeys);
    this.byNet = new LruMap(o.maxKeys);
    this.flood = new BurstTracker(o.authFlood, o.evidence, 10_000, o.authFloodAddresses);
  }

  /** onSessionEnd - counts a session's failed or abandoned AUTH. */
  onSessionEnd(s: Session, authOk: boolean): void {
    const failures = Math.max(s.authFailures, s.authCounted);
    const dropped = !authOk && (s.lostAfter === 'AUTH');
    if (failures === 0 && !dropped) return;
    const attempts = Math.max(failures, 1);
    const t = s.end;
    this.count(this.byIp, s.ip, s, attempts, dropped, this.ctx.opts.authFailures.count);
    const net = network(s.ip, 24, 64);
    this.count(this.byNet, net, s, attempts, dropped, this.ctx.opts.authNetwork.count, true);
    if (s.authEvidence && this.flood.push(t, s.ip, s.authEvidence)) {
      this.floodPrograms.add(s.program);
    }
  }

  private count(map: LruMap<string, Offender>, key: string, s: Session, attempts: number, dropped: boolean, n: number, isNet = false): void {
    let o = map.touch(key);
    if (!o) {
      o = {
        ring: new RateRing(n), attempts: 0, sessions: 0, dropped: 0, first: s.end, last: s.end, reached: 0,
        evidence: new EvidenceList(this.ctx.opts.evidence, 1), programs: [],
        addresses: isNet ? new CappedCounter(256) : undefined,
      };
      map.set(detach(key), o);
    }
    o.attempts += attempts;
    o.sessions++;
    if (dropped) o.dropped++;
    o.last = s.end;
    if (o.programs.length < 8 && !o.programs.includes(s.program)) o.programs.push(s.program);
    for (const name of s.triedNames ?? []) (o.names ??= new CappedCounter(10)).add(name);
    o.addresses?.add(s.ip);
    const rate = isNet ? this.ctx.opts.authNetwork : this.ctx.opts.authFailures;
    for (let i = 0; i < attempts; i++) {
      if (o.ring.push(s.end, rate.windowMs) && !o.reached) {
        o.reached = s.end;
        o.evidence.promote();
      }
    }
    if (s.authEvidence) o.evidence.add(s.authEvidence);
  }

  /** Keys forgotten over --max-keys. */
  get evicted(): number { return this.byIp.evicted + this.byNet.evicted; }

  /** The flood's networks (/16, /32) are counted at the end from its addresses. */
  finish(): Finding[] {
    const out: Finding[] = [];
    for (const [ip, st] of this.byIp.entries()) {
      if (!st.reached) continue;
      out.push(this.ipFinding(ip, st));
    }
    for (const [net, st] of this.byNet.entries()) {
      if (!st.reached || (st.addresses?.distinct ?? 0) < 2) continue;
      out.push(this.netFinding(net, st));
    }
    if (this.flood.bursts > 0) out.push(this.floodFinding());
    return out;
  }

  private ipFinding(ip: string, st: Offender): Finding {
    const rate = this.ctx.opts.authFailures;
    const names = st.names?.top(5).map(([n]) => n) ?? [];
    const claimed = this.ctx.claimedNames.peek(ip);
    const summary = [
      `${ip}${claimed ? ` (claims to be ${claimed}, which does not resolve back)` : ''} failed SMTP AUTH ${plural(st.attempts, 'time')} in ${plural(st.sessions, 'session')} ${span(st.first, st.last)}; it first reached ${rate.text} (--auth-failures) at ${stamp(st.reached)}.`,
      st.dropped ? `${plural(st.dropped, 'session')} ended right after AUTH without logging in (lost connection after AUTH).` : '',
      names.length ? `Login names tried: ${listOf(names)}.` : '',
      isPublic(ip)
        ? 'This is password guessing: a client that knows its password does not fail over and over.'
        : 'It is an internal address: most likely a device or mail program with an old password (it is never listed for banning).',
    ].filter(Boolean).join(' ');
    return makeFinding({
      kind: 'auth-brute-force',
      severity: st.attempts >= rate.count * 10 ? 'high' : 'medium',
      subject: ip,
      title: `password guessing from ${ip}`,
      summary,
      first: st.first,
      last: st.last,
      evidence: st.evidence.lines(),
      recommendation: !isPublic(ip) ? [
        `Find the device at ${ip} and update the password stored in its mail program.`,
        'Keep internal addresses out of the bans: mxguard never bans $mynetworks and `mxguard_ban_exceptions` (docs/bans.md); fail2ban: `ignoreip`.',
      ] : [
        `Ban it: \`mxguard bans add ${ip}\`, or write a firewall list with this command's --ban-output nftables|fail2ban.`,
        'Let mxguard ban such clients itself: `mxguard_ban_auth_failures = 5` (failed AUTH per `mxguard_ban_find_time`; docs/bans.md), and cap AUTH per client with `client_address auth_failures 10/10m` in `mxguard_rate_limits` (docs/limits.md). With Postfix alone: fail2ban jail `[postfix-sasl]` (filter `postfix[mode=auth]`).',
        names.length ? `Make sure ${names.length === 1 ? 'the account it tried has' : 'the accounts it tried have'} strong passwords, and look for a successful login of ${names.length === 1 ? 'it' : 'them'} from this address (\`mxguard logs trace ${ip}\`).` : 'Make sure every account has a strong password; `smtpd_tls_auth_only = yes` keeps passwords off unencrypted sessions.',
      ],
      addresses: [ip],
      details: { count: st.attempts, sessions: st.sessions, dropped: st.dropped, threshold: rate.text, names },
    });
  }

  private netFinding(net: string, st: Offender): Finding {
    const rate = this.ctx.opts.authNetwork;
    const addrs = st.addresses ? st.addresses.top(st.addresses.distinct).map(([a]) => a) : [];
    const summary = [
      `${plural(addrs.length, 'address', 'addresses')} in ${net} failed SMTP AUTH ${plural(st.attempts, 'time')} in ${plural(st.sessions, 'session')} ${span(st.first, st.last)} (--auth-network ${rate.text}): ${listOf(addrs, 8)}.`,
      'Guessing spread over neighbouring addresses stays under per-address limits; the network is the unit to block.',
    ].join(' ');
    return makeFinding({
      kind: 'auth-network',
      severity: 'medium',
      subject: net,
      title: `password guessing from network ${net}`,
      summary,
      first: st.first,
      last: st.last,
      evidence: st.evidence.lines(),
      recommendation: [
        `Block the network at the firewall, e.g. \`nft add rule inet filter input ip saddr ${net} tcp dport { 25, 465, 587 } drop\` (or its addresses with --ban-output).`,
        'If no user logs in from there, nothing is lost; if some do, ban the addresses only (`mxguard bans add ADDRESS`, or `mxguard_ban_auth_failures`; docs/bans.md).',
      ],
      addresses: addrs,
      details: { count: st.attempts, sessions: st.sessions, addresses: addrs.length, threshold: rate.text },
    });
  }

  private floodFinding(): Finding {
    const f = this.flood;
    const rate = this.ctx.opts.authFlood;
    const addrs = f.keys.top(f.keys.distinct).map(([a]) => a);
    for (const a of addrs) this.floodNets.add(network(a, 16, 32));
    const nets = this.floodNets.top(this.floodNets.distinct);
    const topNets = nets.slice(0, 6).map(([n, c]) => `${n} (${c})`);
    const port25 = [...this.floodPrograms].some((p) => /^[^/]+\/smtpd$/.test(p) || p === 'smtpd');
    const b = f.biggest!;
    const summary = [
      `${plural(f.events, 'session')} from ${plural(addrs.length, 'address', 'addresses')} in ${plural(nets.length, 'network')} (/16) failed or abandoned SMTP AUTH ${span(f.first, f.last)}, at least ${rate.text} (--auth-flood) in ${plural(f.bursts, 'burst')}; the largest: ${b.events} sessions ${span(b.start, b.end)}.`,
      `Networks with the most addresses: ${listOf(topNets, 6)}.`,
      'Most addresses try only once or twice, so per-address limits (fail2ban maxretry, mxguard_ban_auth_failures) never trigger: this is a distributed flood, not one guesser.',
      port25 ? `It hits port 25 (${[...this.floodPrograms].join(', ')}), where nobody needs AUTH.` : `Services: ${[...this.floodPrograms].join(', ')}.`,
    ].join(' ');
    const rec: string[] = [];
    if (port25) rec.push('Stop offering AUTH on port 25: in master.cf add `-o smtpd_sasl_auth_enable=no` to the `smtp inet … smtpd` line (users submit on 587/465, where AUTH stays on); the bots then have nothing to try. mxguard: do the same for its port-25 listener.');
    rec.push(
      'Ban the addresses at the firewall: `--ban-output nftables` (or `fail2ban`) writes them; with fail2ban reading the log, `filter = postfix[mode=aggressive]` (or `mode=ddos`) matches `lost connection after AUTH` and `disconnect … auth=0/1`, which the default `[postfix-sasl]` jail does not.',
      `Where the flood keeps coming from a few provider networks, block the networks: ${listOf(nets.slice(0, 4).map(([n]) => n), 4)}.`,
      'Keep passwords strong and `smtpd_tls_auth_only = yes`; mxguard: `mxguard_ban_auth_failures` and `client_address auth_failures 10/10m` (docs/bans.md, docs/limits.md) handle the clients that do retry.',
    );
    return makeFinding({
      id: 'auth-flood',
      kind: 'auth-flood',
      severity: addrs.length >= 20 || f.events >= 100 ? 'high' : 'medium',
      subject: listOf(nets.slice(0, 3).map(([n]) => n), 3),
      title: 'SMTP AUTH flood from many addresses',
      summary,
      first: f.first,
      last: f.last,
      evidence: f.evidence.lines(),
      recommendation: rec,
      addresses: addrs,
      details: { count: f.events, addresses: addrs.length, bursts: f.bursts, networks: nets.map(([n, c]) => ({ network: n, addresses: c })), threshold: rate.text, programs: [...this.floodPrograms] },
    });
  }
}
