/**
 * @module state/types
 * The shared state of the anti-abuse features (greylisting, rate limits, bans, the pre-greet
 * cache): counters, expiring keys and event windows, behind one interface with an embedded
 * SQLite backend and a Redis backend (several MX hosts share one Redis). Keys are strings with
 * a feature prefix (`grey:`, `rate:`, `ban:`, `screen:`); values are strings.
 *
 * Every method may reject with StoreUnavailableError (Redis down, SQLite busy too long): the
 * caller applies $mxguard_state_store_failure (`open`: behave as if the store said nothing;
 * `tempfail`: answer 451 4.3.0), logs and counts it. No method waits longer than
 * $mxguard_state_store_timeout.
 */

export interface StoredValue {
  readonly value: string;
  /** ms since the epoch; undefined: no expiry. */
  readonly expiresAt?: number;
}

export interface StateStore {
  /** The value of `key`, or undefined when absent or expired. */
  get(key: string): Promise<StoredValue | undefined>;
  /** Sets `key`; `ttlMs` undefined: no expiry. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets `key` only if absent (or expired); true when it was set. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /**
   * Adds `by` to the counter `key` (created at 0) and returns the new value; the expiry is set
   * when the key is created (a fixed window that starts with the first event) unless `ttlMs`
   * is undefined.
   */
  increment(key: string, by: number, ttlMs?: number): Promise<number>;
  /**
   * Sliding window: records an event of `weight` at `nowMs` under `key`, forgets events older
   * than `windowMs`, and returns the total weight inside the window (including this one).
   * `weight` 0 only reads.
   */
  slidingWindow(key: string, nowMs: number, windowMs: number, weight: number): Promise<number>;
  /** Every live key with this prefix (for `mxguard bans list`, exports, tests). */
  scan(prefix: string): Promise<{ key: string; value: StoredValue }[]>;
  close(): Promise<void>;
}

/**
 * The store did not answer (Redis down or slow, SQLite locked or its disk full). `backend` names
 * the store as configured, without a password (`redis://127.0.0.1:6379/0`, `sqlite:/var/…`).
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(readonly backend: string, message: string, options?: ErrorOptions) { super(`${backend}: ${message}`, options); }
}
