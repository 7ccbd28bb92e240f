/**
 * @module logs/detect/backscatter
 * Bounces in bulk, both ways:
 *
 * - `backscatter`: this server sends non-delivery notifications (`QUEUEID: sender non-delivery
 *   notification: NEWID`) to senders in domains it does not host, --backscatter of them within a
 *   window (default 30/1h). Spam with forged senders was accepted and then could not be delivered,
 *   so the bounces go to innocent people: that gets a server blocklisted. "Domains we host" are
 *   --local-domain plus what the log shows (local deliveries, SASL logins); a domain learned only
 *   after some of its bounces were counted is taken out again at the end.
 * - `null-sender-flood`: --null-sender incoming messages with the null sender (`from=<>`) from
 *   outside clients within a window (default 100/1h): someone forges our addresses in spam and the
 *   bounces come back here.
 */
import { BurstTracker } from './bursts.js';
import { domainOf, type DetectContext } from './context.js';
import { listOf, makeFinding, plural, span, type Finding } from './findings.js';
import type { InputLine } from '../input.js';

export type Origin = 'smtpd' | 'sasl' | 'pickup' | 'bounce' | 'local' | 'unknown';

export class BackscatterDetector {
  private readonly ndr: BurstTracker;
  private readonly origins = new Map<Origin, number>();
  private readonly nullSender: BurstTracker;

  constructor(private readonly ctx: DetectContext) {
    const o = ctx.opts;
    this.ndr = new BurstTracker(o.backscatter, o.evidence, 2000);
    this.nullSender = new BurstTracker(o.nullSender, o.evidence, 2000);
  }

  /** onNdr - a non-delivery notification for a message from `sender` that came in by `origin`. */
  onNdr(sender: string, origin: Origin, t: number, l: InputLine): void {
    if (!sender) return; // a bounce of a bounce goes to the postmaster, not outside
    const dom = domainOf(sender);
    if (!dom || this.ctx.local.has(dom)) return;
    if (this.ndr.push(t, dom, l)) this.origins.set(origin, (this.origins.get(origin) ?? 0) + 1);
  }

  /** onNullSender - an incoming `from=<>` message from an outside client. */
  onNullSender(ip: string, t: number, l: InputLine): void {
    this.nullSender.push(t, ip, l);
  }

  finish(): Finding[] {
    const out: Finding[] = [];
    // Domains that turned out to be ours are not backscatter.
    for (const dom of [...this.ndr.keys.counts.keys()]) if (this.ctx.local.has(dom)) this.ndr.forget(dom);
    if (this.ndr.bursts > 0 && this.ndr.events >= this.ctx.opts.backscatter.count) out.push(this.ndrFinding());
    if (this.nullSender.bursts > 0) out.push(this.nullFinding());
    return out;
  }

  private ndrFinding(): Finding {
    const b = this.ndr;
    const rate = this.ctx.opts.backscatter;
    const doms = b.keys.top(6).map(([d, c]) => `${d} (${c})`);
    const origins = [...this.origins].sort((x, y) => y[1] - x[1]).map(([o, c]) => `${c} ${ORIGIN_TEXT[o]}`);
    const fromOutside = (this.origins.get('smtpd') ?? 0) > 0;
    const summary = [
      `The server sent ${plural(b.events, 'non-delivery notification')} to senders at ${plural(b.keys.distinct, 'domain')} it does not host ${span(b.first, b.last)}, at least ${rate.text} (--backscatter) in ${plural(b.bursts, 'burst')}: ${listOf(doms, 6)}.`,
      origins.length ? `The bounced mail came ${listOf(origins, 4)}.` : '',
      'Those senders are mostly forged: the bounces go to people who never wrote, which is how a server ends up on block lists (backscatter).',
      `Domains taken as ours: ${listOf(this.ctx.local.all(), 6) || 'none seen'} (add more with --local-domain).`,
    ].filter(Boolean).join(' ');
    const rec = [
      'Refuse at SMTP time what cannot be delivered, instead of accepting and bouncing: keep `smtpd_reject_unlisted_recipient = yes` with complete `local_recipient_maps`/`virtual_mailbox_maps`, and `relay_recipient_maps` (or `reject_unverified_recipient`) for relay domains.',
      'Content filters must reject during SMTP or discard, not bounce (amavis: `$final_spam_destiny = D_DISCARD` or a before-queue filter).',
    ];
    if ((this.origins.get('pickup') ?? 0) > 0) rec.push('Some bounced mail came from local scripts through pickup: see the web-script/pickup-flood findings.');
    if ((this.origins.get('sasl') ?? 0) > 0) rec.push('Some bounced mail came from logged-in users: a stolen login sending spam? See the account-abuse findings.');
    return makeFinding({
      id: 'backscatter',
      kind: 'backscatter',
      severity: fromOutside ? 'high' : 'medium',
      subject: 'bounces to outside senders',
      title: 'the server bounces mail to forged senders (backscatter)',
      summary,
      first: b.first,
      last: b.last,
      evidence: b.evidence.lines(),
      recommendation: rec,
      addresses: [],
      details: { count: b.events, domains: b.keys.distinct, bursts: b.bursts, threshold: rate.text, origins: Object.fromEntries(this.origins) },
    });
  }

  private nullFinding(): Finding {
    const b = this.nullSender;
    const rate = this.ctx.opts.nullSender;
    const clients = b.keys.top(5).map(([ip, c]) => `${ip} (${c})`);
    const summary = [
      `${plural(b.events, 'message')} with the null sender (from=<>: bounces and auto-replies) came in from ${plural(b.keys.distinct, 'client')} ${span(b.first, b.last)}, at least ${rate.text} (--null-sender) in ${plural(b.bursts, 'burst')}; most from ${listOf(clients, 5)}.`,
      'A wave of bounces nobody asked for means someone sends spam with your addresses as sender, and the receivers bounce it back to you.',
    ].join(' ');
    return makeFinding({
      id: 'null-sender-flood',
      kind: 'null-sender-flood',
      severity: 'medium',
      subject: 'incoming bounces',
      title: 'a wave of bounces is coming in',
      summary,
      first: b.first,
      last: b.last,
      evidence: b.evidence.lines(),
      recommendation: [
        'Publish SPF (`v=spf1 … -all`), DKIM and DMARC (`p=reject`) for your domains, so receivers reject the forgeries instead of bouncing them to you.',
        'Reject bounces to addresses that do not exist (`smtpd_reject_unlisted_recipient = yes`); bounces to real users can be filtered on the original message\'s Message-ID (your server never sent it).',
        'These clients are mostly innocent mail servers: do not ban them.',
      ],
      addresses: [],
      details: { count: b.events, clients: b.keys.distinct, bursts: b.bursts, threshold: rate.text },
    });
  }
}

const ORIGIN_TEXT: Readonly<Record<Origin, string>> = {
  smtpd: 'from outside clients over SMTP',
  sasl: 'from logged-in users',
  pickup: 'from local programs (pickup)',
  bounce: 'from bounces',
  local: 'from internal clients (content filter, LAN)',
  unknown: 'from where the log does not say',
};
