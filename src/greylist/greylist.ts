/**
 * @module greylist/greylist
 * Greylisting as postgrey 1.37 does it (see docs/greylisting.md): a triplet seen for the first
 * time is deferred; a retry once $mxguard_greylist_delay has passed since the first attempt is
 * let through, and the triplet then passes until it has not been seen for
 * $mxguard_greylist_max_age. A first retry later than $mxguard_greylist_retry_window starts the
 * wait again. A client address with $mxguard_greylist_auto_allowlist_clients successful retries
 * (counted at most once an hour) passes without a triplet (postgrey's client AWL).
 *
 * Decision order (postgrey): client allow list → recipient allow list → client AWL → triplet.
 * State (StateStore, prefix `grey:`): `grey:t:<triplet>` = `first,last` (unix seconds) and
 * `grey:c:<address>` = `count,last`, both expiring after the maximum age.
 * Failure: a StoreUnavailableError propagates; the caller applies $mxguard_state_store_failure.
 * XXX: two requests for a new triplet racing in the same second both see it as new (postgrey
 * serialises them in its single process); harmless, both are deferred.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.js';
import type { StateStore } from '../state/types.js';
import { clientAllowed, mergeClient, mergeRecipient, parseClientAllowlist, parseRecipientAllowlist, recipientAllowed, type ClientAllowlist, type RecipientAllowlist } from './allowlist.js';
import { tripletKey, tripletKeyOf } from './triplet.js';

export interface GreylistSettings {
  readonly delay: number;          // seconds
  readonly maxAge: number;         // seconds
  readonly retryWindow: number;    // seconds
  readonly awlClients: number;     // 0: off
  readonly v4Prefix: number;
  readonly v6Prefix: number;
  readonly text: string;
  readonly clients: ClientAllowlist;
  readonly recipients: RecipientAllowlist;
  /** Problems found reading the allow lists (logged once as warnings). */
  readonly warnings: readonly string[];
}

export interface GreylistRequest {
  readonly clientAddress: string;
  readonly clientName: string;     // 'unknown' when not verified
  readonly sender: string;         // '' for the null sender
  readonly recipient: string;
  readonly queueId?: string;
  /** The sender's domain when SPF passed for this client (mxguard_greylist_spf_client). */
  readonly spfDomain?: string;
}

export type GreylistVerdict =
  | { readonly action: 'greylist'; readonly reason: string; readonly secondsLeft: number; readonly text: string }
  | { readonly action: 'pass'; readonly reason: string; readonly delay?: number; readonly allowlisted?: boolean };

const cache = new WeakMap<Config, GreylistSettings>();

function readList<T>(files: readonly string[], parse: (text: string, bad: (l: number, w: string) => void) => T, warnings: string[]): T[] {
  const out: T[] = [];
  for (const f of files) {
    let text: string;
    try { text = readFileSync(f, 'utf8'); } catch (e) {
      // postgrey: a missing `.local` file is fine; any other unreadable file is worth a warning.
      if (!f.endsWith('.local')) warnings.push(`greylist allow list ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    out.push(parse(text, (l, w) => warnings.push(`${f}, line ${l}: ${w}`)));
  }
  return out;
}

/** greylistSettings - the parameters of one configuration, read once (allow list files included). */
export function greylistSettings(cfg: Config): GreylistSettings {
  let s = cache.get(cfg);
  if (s) return s;
  const warnings: string[] = [];
  s = {
    delay: cfg.time('mxguard_greylist_delay'),
    maxAge: cfg.time('mxguard_greylist_max_age'),
    retryWindow: cfg.time('mxguard_greylist_retry_window'),
    awlClients: cfg.int('mxguard_greylist_auto_allowlist_clients'),
    v4Prefix: cfg.int('mxguard_greylist_client_prefix'),
    v6Prefix: cfg.int('mxguard_greylist_client_prefix6'),
    text: cfg.get('mxguard_greylist_text'),
    clients: mergeClient(readList(cfg.list('mxguard_greylist_client_allowlist'), parseClientAllowlist, warnings)),
    recipients: mergeRecipient(readList(cfg.list('mxguard_greylist_recipient_allowlist'), parseRecipientAllowlist, warnings)),
    warnings,
  };
  cache.set(cfg, s);
  return s;
}

/** greylistText - $mxguard_greylist_text with %s (seconds left) and %r (recipient domain), each once as in postgrey. */
export function greylistText(text: string, secondsLeft: number, recipient: string): string {
  const domain = recipient.replace(/.*@/, '');
  return text.replace('%s', String(secondsLeft)).replace('%r', domain);
}

const HOUR = 3600;

/** greylistDecide - postgrey's decision for one request at `now` (unix seconds); updates the store. */
export async function greylistDecide(store: StateStore, s: GreylistSettings, req: GreylistRequest, now: number): Promise<GreylistVerdict> {
  if (clientAllowed(s.clients, req.clientAddress, req.clientName)) return { action: 'pass', reason: 'client whitelist' };
  if (recipientAllowed(s.recipients, req.recipient)) return { action: 'pass', reason: 'recipient whitelist' };
  const ttlMs = s.maxAge * 1000;
  // With an SPF-authorised sender, its SPF domain stands for every address it may send from.
  const awlKey = req.spfDomain ? `grey:c:spf:${req.spfDomain.toLowerCase()}` : `grey:c:${req.clientAddress.toLowerCase()}`;
  const key = `grey:t:${req.spfDomain
    ? tripletKeyOf(`spf:${req.spfDomain}`, req.sender, req.recipient)
    : tripletKey(req.clientAddress, req.sender, req.recipient, s.v4Prefix, s.v6Prefix)}`;
  // Both reads at once: one round trip to a remote store instead of two.
  const [awl, old] = await Promise.all([s.awlClients > 0 ? store.get(awlKey) : undefined, store.get(key)]);
  let awlCount = 0, awlLast: number | undefined;
  if (s.awlClients > 0) {
    if (awl) { const [c, l] = awl.value.split(','); awlCount = Number(c) || 0; awlLast = Number(l) || 0; }
    if (awlCount >= s.awlClients) {
      if (awlLast === undefined || now >= awlLast + HOUR || awlLast > now) await store.set(awlKey, `${awlCount + 1},${now}`, ttlMs);
      return { action: 'pass', reason: 'client AWL' };
    }
  }
  let first = now, lastWasSuccessful = false;
  if (old) {
    const [f, l] = old.value.split(',').map(Number) as [number, number];
    first = f;
    if (l - f >= s.delay) lastWasSuccessful = true;
    else if (now - first > s.retryWindow) first = now;
    if (first > now) first = now;
  }
  await store.set(key, `${first},${now}`, ttlMs);
  const left = s.delay - (now - first);
  let allowlisted = false;
  if (s.awlClients > 0 && left <= 0 && !lastWasSuccessful && (awlLast === undefined || now >= awlLast + HOUR)) {
    awlCount++;
    await store.set(awlKey, `${awlCount},${now}`, ttlMs);
    allowlisted = awlCount === s.awlClients;
  }
  if (left > 0) {
    return { action: 'greylist', reason: now !== first ? `early-retry (${left}s missing)` : 'new', secondsLeft: left, text: greylistText(s.text, left, req.recipient) };
  }
  if (!lastWasSuccessful) return { action: 'pass', reason: 'triplet found', delay: now - first, allowlisted };
  return { action: 'pass', reason: 'triplet found' };
}

/** greylistLogLine - postgrey's log line for a verdict (fields that are empty are left out). */
export function greylistLogLine(v: GreylistVerdict, req: GreylistRequest): string {
  const info = [`action=${v.action}`, `reason=${v.reason}`];
  if (v.action === 'pass' && v.delay !== undefined) info.push(`delay=${v.delay}`);
  const fields: [string, string][] = [['client_name', req.clientName], ['client_address', req.clientAddress], ['sender', req.sender], ['recipient', req.recipient]];
  for (const [k, val] of fields) if (val) info.push(`${k}=${val}`);
  return `${req.queueId ? `${req.queueId}: ` : ''}${info.join(', ')}`;
}

/** allowlistedLine - postgrey's one-time line when a client reaches the auto-allowlist count. */
export function allowlistedLine(req: GreylistRequest): string {
  return `whitelisted: ${req.clientName ? `${req.clientName}[${req.clientAddress}]` : req.clientAddress}`;
}
