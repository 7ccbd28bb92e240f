/**
 * @module state/index
 * Choosing the state store, and applying its declared failure mode.
 *
 * `storeFor(cfg)` reads $mxguard_state_store and returns the one shared instance for that value
 * in this process (greylisting, rate limits, bans and the pre-greet screen all use it):
 *   - `sqlite:PATH` (default `sqlite:$mxguard_state_directory/state.sqlite`): the embedded file;
 *   - `redis://HOST:PORT/DB` (also `rediss://`, `redis://:password@…`): shared by several hosts;
 *   - `memory:`: this process only, nothing kept (tests, `mxguard check`).
 * An unknown form is a ConfigError. `closeStores()` closes all of them (shutdown, tests).
 *
 * Failure mode: every store method may reject with StoreUnavailableError. Callers wrap their
 * store use in `guarded(store, cfg).attempt(...)` (or call `storeFailure()` themselves), which
 * applies $mxguard_state_store_failure:
 *   - `open` (default): the feature behaves as if the store said nothing (no greylisting, no
 *     limit, no ban) and mail flows;
 *   - `tempfail`: the caller answers 451 4.3.0 (Postfix's "Temporary lookup failure").
 * Each failure is counted (`storeFailures()`), and logged at most once a minute per store:
 * `warning: state store redis://…: unavailable (…); failing open`.
 */
import { Config } from '../config/config.js';
import { catalogue } from '../config/catalogue.js';
import { expand } from '../config/expand.js';
import { ConfigError } from '../config/types.js';
import { parseTime } from '../config/values.js';
import { stateParams } from '../config/params/state.js';
import type { Logger } from '../log/logger.js';
import { MemoryStore } from './memory.js';
import { RedisStore, redactUrl } from './redis.js';
import { SqliteStore } from './sqlite.js';
import { StoreUnavailableError, type StateStore } from './types.js';

export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';
export { SqliteStore } from './sqlite.js';
export { StoreUnavailableError, type StateStore, type StoredValue } from './types.js';

export type FailureMode = 'open' | 'tempfail';

/**
 * param - a state parameter's expanded value.
 * XXX: falls back to the declaration in params/state.ts when the catalogue does not (yet)
 * include it, so the store works whichever order the catalogue is assembled in.
 */
function param(cfg: Config, name: string): string {
  if (catalogue.has(name) || cfg.isExplicit(name)) return cfg.get(name);
  const def = stateParams.find((d) => d.name === name);
  if (!def) throw new Error(`parameter not declared: ${name}`);
  return expand(def.default, (n) => (n === name ? undefined : catalogue.has(n) || cfg.isExplicit(n) ? cfg.raw(n) : undefined));
}

/** The configured store, spelled as configured (empty: the default). */
export function storeSpec(cfg: Config): string {
  return param(cfg, 'mxguard_state_store').trim();
}

/** $mxguard_state_store_timeout in ms. */
export function storeTimeoutMs(cfg: Config): number {
  const v = param(cfg, 'mxguard_state_store_timeout');
  const s = parseTime(v);
  if (s === undefined) throw new ConfigError(`mxguard_state_store_timeout: bad value "${v}"`);
  return Math.max(1, Math.round(s * 1000));
}

/** $mxguard_state_store_failure. */
export function storeFailureMode(cfg: Config): FailureMode {
  const v = param(cfg, 'mxguard_state_store_failure').trim().toLowerCase();
  if (v === 'open' || v === 'tempfail') return v;
  throw new ConfigError(`mxguard_state_store_failure: bad value "${v}" (allowed: open, tempfail)`);
}

export interface OpenOptions {
  readonly timeoutMs?: number;
  /** Connection changes of a Redis store (one line each). */
  readonly log?: (text: string) => void;
}

/** openStore - a new store for one `mxguard_state_store` value (not shared; see storeFor). */
export function openStore(spec: string, opts: OpenOptions = {}): StateStore {
  if (spec === 'memory:' || spec === 'memory') return new MemoryStore();
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (!path) throw new ConfigError('mxguard_state_store: sqlite: needs a file name');
    return new SqliteStore(path, { ...(opts.timeoutMs !== undefined ? { busyTimeoutMs: opts.timeoutMs } : {}) });
  }
  if (/^rediss?:\/\//.test(spec)) {
    return new RedisStore(spec, {
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
  }
  throw new ConfigError(`mxguard_state_store: unknown store "${redactUrl(spec)}" (use sqlite:PATH, redis://HOST:PORT/DB or memory:)`);
}

const shared = new Map<string, StateStore>();

/**
 * storeFor - the process's one store for $mxguard_state_store. `logger` receives the Redis
 * connection changes (as `program`, default `mxguard`), from the first caller that passes one.
 */
export function storeFor(cfg: Config, logger?: Logger, program = 'mxguard'): StateStore {
  const spec = storeSpec(cfg);
  let s = shared.get(spec);
  if (!s) {
    const sink = { logger };
    s = openStore(spec, { timeoutMs: storeTimeoutMs(cfg), log: (text) => sink.logger?.line(program, text) });
    shared.set(spec, s);
    sinks.set(s, sink);
  } else if (logger) {
    const sink = sinks.get(s);
    if (sink && !sink.logger) sink.logger = logger;
  }
  return s;
}
const sinks = new WeakMap<StateStore, { logger: Logger | undefined }>();

/** closeStores - closes every shared store (at shutdown; between tests). */
export async function closeStores(): Promise<void> {
  const all = [...shared.values()];
  shared.clear();
  await Promise.all(all.map((s) => s.close().catch(() => undefined)));
}

/** A readable name of a store for logs: its configured spec, without a password. */
export function storeName(store: StateStore): string {
  const n = (store as { name?: unknown }).name;
  return typeof n === 'string' ? n : 'memory:';
}

// Failure accounting: process-wide, like the other dependency counters.
let failures = 0;
const lastLogged = new Map<string, number>();
const LOG_INTERVAL_MS = 60_000;

/** storeFailures - how many store calls failed in this process (StoreUnavailableError). */
export function storeFailures(): number { return failures; }

/**
 * storeFailure - counts a failure and logs it (at most once a minute per store); returns the
 * mode the caller must apply. For callers that handle StoreUnavailableError themselves.
 */
export function storeFailure(err: StoreUnavailableError, mode: FailureMode, logger?: Logger, program = 'mxguard', now = Date.now()): FailureMode {
  failures++;
  const last = lastLogged.get(err.backend);
  if (last === undefined || now - last >= LOG_INTERVAL_MS) {
    lastLogged.set(err.backend, now);
    const detail = err.message.startsWith(`${err.backend}: `) ? err.message.slice(err.backend.length + 2) : err.message;
    logger?.line(program, `warning: state store ${err.backend}: unavailable (${detail}); ${mode === 'open' ? 'failing open' : 'answering with a temporary failure'}`);
  }
  return mode;
}

export type Guarded<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'open'; value: T; error: StoreUnavailableError }     // store down: behave as `value`
  | { kind: 'tempfail'; error: StoreUnavailableError };           // store down: answer 451 4.3.0

export interface GuardedStore {
  readonly store: StateStore;
  readonly mode: FailureMode;
  /**
   * Runs `op` against the store. On StoreUnavailableError: counted, logged (rate-limited), and
   * `{kind: 'open', value: whenOpen}` or `{kind: 'tempfail'}` per $mxguard_state_store_failure.
   * Other errors (bugs) propagate.
   */
  attempt<T>(op: (s: StateStore) => Promise<T>, whenOpen: T): Promise<Guarded<T>>;
}

/** guarded - the store with $mxguard_state_store_failure applied (see the module comment). */
export function guarded(store: StateStore, cfg: Config, logger?: Logger, program = 'mxguard'): GuardedStore {
  const mode = storeFailureMode(cfg);
  return {
    store, mode,
    async attempt<T>(op: (s: StateStore) => Promise<T>, whenOpen: T): Promise<Guarded<T>> {
      try {
        return { kind: 'ok', value: await op(store) };
      } catch (e) {
        if (!(e instanceof StoreUnavailableError)) throw e;
        storeFailure(e, mode, logger, program);
        return mode === 'open' ? { kind: 'open', value: whenOpen, error: e } : { kind: 'tempfail', error: e };
      }
    },
  };
}
