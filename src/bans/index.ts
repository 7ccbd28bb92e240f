/**
 * @module bans
 * The ban feature's entry points (docs/bans.md): recordOffence() for whoever notices abuse
 * (SMTP session, pre-greet screen), checkBan() for the listener, and the store operations
 * that `mxguard bans` uses.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { limitsStore, storeFailureMode, warnStoreFailure } from '../limits/store.js';
import { StoreUnavailableError } from '../state/types.js';
import { activeBan, banReplyText, countOffence, isBanExempt, type BanRecord, type OffenceReason, type OffenceResult } from './bans.js';

export { activeBan, banAddress, banDuration, isBanExempt, listBans, normalizeAddress, unban, type BanRecord, type OffenceReason } from './bans.js';

export interface BanContext { readonly config: Config; readonly logger?: Logger }

let lastContext: BanContext | undefined;

/** configureBans - the configuration recordOffence() uses when its caller passes none (set by the listener at each connection). */
export function configureBans(ctx: BanContext): void { lastContext = ctx; }

/**
 * recordOffence - counts one offence of a client address; bans it when the reason's threshold
 * ($mxguard_ban_auth_failures, _error_limit, _pregreet, _rejects) is reached within
 * $mxguard_ban_find_time, and logs the ban. Never throws: a store failure is logged and
 * ignored (a ban is never a reason to refuse service by mistake). Without `ctx`, uses the
 * configuration of the last connection the listener saw (nothing happens before the first).
 */
export async function recordOffence(address: string, reason: OffenceReason, ctx: BanContext | undefined = lastContext): Promise<OffenceResult | undefined> {
  if (!ctx) return undefined;
  const cfg = ctx.config;
  try {
    const r = await countOffence(await limitsStore(cfg, ctx.logger), cfg, address, reason);
    if (r?.log) ctx.logger?.line('smtpd', `warning: ${r.log}`, cfg.get('syslog_name'));
    return r;
  } catch (e) {
    if (!(e instanceof StoreUnavailableError)) throw e;
    warnStoreFailure(ctx.logger, cfg, 'ban offence', e);
    return undefined;
  }
}

export type BanCheck = { kind: 'ok' } | { kind: 'banned'; ban: BanRecord; text: string } | { kind: 'tempfail' };

/** checkBan - whether a connecting client is banned (an allowlisted client never is). */
export async function checkBan(ctx: BanContext, address: string, name?: string): Promise<BanCheck> {
  const cfg = ctx.config;
  if (isBanExempt(cfg, address, name)) return { kind: 'ok' };
  try {
    const ban = await activeBan(await limitsStore(cfg, ctx.logger), address);
    return ban ? { kind: 'banned', ban, text: banReplyText(cfg, ban) } : { kind: 'ok' };
  } catch (e) {
    if (!(e instanceof StoreUnavailableError)) throw e;
    warnStoreFailure(ctx.logger, cfg, 'ban check', e);
    return storeFailureMode(cfg) === 'tempfail' ? { kind: 'tempfail' } : { kind: 'ok' };
  }
}
