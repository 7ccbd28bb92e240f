/**
 * @module mailauth/policy
 * What a result does: the parameters (config/params/mailauth.ts) map each SPF, DKIM and DMARC
 * result to annotate, reject, defer or hold, and this module turns that into a reply.
 *
 * Reply codes follow RFC 7372 where it has one: X.7.23 SPF validation failed, X.7.24 SPF
 * validation error, X.7.20 no passing DKIM signature; DMARC rejects use 5.7.1 as OpenDMARC
 * does, and DNS failures of DKIM/DMARC 4.4.3 (RFC 3463: directory server failure). The texts
 * name the identity first, as Postfix does (`<a@b>: Sender address rejected: …`).
 *
 * Declared failure behaviour: a temperror can only annotate or defer (the parameters offer
 * nothing else), and a DMARC fail that rests on a temperror is itself a temperror. With
 * soft_bounce = yes every 5xx here becomes 4xx, as for every other reject.
 */
import type { Config } from '../config/config.js';
import { reply, softened, type Reply } from '../smtp/reply.js';

export type Action = 'annotate' | 'reject' | 'defer' | 'hold';

/** The verdict of one check: what to do, and the reply when it is reject or defer. */
export interface Verdict {
  readonly action: Action;
  readonly reply?: Reply;
  /** Why, for the log line and `mxguard check`. */
  readonly reason: string;
}

export const ANNOTATE: Verdict = { action: 'annotate', reason: 'annotate only' };

/** Order of strength when several checks ask for something: the strongest wins. */
const STRENGTH: Record<Action, number> = { annotate: 0, hold: 1, defer: 2, reject: 3 };

export function strongest(vs: readonly Verdict[]): Verdict {
  return vs.reduce((a, b) => (STRENGTH[b.action] > STRENGTH[a.action] ? b : a), ANNOTATE);
}

function finish(cfg: Config, v: Verdict): Verdict {
  if (v.reply && v.reply.code >= 500 && cfg.bool('soft_bounce')) return { ...v, reply: softened(v.reply) };
  return v;
}

function actionOf(cfg: Config, param: string): Action {
  return cfg.get(param).trim().toLowerCase() as Action;
}

export type SpfResultName = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';

/** spfVerdict - what an SPF result of the MAIL FROM (or HELO) identity does at MAIL FROM. */
export function spfVerdict(cfg: Config, identity: 'mailfrom' | 'helo', result: SpfResultName, subject: string, explanation: string): Verdict {
  let param: string | undefined;
  switch (result) {
    case 'fail': param = identity === 'helo' ? 'mxguard_spf_helo_fail_action' : 'mxguard_spf_fail_action'; break;
    case 'softfail': param = identity === 'helo' ? undefined : 'mxguard_spf_softfail_action'; break;
    case 'permerror': param = identity === 'helo' ? undefined : 'mxguard_spf_permerror_action'; break;
    case 'temperror': param = 'mxguard_spf_temperror_action'; break;
    default: param = undefined;
  }
  if (!param) return ANNOTATE;
  const action = actionOf(cfg, param);
  const who = identity === 'helo' ? `<${subject}>: Helo command rejected` : `<${subject}>: Sender address rejected`;
  const reason = `SPF ${identity === 'helo' ? 'HELO' : 'MAIL FROM'} ${result} (${param} = ${action})`;
  if (action === 'annotate' || action === 'hold') return { action: 'annotate', reason };
  if (result === 'temperror') {
    // RFC 7208 §2.6.7: a temporary DNS error; the client should try again later. Never 5xx.
    return finish(cfg, { action: 'defer', reason, reply: reply(451, '7.24', `${who}: SPF temperror: ${explanation}; try again later`) });
  }
  const detail = result === 'permerror' ? '7.24' : '7.23';
  const what = result === 'fail' ? 'SPF fail - not authorized' : `SPF ${result}`;
  const code = action === 'reject' ? 550 : 450;
  return finish(cfg, { action, reason, reply: reply(code, detail, `${who}: ${what}: ${explanation}`) });
}

/** dkimVerdict - what the message's DKIM result (dkim.ts summary) does after DATA. */
export function dkimVerdict(cfg: Config, result: string): Verdict {
  const param = result === 'fail' ? 'mxguard_dkim_fail_action' : result === 'temperror' ? 'mxguard_dkim_temperror_action' : undefined;
  if (!param) return ANNOTATE;
  const action = actionOf(cfg, param);
  const reason = `DKIM ${result} (${param} = ${action})`;
  if (action === 'annotate' || action === 'hold') return { action: 'annotate', reason };
  if (result === 'temperror') return finish(cfg, { action: 'defer', reason, reply: reply(451, '4.3', 'Message deferred: DKIM key lookup failed (temperror); try again later') });
  return finish(cfg, { action, reason, reply: reply(action === 'reject' ? 550 : 450, '7.20', 'Message rejected: no valid DKIM signature (dkim=fail)') });
}

/** What mxguard knows of the DMARC evaluation when it decides. */
export interface DmarcFacts {
  readonly result: string;
  /** The From: domain. */
  readonly domain: string;
  /** The policy that applies (p=, or sp= for a subdomain), lower case. */
  readonly policy?: string;
  readonly pct?: number;
}

/** dmarcVerdict - what a DMARC result does after DATA; `random` in [0,1) samples pct=. */
export function dmarcVerdict(cfg: Config, f: DmarcFacts, random: () => number = Math.random): Verdict {
  if (f.result === 'temperror') {
    const action = actionOf(cfg, 'mxguard_dmarc_temperror_action');
    const reason = `DMARC temperror (mxguard_dmarc_temperror_action = ${action})`;
    if (action !== 'defer') return { action: 'annotate', reason };
    return finish(cfg, { action: 'defer', reason, reply: reply(451, '4.3', `Message deferred: DMARC evaluation for ${f.domain} failed (temperror); try again later`) });
  }
  if (f.result !== 'fail') return ANNOTATE;
  let action: Action | 'policy' = cfg.get('mxguard_dmarc_fail_action').trim().toLowerCase() as Action | 'policy';
  let reason = `DMARC fail (mxguard_dmarc_fail_action = ${action})`;
  if (action === 'policy') {
    let p = f.policy === 'reject' || f.policy === 'quarantine' ? f.policy : 'none';
    // RFC 7489 §6.6.4: outside the pct= sample, apply the next weaker policy.
    const pct = typeof f.pct === 'number' && f.pct >= 0 && f.pct < 100 ? f.pct : 100;
    if (p !== 'none' && pct < 100 && random() * 100 >= pct) p = p === 'reject' ? 'quarantine' : 'none';
    action = p === 'reject' ? 'reject' : p === 'quarantine' ? 'hold' : 'annotate';
    reason = `DMARC fail, ${f.domain} policy ${p}${pct < 100 ? ` (pct=${pct})` : ''} (mxguard_dmarc_fail_action = policy)`;
  }
  switch (action) {
    case 'reject': return finish(cfg, { action, reason, reply: reply(550, '7.1', `Message rejected: DMARC policy of ${f.domain} (dmarc=fail)`) });
    case 'defer': return finish(cfg, { action, reason, reply: reply(450, '7.1', `Message deferred: DMARC policy of ${f.domain} (dmarc=fail)`) });
    case 'hold': return { action, reason };
    default: return { action: 'annotate', reason };
  }
}
