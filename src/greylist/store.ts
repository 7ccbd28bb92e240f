/**
 * @module greylist/store
 * Where greylisting keeps its triplets and auto-allowlist counters: the configuration's shared
 * state store (src/state storeFor(): $mxguard_state_store, SQLite by default, Redis to share
 * them between MX hosts, memory: for one process), reached through one accessor.
 */
import type { Config } from '../config/config.js';
import { storeFailureMode as stateFailureMode, storeFor } from '../state/index.js';
import type { StateStore } from '../state/types.js';

let override: StateStore | undefined;

/** greylistStore - the store for this configuration. */
export function greylistStore(cfg: Config): StateStore {
  return override ?? storeFor(cfg);
}

/** useGreylistStore - tests and benchmarks: answer with this store (undefined: back to the configured one). */
export function useGreylistStore(store: StateStore | undefined): void { override = store; }

/** storeFailureMode - $mxguard_state_store_failure: `open` (DUNNO) or `tempfail` (451 4.3.0). */
export function storeFailureMode(cfg: Config): 'open' | 'tempfail' {
  return stateFailureMode(cfg);
}
