/**
 * @module bans/bans
 * fail2ban inside the server. Offences (failed AUTH, a session ended by the hard error limit,
 * talking before the greeting, rejected commands) are counted per client address in a sliding
 * window of $mxguard_ban_find_time; reaching a reason's threshold bans the address for
 * $mxguard_ban_time × $mxguard_ban_time_factor^(n−1), at most $mxguard_ban_max_time, where n
 * counts this address's bans remembered for $mxguard_ban_history_time (fail2ban's
 * bantime.increment). A banned client gets `421 4.7.0` at connect (limits/connect).
 *
 * Store keys: `ban:active:ADDR` (JSON BanRecord, expiring with the ban), `ban:history:ADDR`
 * (number of bans), `ban:offence:REASON:ADDR` (sliding window). $mynetworks and
 * $mxguard_ban_exceptions are never banned, and a ban of such an address (added by hand) is
 * ignored at connect: the allowlist always wins.
 * Failure: every function may reject with StoreUnavailableError; callers apply
 * $mxguard_state_store_failure.
 * Blind spots: NAT clients share a ban; an IPv6 client can hop addresses inside its /64.
 */
import type { Config } from '../config/config.js';
import { NetworkList } from '../engine/networks.js';
import type { StateStore } from '../state/types.js';

export type OffenceReason = 'auth_failure' | 'error_limit' | 'pregreet' | 'reject';

/** The parameter that holds each reason's threshold. */
export const THRESHOLD_PARAM: Record<OffenceReason, string> = {
  auth_failure: 'mxguard_ban_auth_failures',
  error_limit: 'mxguard_ban_error_limit',
  pregreet: 'mxguard_ban_pregreet',
  reject: 'mxguard_ban_rejects',
};

const REASON_TEXT: Record<OffenceReason, string> = {
  auth_failure: 'failed AUTH attempts', error_limit: 'sessions over the hard error limit',
  pregreet: 'sessions talking before the greeting', reject: 'rejected commands',
};

export interface BanRecord {
  readonly address: string;
  /** Why: an offence reason, or the administrator's text for a manual ban. */
  readonly reason: string;
  /** ms since the epoch. */
  readonly since: number;
  readonly until: number;
  /** 1 for a first ban, 2 for the next … */
  readonly count: number;
  readonly source: 'server' | 'manual';
}

export const ACTIVE = 'ban:active:';
const HISTORY = 'ban:history:';
const OFFENCE = 'ban:offence:';

/** normalizeAddress - the store's spelling of a client address (IPv4-mapped IPv6 as IPv4, lower case). */
export function normalizeAddress(a: string): string {
  return a.trim().replace(/^\[|\]$/g, '').replace(/^::ffff:(?=\d+\.)/i, '').toLowerCase();
}

const allowlists = new WeakMap<Config, NetworkList[]>();
/** isBanExempt - $mynetworks or $mxguard_ban_exceptions matches the client. */
export function isBanExempt(cfg: Config, address: string, name?: string): boolean {
  let lists = allowlists.get(cfg);
  if (!lists) {
    lists = [new NetworkList(cfg.list('mynetworks'))];
    const extra = cfg.list('mxguard_ban_exceptions');
    if (extra.length) lists.push(new NetworkList(extra, { name: 'mxguard_ban_exceptions' }));
    allowlists.set(cfg, lists);
  }
  return lists.some((l) => l.matches(address, name));
}

/** banDuration - ms of the n-th ban (n ≥ 1). */
export function banDuration(cfg: Config, n: number): number {
  const base = cfg.time('mxguard_ban_time') * 1000;
  const max = cfg.time('mxguard_ban_max_time') * 1000;
  const factor = cfg.int('mxguard_ban_time_factor');
  let d = base;
  for (let i = 1; i < n && d < max; i++) d *= factor;
  return Math.min(d, max);
}

/** activeBan - the address's current ban, if any. */
export async function activeBan(store: StateStore, address: string): Promise<BanRecord | undefined> {
  const v = await store.get(ACTIVE + normalizeAddress(address));
  if (!v) return undefined;
  try { return JSON.parse(v.value) as BanRecord; } catch { return undefined; }
}

/** banAddress - bans the address now (its n-th ban, n from the history); returns the record. */
export async function banAddress(store: StateStore, cfg: Config, address: string, reason: string, source: BanRecord['source'], now = Date.now(), durationMs?: number): Promise<BanRecord> {
  const addr = normalizeAddress(address);
  const prev = await store.get(HISTORY + addr);
  const count = (prev ? Number(prev.value) || 0 : 0) + 1;
  const ms = durationMs ?? banDuration(cfg, count);
  const rec: BanRecord = { address: addr, reason, since: now, until: now + ms, count, source };
  await store.set(ACTIVE + addr, JSON.stringify(rec), ms);
  await store.set(HISTORY + addr, String(count), ms + cfg.time('mxguard_ban_history_time') * 1000);
  return rec;
}

/** unban - lifts a ban (the history stays, so a next ban is still longer); true when there was one. */
export async function unban(store: StateStore, address: string): Promise<boolean> {
  return store.delete(ACTIVE + normalizeAddress(address));
}

/** listBans - every current ban, by address. */
export async function listBans(store: StateStore): Promise<BanRecord[]> {
  const out: BanRecord[] = [];
  for (const { key, value } of await store.scan(ACTIVE)) {
    try { out.push(JSON.parse(value.value) as BanRecord); } catch { out.push({ address: key.slice(ACTIVE.length), reason: 'unknown', since: 0, until: value.expiresAt ?? 0, count: 1, source: 'server' }); }
  }
  return out.sort((a, b) => a.address.localeCompare(b.address, 'en', { numeric: true }));
}

export interface OffenceResult {
  /** Offences of this reason inside the window, this one included. */
  readonly count: number;
  readonly threshold: number;
  /** Set when this offence banned the client. */
  readonly ban?: BanRecord;
  /** The warning line for the log, when banned. */
  readonly log?: string;
}

/**
 * countOffence - records one offence; bans when the reason's threshold is reached. Nothing is
 * counted for an exempt client, a reason whose threshold is 0, or an address already banned.
 */
export async function countOffence(store: StateStore, cfg: Config, address: string, reason: OffenceReason, now = Date.now()): Promise<OffenceResult | undefined> {
  const threshold = cfg.int(THRESHOLD_PARAM[reason]);
  const addr = normalizeAddress(address);
  if (threshold <= 0 || isBanExempt(cfg, addr)) return undefined;
  if (await activeBan(store, addr)) return undefined;
  const window = cfg.time('mxguard_ban_find_time') * 1000;
  const key = `${OFFENCE}${reason}:${addr}`;
  const count = await store.slidingWindow(key, now, window, 1);
  if (count < threshold) return { count, threshold };
  await store.delete(key);
  const ban = await banAddress(store, cfg, addr, reason, 'server', now);
  const secs = Math.round((ban.until - ban.since) / 1000);
  return {
    count, threshold, ban,
    log: `ban: client [${addr}] banned for ${secs}s until ${new Date(ban.until).toISOString()} (ban ${ban.count}): ${count} ${REASON_TEXT[reason]} within ${cfg.time('mxguard_ban_find_time')}s (reason=${reason})`,
  };
}

/** banReply - the connect-time refusal of a banned client. */
export function banReplyText(cfg: Config, ban: BanRecord): string {
  return `${cfg.get('myhostname')} Error: client ${ban.address} banned (${ban.reason.replace(/[\r\n;]/g, ' ')}); try again later`;
}
