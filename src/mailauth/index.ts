/**
 * @module mailauth
 * SPF, DKIM and DMARC on inbound mail (docs/mailauth.md), with mailauth doing the protocol
 * work and mxguard's resolver (dns/) answering its DNS questions.
 *
 * The session asks twice:
 *   - at MAIL FROM, `startInboundAuth()` evaluates SPF for the MAIL FROM and HELO identities
 *     and returns an `InboundAuth` for the transaction, with a reply when policy refuses the
 *     sender (mxguard_spf_*_action);
 *   - the DATA/BDAT bytes go to `InboundAuth.push()` as they arrive (DKIM hashes on the fly);
 *     after the end-of-data restrictions `finish()` evaluates DKIM and DMARC and returns the
 *     Authentication-Results: header to put on top of the message, plus a verdict
 *     (annotate, hold, defer with 4xx, or reject with 5xx).
 *
 * Clients that authenticated (SASL) or are in $mynetworks get what
 * mxguard_mailauth_trusted_clients says: by default evaluated and annotated, never refused.
 * Every path is bounded in time (mxguard_mailauth_timeout) and no DNS failure gives a 5xx.
 */
import type { Config } from '../config/config.js';
import { resolverFor } from '../dns/index.js';
import type { Resolver } from '../dns/types.js';
import { engineFacts } from '../engine/index.js';
import type { Reply } from '../smtp/reply.js';
import { authenticationResults } from './header.js';
import { MessageCheck, type MessageResults } from './message.js';
import { dkimVerdict, dmarcVerdict, spfVerdict, strongest, ANNOTATE, type Verdict } from './policy.js';
import { mailauthResolver, type MailauthResolver } from './resolver.js';
import { checkSpf, heloCheckable, type SpfCheck } from './spf.js';

export type { Verdict, Action } from './policy.js';
export type { SpfCheck } from './spf.js';
export type { MessageResults } from './message.js';
export { mailauthResolver } from './resolver.js';
export { authenticationResults } from './header.js';

export interface AuthClient {
  readonly address: string;
  readonly name?: string;
  /** The client authenticated with SASL (or XCLIENT LOGIN). */
  readonly authenticated: boolean;
}

export interface MailInput {
  readonly client: AuthClient;
  readonly helo?: string;
  /** MAIL FROM address, '' for the null sender. */
  readonly sender: string;
}

/** What the session gets at the end of the message. */
export interface MessageOutcome {
  /** Authentication-Results: header field, CRLF-terminated, to put above everything else. */
  readonly header: string;
  readonly verdict: Verdict;
  readonly results: MessageResults;
  /** `spf=pass dkim=none dmarc=none`, for the log line. */
  readonly summary: string;
}

type Mode = 'skip' | 'annotate' | 'enforce';

const resolvers = new WeakMap<Config, MailauthResolver>();

/** One adapted resolver per configuration, so that mailauth's lookups share the resolver's cache. */
function resolverOf(cfg: Config, make: (cfg: Config) => Resolver = resolverFor): MailauthResolver {
  let r = resolvers.get(cfg);
  if (!r) { r = mailauthResolver(make(cfg)); resolvers.set(cfg, r); }
  return r;
}

/** mode - how a client is treated (mxguard_mailauth_enable, mxguard_mailauth_trusted_clients). */
export function clientMode(cfg: Config, client: AuthClient): Mode {
  if (!cfg.bool('mxguard_mailauth_enable')) return 'skip';
  const trusted = client.authenticated || engineFacts(cfg).mynetworks().matches(client.address, client.name);
  if (!trusted) return 'enforce';
  return cfg.get('mxguard_mailauth_trusted_clients').trim().toLowerCase() as Mode;
}

/** The checks of one transaction: SPF done at MAIL FROM, DKIM/DMARC as the message arrives. */
export class InboundAuth {
  private message: MessageCheck | undefined;

  constructor(
    private readonly cfg: Config,
    private readonly resolver: MailauthResolver,
    private readonly mode: Mode,
    readonly sender: string,
    /** MAIL FROM identity (for the null sender: postmaster@HELO). */
    readonly spf: SpfCheck,
    /** HELO identity, when it is a domain and differs from the MAIL FROM check. */
    readonly helo: SpfCheck | undefined,
    /** What SPF asks for at MAIL FROM (already softened for trusted clients). */
    readonly verdict: Verdict,
  ) {}

  /** The reply MAIL FROM gets instead of 250, when SPF policy refuses. */
  get reply(): Reply | undefined { return this.verdict.reply; }

  /** push - a chunk of DATA/BDAT as received (before mxguard's own headers). */
  async push(chunk: Buffer): Promise<void> {
    this.message ??= this.newMessage();
    await this.message.push(chunk);
  }

  /** abort - the transaction ended without a message. */
  abort(): void { this.message?.abort(); this.message = undefined; }

  private newMessage(): MessageCheck {
    return new MessageCheck({
      resolver: this.resolver, sender: this.sender, spf: this.spf,
      minKeyBits: this.cfg.int('mxguard_dkim_min_key_bits'), timeoutMs: this.cfg.time('mxguard_mailauth_timeout') * 1000,
    });
  }

  /** finish - DKIM and DMARC of the message, the header and the verdict; never throws. */
  async finish(): Promise<MessageOutcome> {
    const m = this.message ?? this.newMessage();
    this.message = undefined;
    const results = await m.finish();
    const verdicts = [dkimVerdict(this.cfg, results.dkim), dmarcVerdict(this.cfg, results.dmarc)];
    const verdict = this.mode === 'enforce' ? strongest(verdicts) : ANNOTATE;
    const spfInfos = [this.spf.resinfo, ...(this.helo ? [this.helo.resinfo] : [])];
    const header = authenticationResults(this.cfg.get('myhostname'), [...spfInfos, ...results.resinfos]);
    const summary = `spf=${this.spf.result}${this.helo ? ` helo_spf=${this.helo.result}` : ''} dkim=${results.dkim} dmarc=${results.dmarc.result}`;
    return { header, verdict, results, summary };
  }
}

/**
 * startInboundAuth - SPF at MAIL FROM; undefined when nothing is to be evaluated for this
 * client (mxguard_mailauth_enable = no, or a trusted client with trusted_clients = skip).
 * `resolver` replaces the configured one (tests, `mxguard check`).
 */
export async function startInboundAuth(cfg: Config, input: MailInput, resolver?: Resolver): Promise<InboundAuth | undefined> {
  const mode = clientMode(cfg, input.client);
  if (mode === 'skip') return undefined;
  const r = resolver ? mailauthResolver(resolver) : resolverOf(cfg);
  const base = { ip: input.client.address, helo: input.helo, sender: input.sender, mta: cfg.get('myhostname'), resolver: r, timeoutMs: cfg.time('mxguard_mailauth_timeout') * 1000 };
  // With the null sender the MAIL FROM check is the HELO check (RFC 7208 §2.4): done once.
  const heloToo = input.sender !== '' && heloCheckable(input.helo);
  const [spf, helo] = await Promise.all([checkSpf('mailfrom', base), heloToo ? checkSpf('helo', base) : Promise.resolve(undefined)]);
  let verdict = ANNOTATE;
  if (mode === 'enforce') {
    const vs = [spfVerdict(cfg, 'mailfrom', spf.result, input.sender, spf.explanation)];
    // The null sender's check was the HELO identity's: the HELO action applies to it too.
    if (input.sender === '' && heloCheckable(input.helo)) vs.push(spfVerdict(cfg, 'helo', spf.result, input.helo, spf.explanation));
    if (helo) vs.push(spfVerdict(cfg, 'helo', helo.result, input.helo!, helo.explanation));
    verdict = strongest(vs);
  }
  return new InboundAuth(cfg, r, mode, input.sender, spf, helo, verdict);
}
