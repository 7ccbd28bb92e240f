/**
 * @module limits/store
 * The state store of the rate limits and bans: the configuration's shared store (src/state
 * storeFor(): $mxguard_state_store, SQLite by default, Redis to share limits and bans between
 * hosts), reached through one accessor so that tests can substitute a MemoryStore.
 * Failure policy: $mxguard_state_store_failure (`open`, the default: no limit, no ban;
 * `tempfail`: 451 4.3.0, or 421 4.3.0 at connect); each failure is counted and logged by
 * state/ storeFailure() (at most once a minute per store).
 * XXX: with `mxguard_state_store = memory:` nothing is shared between processes ("mxguard
 * bans" then sees only its own, empty, store; each worker of mxguard_workers > 1 counts alone)
 * nor kept across restarts.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { storeFailure, storeFailureMode as stateFailureMode, storeFor, storeSpec } from '../state/index.js';
import type { StateStore, StoreUnavailableError } from '../state/types.js';

let override: StateStore | undefined;

/** limitsStore - the store for this configuration. */
export async function limitsStore(cfg: Config, logger?: Logger): Promise<StateStore> {
  return override ?? storeFor(cfg, logger, 'smtpd');
}

/** isProcessLocal - true when the configured store lives in this process only (`memory:`). */
export function isProcessLocal(cfg: Config): boolean {
  if (override) return true;
  const s = storeSpec(cfg);
  return s === 'memory:' || s === 'memory';
}

/** useLimitsStore - tests: answer with this store (undefined: back to the configured one). */
export function useLimitsStore(store: StateStore | undefined): void { override = store; }

/** storeFailureMode - $mxguard_state_store_failure: `open` (default) or `tempfail`. */
export function storeFailureMode(cfg: Config): 'open' | 'tempfail' {
  try { return stateFailureMode(cfg); } catch { return 'open'; }
}

/** warnStoreFailure - counts and logs a store failure (state/ limits the log to once a minute). */
export function warnStoreFailure(logger: Logger | undefined, cfg: Config, _what: string, e: StoreUnavailableError): void {
  storeFailure(e, storeFailureMode(cfg), logger, 'smtpd');
}
