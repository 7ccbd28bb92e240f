/**
 * @module mailauth/message
 * DKIM (RFC 6376) and DMARC (RFC 7489) of one message, through mailauth.
 *
 * The message is verified while it arrives: the session hands each DATA/BDAT chunk (the
 * client's bytes, un-stuffed, without the headers mxguard adds) to `push`, which feeds a
 * stream that mailauth's verifier reads, hashing the body as it goes. So nothing is held in
 * memory but the header section, whatever the message size. At the end `finish` waits for the
 * signatures' keys (DNS), then evaluates DMARC with the SPF result from MAIL FROM.
 *
 * Failure behaviour: a DNS failure is dkim=temperror for that signature and dmarc=temperror;
 * a DMARC fail while SPF or a DKIM signature had a temperror is reported as dmarc=temperror,
 * since the missing pass may only be the DNS's fault. Anything the verifier throws is
 * dkim=permerror (the message cannot be evaluated), logged, never a crash. The whole of
 * `finish` is bounded by mxguard_mailauth_timeout (then temperror).
 */
import { PassThrough } from 'node:stream';
import { dkimVerify, dmarc } from 'mailauth';
import type { MailauthResolver } from './resolver.js';
import { escapeComment, withDeadline, type SpfCheck } from './spf.js';

type DkimVerifyResult = Awaited<ReturnType<typeof dkimVerify>>;
type DmarcOutcome = Awaited<ReturnType<typeof dmarc>>;

export interface DkimSignatureResult {
  readonly result: string;
  readonly domain?: string;
  readonly selector?: string;
  readonly comment?: string;
  readonly aligned: boolean;
}

export interface MessageResults {
  /** One summary: pass if any signature passes, else fail, temperror, …, none (RFC 6376 §6.1). */
  readonly dkim: string;
  readonly signatures: readonly DkimSignatureResult[];
  readonly dmarc: { readonly result: string; readonly domain: string; readonly policy?: string; readonly pct?: number; readonly comment?: string };
  /** RFC 8601 resinfos in order: dkim (one per signature), dmarc. */
  readonly resinfos: readonly string[];
}

export interface MessageInput {
  readonly resolver: MailauthResolver;
  /** MAIL FROM ('' for the null sender). */
  readonly sender: string;
  /** The MAIL FROM SPF result (null sender: the HELO identity), for DMARC's SPF alignment. */
  readonly spf?: SpfCheck;
  readonly minKeyBits: number;
  readonly timeoutMs: number;
}

/** The order in which a signature's result speaks for the message. */
const DKIM_ORDER = ['pass', 'fail', 'temperror', 'permerror', 'policy', 'neutral', 'none'];

export function summariseDkim(results: readonly { result: string }[]): string {
  let best = 'none';
  for (const r of results) {
    const i = DKIM_ORDER.indexOf(r.result);
    if (i >= 0 && i < DKIM_ORDER.indexOf(best)) best = r.result;
  }
  return best;
}

export class MessageCheck {
  private readonly input = new PassThrough();
  private readonly verifying: Promise<DkimVerifyResult | Error>;
  private ended = false;

  constructor(private readonly o: MessageInput) {
    this.verifying = dkimVerify(this.input, { resolver: o.resolver, sender: o.sender || undefined, minBitLength: o.minKeyBits })
      .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    this.input.on('error', () => { /* reported through `verifying` */ });
  }

  /** push - one chunk of the message as received; waits while the verifier catches up. */
  async push(chunk: Buffer): Promise<void> {
    if (this.ended || this.input.destroyed) return;
    if (!this.input.write(chunk)) {
      // Back-pressure, bounded: the verifier only hashes, so drain comes at CPU speed.
      await new Promise<void>((resolve) => {
        const done = () => { this.input.off('drain', done); this.input.off('close', done); resolve(); };
        this.input.on('drain', done);
        this.input.on('close', done);
      });
    }
  }

  /** abort - the message is refused or the session ended: stop verifying. */
  abort(): void {
    this.ended = true;
    this.input.destroy();
  }

  /** finish - ends the input and evaluates DKIM and DMARC; never throws. */
  async finish(): Promise<MessageResults> {
    this.ended = true;
    this.input.end();
    const late = (): MessageResults => this.failed('temperror', `evaluation took longer than ${Math.round(this.o.timeoutMs / 1000)}s`);
    return withDeadline(this.evaluate().catch((e: unknown) => this.failed('permerror', `verifier error: ${(e as Error).message}`)), this.o.timeoutMs, late);
  }

  private failed(result: 'temperror' | 'permerror', why: string): MessageResults {
    const comment = escapeComment(why);
    return {
      dkim: result, signatures: [], dmarc: { result: 'temperror', domain: '', comment },
      resinfos: [`dkim=${result} (${comment})`, `dmarc=temperror (${comment})`],
    };
  }

  private async evaluate(): Promise<MessageResults> {
    const v = await this.verifying;
    if (v instanceof Error) return this.failed('permerror', `message could not be verified: ${v.message}`);
    const signatures: DkimSignatureResult[] = v.results.map((r) => ({
      result: r.status.result, domain: r.signingDomain, selector: r.selector, comment: r.status.comment, aligned: !!r.status.aligned,
    }));
    const realSignatures = v.results.filter((r) => r.signingDomain);
    const dkim = summariseDkim(signatures);
    const resinfos = v.results.map((r) => r.info);

    const spfPass = this.o.spf?.result === 'pass' && this.o.spf.domain ? [this.o.spf.domain] : [];
    const from = v.headerFrom ?? [];
    let d: DmarcOutcome = false;
    if (from.length === 1) {
      d = await dmarc({
        headerFrom: from,
        spfDomains: spfPass,
        dkimDomains: realSignatures.filter((r) => r.status.result === 'pass').map((r) => ({ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized })),
        resolver: this.o.resolver,
      });
    }
    if (!d) {
      const why = from.length === 0 ? 'no From: address' : 'more than one From: address';
      resinfos.push(`dmarc=none (${why})`);
      return { dkim, signatures, dmarc: { result: 'none', domain: '', comment: why }, resinfos };
    }
    let result: string = d.status.result;
    let info = d.info ?? `dmarc=${result}`;
    // Strict alignment (adkim=s / aspf=s, RFC 7489 §3.1): mailauth 4.13 passes its strict flag
    // as an object, so it always falls back to relaxed matching (lib/tools.js getAlignment);
    // the exact-domain rule is applied here.
    const al = (d as { alignment?: { spf?: { result?: string | false; strict?: boolean }; dkim?: { result?: string | false; strict?: boolean } } }).alignment;
    if (result === 'pass' && (al?.dkim?.strict || al?.spf?.strict)) {
      const fromDomain = (from[0]!.split('@').pop() ?? '').toLowerCase().replace(/\.$/, '');
      const exact = (x?: string) => !!x && x.toLowerCase().replace(/\.$/, '') === fromDomain;
      const dkimOk = al.dkim?.strict ? realSignatures.some((r) => r.status.result === 'pass' && exact(r.signingDomain)) : !!al.dkim?.result;
      const spfOk = al.spf?.strict ? spfPass.some(exact) : !!al.spf?.result;
      if (!dkimOk && !spfOk) {
        result = 'fail';
        info = info.replace(/^dmarc=pass/, 'dmarc=fail');
      }
    }
    // A fail that rests on a DNS failure is not a fail (RFC 7489 §6.6.2: temperror in the
    // underlying checks leaves the DMARC evaluation undetermined).
    const dnsTrouble = this.o.spf?.result === 'temperror' || signatures.some((s) => s.result === 'temperror');
    if (result === 'fail' && dnsTrouble) {
      result = 'temperror';
      info = info.replace(/^dmarc=fail/, 'dmarc=temperror (SPF or DKIM had a DNS failure)');
    }
    resinfos.push(info);
    const dm = d as { domain?: string; policy?: string; pct?: number; status: { comment?: string } };
    return {
      dkim, signatures, resinfos,
      dmarc: { result, domain: dm.domain ?? '', policy: dm.policy?.toLowerCase(), pct: typeof dm.pct === 'number' ? dm.pct : undefined, comment: dm.status.comment },
    };
  }
}
