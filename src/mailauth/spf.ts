/**
 * @module mailauth/spf
 * SPF (RFC 7208) at MAIL FROM, through mailauth, for two identities: MAIL FROM (with the null
 * sender, postmaster@HELO, §2.4) and HELO (§2.3; only for a HELO name that is a domain).
 * mailauth follows the RFC's limits (10 DNS-querying terms, 2 void lookups, §4.6.4) and turns
 * every DNS failure into temperror; `withDeadline` bounds the whole evaluation
 * (mxguard_mailauth_timeout) so a slow server cannot hold the session longer.
 */
import { spf as mailauthSpf } from 'mailauth';
import type { MailauthResolver } from './resolver.js';
import type { SpfResultName } from './policy.js';

export interface SpfCheck {
  readonly identity: 'mailfrom' | 'helo';
  readonly result: SpfResultName;
  /** The domain whose record was evaluated. */
  readonly domain: string;
  /** Human explanation (mailauth's comment, or why nothing was evaluated). */
  readonly explanation: string;
  /** The RFC 8601 resinfo, e.g. `spf=pass (…) smtp.mailfrom=a@b.example`. */
  readonly resinfo: string;
}

const RESULTS: ReadonlySet<string> = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror']);

/** RFC 5322 §3.2.2 comment text: parentheses and backslashes become quoted-pairs. */
export function escapeComment(s: string): string {
  return s.replace(/[\\()]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]+/g, ' ');
}

/** RFC 8601 §2.2 pvalue: a value with characters outside a token is quoted. */
export function propValue(s: string): string {
  return /^[A-Za-z0-9!#$%&'*+\-./=?^_`{|}~@]+$/.test(s) ? s : `"${s.replace(/["\\]/g, (c) => `\\${c}`).replace(/[\x00-\x1f\x7f]+/g, ' ')}"`;
}

/** withDeadline - the promise's value, or `late()` once `ms` have passed (the timer never outlives it). */
export async function withDeadline<T>(p: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(late()), ms); });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A HELO name SPF can check: a domain with a dot, not an address literal (RFC 7208 §2.3). */
export function heloCheckable(helo: string | undefined): helo is string {
  return !!helo && !helo.startsWith('[') && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?$/.test(helo) && !/^[\d.]+$/.test(helo);
}

export interface SpfInput {
  readonly ip: string;
  readonly helo?: string;
  /** MAIL FROM address; '' is the null sender. */
  readonly sender: string;
  /** $myhostname, named in the comments. */
  readonly mta: string;
  readonly resolver: MailauthResolver;
  readonly timeoutMs: number;
}

/** checkSpf - evaluates one identity; never throws, never takes longer than timeoutMs. */
export async function checkSpf(identity: 'mailfrom' | 'helo', input: SpfInput): Promise<SpfCheck> {
  const helo = input.helo;
  const sender = identity === 'helo' || input.sender === '' ? (heloCheckable(helo) ? `postmaster@${helo.replace(/\.$/, '')}` : '') : input.sender;
  const subject = identity === 'helo' ? `smtp.helo=${propValue(helo ?? '')}` : `smtp.mailfrom=${propValue(sender || '<>')}`;
  const temperror = (why: string): SpfCheck => ({
    identity, result: 'temperror', domain: sender.split('@').pop() ?? '', explanation: why,
    resinfo: `spf=temperror (${escapeComment(`${input.mta}: ${why}`)}) ${subject}`,
  });
  if (!sender) {
    // Null sender and no usable HELO name: nothing to check (RFC 7208 §2.4: the result is none).
    const why = `no domain to check (null sender, HELO ${helo ? helo : 'not given'})`;
    return { identity, result: 'none', domain: '', explanation: why, resinfo: `spf=none (${escapeComment(`${input.mta}: ${why}`)}) ${subject}` };
  }
  try {
    const r = await withDeadline(
      mailauthSpf({ sender, ip: input.ip, ...(helo ? { helo } : {}), mta: input.mta, resolver: input.resolver }),
      input.timeoutMs, () => undefined);
    if (!r) return temperror(`SPF evaluation took longer than ${Math.round(input.timeoutMs / 1000)}s`);
    const result = (RESULTS.has(r.status.result) ? r.status.result : 'temperror') as SpfResultName;
    const explanation = (r.status.comment ?? '').replace(new RegExp(`^${input.mta.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), '');
    const resinfo = identity === 'helo'
      ? `spf=${result}${r.status.comment ? ` (${escapeComment(r.status.comment)})` : ''} ${subject}`
      : r.info;
    return { identity, result, domain: r.domain, explanation, resinfo };
  } catch (e) {
    // mailauth catches its own errors; anything left is a bug or a resource problem, not spam evidence.
    return temperror(`SPF evaluation error: ${(e as Error).message}`);
  }
}
