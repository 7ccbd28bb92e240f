/**
 * @module logs/detect/pickup
 * Mail that never came over SMTP: `sendmail` on the server drops it into the maildrop queue and
 * `pickup` logs `QUEUEID: uid=N from=<user>`. No SMTP restriction, rate limit or login sees it.
 *
 * - `web-script`: mail of a web server's user (uid 33 www-data on Debian/Ubuntu, 48 apache on RHEL,
 *   80 www on FreeBSD; --web-uids; or `from=<www-data|apache|nginx|…>`) that goes to outside
 *   addresses and bounces twice, or once for a made-up domain without a dot (`a@a`; a single
 *   bounce can be a visitor's typo), or reaches --web-recipients distinct outside recipients (20),
 *   or floods.
 *   Seed 003: uid 33 sending to hotmail.com and to `a@a`, which bounced: a PHP script on the site
 *   (a contact form or an uploaded spam script) is mailing the world.
 * - `pickup-flood`: any uid with --pickup-rate messages (default 100/1h): a cron job gone wild, a
 *   local account used to spam.
 *
 * A message is followed through content filters (`queued as NEWID`, see scanner) to its delivery
 * lines: `smtp` to a non-loopback relay (or `relay=none`) is outside; lmtp/local/virtual/pipe are
 * local.
 */
import { CappedCounter, LruMap, RateRing } from './bounded.js';
import { domainOf, type DetectContext } from './context.js';
import { EvidenceList, listOf, makeFinding, plural, span, stamp, type Finding } from './findings.js';
import type { InputLine } from '../input.js';

/** Login names web servers run as. */
const WEB_USERS = new Set(['www-data', 'apache', 'nginx', 'httpd', 'wwwrun', 'www', 'http']);

interface UidState {
  readonly uid: number;
  readonly users: CappedCounter;
  messages: number;
  first: number;
  last: number;
  readonly ring: RateRing;
  reached: number;
  remoteMessages: number;
  readonly remoteRcpts: CappedCounter;
  readonly rcptDomains: CappedCounter;
  bounced: number;
  /** Bounces for a domain without a dot (`a@a`): a made-up address, never a typo of a real one. */
  bogus: number;
  readonly bounceReasons: CappedCounter;
  localMessages: number;
  readonly evidence: EvidenceList;
}

export class PickupDetector {
  private readonly uids: LruMap<number, UidState>;

  constructor(private readonly ctx: DetectContext) {
    this.uids = new LruMap(ctx.opts.maxKeys);
  }

  /** onPickup - `QUEUEID: uid=N from=<user>`. */
  onPickup(uid: number, user: string, t: number, l: InputLine): void {
    let st = this.uids.touch(uid);
    if (!st) {
      st = {
        uid, users: new CappedCounter(5), messages: 0, first: t, last: t, ring: new RateRing(this.ctx.opts.pickupRate.count), reached: 0,
        remoteMessages: 0, remoteRcpts: new CappedCounter(500), rcptDomains: new CappedCounter(20), bounced: 0, bogus: 0, bounceReasons: new CappedCounter(5),
        localMessages: 0, evidence: new EvidenceList(this.ctx.opts.evidence),
      };
      this.uids.set(uid, st);
    }
    st.messages++;
    st.last = t;
    st.users.add(user);
    st.evidence.add(l, 'pickup', 2);
    if (st.ring.push(t, this.ctx.opts.pickupRate.windowMs) && !st.reached) st.reached = t;
  }

  /**
   * onDelivery - a delivery line of a message that came through pickup. `firstOfMessage` is true
   * for the message's first outside delivery line (a message counts once however many recipients).
   */
  onDelivery(uid: number, rcpt: string, remote: boolean, status: string, reason: string, firstOfMessage: boolean, l: InputLine): void {
    const st = this.uids.peek(uid);
    if (!st) return;
    if (!remote) {
      if (firstOfMessage) st.localMessages++;
      return;
    }
    if (firstOfMessage) st.remoteMessages++;
    st.remoteRcpts.add(rcpt.toLowerCase());
    st.rcptDomains.add(domainOf(rcpt) || rcpt);
    if (status === 'bounced') {
      st.bounced++;
      if (!domainOf(rcpt).includes('.')) st.bogus++;
      st.bounceReasons.add(reason.length > 100 ? `${reason.slice(0, 97)}…` : reason);
      st.evidence.add(l, 'bounce', 2);
    } else {
      st.evidence.add(l, 'remote', 2);
    }
  }

  finish(): Finding[] {
    const out: Finding[] = [];
    for (const st of this.uids.values()) {
      const f = this.finding(st);
      if (f) out.push(f);
    }
    return out;
  }

  private isWeb(st: UidState): boolean {
    if (this.ctx.opts.webUids.includes(st.uid)) return true;
    return st.users.top(5).some(([u]) => WEB_USERS.has(u));
  }

  private finding(st: UidState): Finding | undefined {
    const o = this.ctx.opts;
    const web = this.isWeb(st);
    const flood = st.reached > 0;
    // One bounce can be a user's typo in a form; two, or one to a made-up domain, cannot.
    const webAbuse = web && st.remoteMessages > 0 && (st.bounced >= 2 || st.bogus > 0 || st.remoteRcpts.distinct >= o.webRecipients);
    if (!flood && !webAbuse) return undefined;
    const user = st.users.top(1)[0]?.[0] ?? '?';
    const who = web ? `uid ${st.uid} (${user}${o.webUids.includes(st.uid) && !WEB_USERS.has(user) ? ', a web server uid' : ''})` : `uid ${st.uid} (${user})`;
    const parts: string[] = [];
    parts.push(`${web ? `The web server's user, ${who},` : `The local user ${who}`} submitted ${plural(st.messages, 'message')} through sendmail/pickup ${span(st.first, st.last)}.`);
    if (flood) parts.push(`That reached ${o.pickupRate.text} (--pickup-rate) at ${stamp(st.reached)}.`);
    if (st.remoteMessages || st.localMessages) {
      const doms = st.rcptDomains.top(4).map(([d, c]) => `${d} (${c})`);
      parts.push(`${plural(st.remoteMessages, 'message')} went to outside addresses (${plural(st.remoteRcpts.distinct, 'recipient')}${st.remoteRcpts.other ? '+' : ''}${doms.length ? ` at ${listOf(doms, 4)}` : ''})${st.localMessages ? `, ${st.localMessages} stayed local` : ''}.`);
    }
    if (st.bounced) {
      const reasons = st.bounceReasons.top(2).map(([r]) => `"${r}"`);
      parts.push(`${plural(st.bounced, 'delivery', 'deliveries')} bounced (${listOf(reasons, 2)}): mail to made-up or dead addresses is a spam run or a form being abused, not a site's own mail.`);
    }
    if (web) parts.push('Mail of the web server\'s user comes from a script on a web site (PHP mail(), a contact form, or a script someone uploaded); it does not pass through SMTP, so no SMTP restriction, login or rate limit sees it.');
    const rec = web ? [
      'Find the script: set `mail.add_x_header = On` in php.ini (each message then carries `X-PHP-Originating-Script: UID:file.php`) and read a queued message with `postcat -q QUEUEID`; look for PHP files changed lately under the web root (`find /var/www -name "*.php" -mtime -7`) and in upload directories.',
      `Stop it now: \`authorized_submit_users = !${user}, static:all\` in main.cf makes Postfix's sendmail refuse that user; or disable PHP mail() (\`disable_functions = mail\` in php.ini) if the sites send no mail.`,
      'If a site must send mail, let it submit through SMTP on port 587 with its own login, so `mxguard_rate_limits = sasl_username messages 50/1h` applies to it (docs/limits.md: pickup mail passes no SMTP limit).',
      'Delete the spam still queued (`postqueue -p`, `postsuper -d QUEUEID`), and check whether your address is now on block lists.',
    ] : [
      `Find what runs as ${user}: its crontab (\`crontab -l -u ${user}\`), its processes, and a queued message (\`postqueue -p\`, \`postcat -q QUEUEID\`).`,
      `If that user has no business sending mail: \`authorized_submit_users = !${user}, static:all\` in main.cf.`,
      'Delete what should not go out: `postsuper -d QUEUEID`.',
    ];
    return makeFinding({
      kind: web ? 'web-script' : 'pickup-flood',
      severity: flood || st.bounced >= 2 || st.bogus > 0 ? 'high' : 'medium',
      subject: who,
      title: web ? `a web script is sending mail as ${who}` : `local user ${who} is sending a flood of mail`,
      summary: parts.join(' '),
      first: st.first,
      last: st.last,
      evidence: st.evidence.lines(),
      recommendation: rec,
      addresses: [],
      details: { count: st.messages, uid: st.uid, user, web, remoteMessages: st.remoteMessages, remoteRecipients: st.remoteRcpts.distinct, bounced: st.bounced, madeUp: st.bogus, threshold: o.pickupRate.text },
    });
  }
}

