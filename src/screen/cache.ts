/**
 * @module screen/cache
 * postscreen(8)'s temporary allowlist (postscreen_cache_map), kept in the shared state store
 * ($mxguard_state_store, src/state/) so that several mxguard processes or hosts share it.
 *
 * One key per client address, `screen:pass:ADDR`, whose value is a JSON object giving, per
 * test, the time (ms since the epoch) until which a pass of that test counts: `pregr`
 * ($postscreen_greet_ttl), `dnsbl` (one hour, see screen/index), `pipel` ($postscreen_pipelining_ttl), `nsmtp`
 * ($postscreen_non_smtp_command_ttl). The key itself lives until its latest time plus
 * $postscreen_cache_retention_time, so an expired test is repeated while the others still count.
 *
 * Failure: a store that does not answer reads as "no entry" (the client pays the pause again)
 * and a failed write is dropped; both are counted and logged by state/ (guarded()), whatever
 * $mxguard_state_store_failure says, since the screen never answers 451 for a store problem.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { guarded, storeFor } from '../state/index.js';

export type TestName = 'pregr' | 'dnsbl' | 'pipel' | 'nsmtp';
export type PassRecord = Partial<Record<TestName, number>>;

const key = (address: string) => `screen:pass:${address}`;

/** readPass - the cache entry of `address`, or an empty record (absent, unreadable, store down). */
export async function readPass(cfg: Config, logger: Logger, address: string): Promise<PassRecord> {
  const g = guarded(storeFor(cfg, logger), cfg, logger, 'postscreen');
  const r = await g.attempt((s) => s.get(key(address)), undefined);
  if (r.kind === 'tempfail' || !r.value) return {};
  try {
    const v = JSON.parse(r.value.value) as unknown;
    if (!v || typeof v !== 'object') return {};
    const out: PassRecord = {};
    for (const t of ['pregr', 'dnsbl', 'pipel', 'nsmtp'] as const) {
      const n = (v as Record<string, unknown>)[t];
      if (typeof n === 'number' && Number.isFinite(n)) out[t] = n;
    }
    return out;
  } catch {
    return {};
  }
}

/** writePass - stores `rec` for `address`, kept $postscreen_cache_retention_time past its latest expiry. */
export async function writePass(cfg: Config, logger: Logger, address: string, rec: PassRecord, now = Date.now()): Promise<void> {
  const latest = Math.max(now, ...Object.values(rec).filter((n): n is number => typeof n === 'number'));
  const ttl = latest - now + cfg.time('postscreen_cache_retention_time') * 1000;
  if (ttl <= 0) return;
  const g = guarded(storeFor(cfg, logger), cfg, logger, 'postscreen');
  await g.attempt((s) => s.set(key(address), JSON.stringify(rec), ttl), undefined);
}
