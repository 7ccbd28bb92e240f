/**
 * @module logs/detect/bounded
 * The few containers every detector keeps its state in, each with a hard size limit, so that
 * `mxguard logs detect` uses the same memory for a day of log as for a year.
 *
 * - `LruMap`: a Map that forgets the keys not used for longest beyond a cap (and counts what it
 *   forgot, so a summary can say that it is incomplete).
 * - `RateRing`: "N events within WINDOW" over the last N event times of one key: O(1) per event,
 *   N numbers of memory, and exact (fail2ban's maxretry/findtime question).
 * - `RecentSet`: distinct values seen within a sliding window (addresses of an account in the last
 *   24 hours), oldest forgotten first.
 * Strings they keep are detached first (logs/strings).
 */
import { detach, hash32, intern } from '../strings.js';

/**
 * A Map with a size cap that forgets the keys not used for longest. Two generations instead of a
 * strict LRU list: new and used keys go into the young Map; when it holds half the cap, the old
 * Map is forgotten (each key in it was not used during a whole generation) and the young one
 * becomes old. Most lookups are then a plain `get`, where a strict LRU would delete and re-insert
 * on every use; the price is that eviction comes in batches of up to cap/2.
 */
export class LruMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;
  /** Keys forgotten because of the cap. */
  evicted = 0;
  constructor(readonly cap: number, private readonly onEvict?: (key: K, value: V) => void) {
    this.half = Math.max(1, Math.floor(cap / 2));
  }

  get size(): number { return this.young.size + this.old.size; }

  /** peek - the value, without marking it used. */
  peek(key: K): V | undefined {
    const v = this.young.get(key);
    return v !== undefined ? v : this.old.get(key);
  }

  has(key: K): boolean { return this.young.has(key) || this.old.has(key); }

  /** touch - the value, marked used (kept through the next generation change). */
  touch(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.young.set(key, o);
      this.rotate();
    }
    return o;
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value);
      return;
    }
    this.old.delete(key);
    this.young.set(key, value);
    this.rotate();
  }

  private rotate(): void {
    if (this.young.size < this.half) return;
    for (const [k, v] of this.old) {
      this.evicted++;
      this.onEvict?.(k, v);
    }
    this.old = this.young;
    this.young = new Map();
  }

  delete(key: K): boolean { return this.young.delete(key) || this.old.delete(key); }
  /** entries - older generation first. */
  *entries(): IterableIterator<[K, V]> { yield* this.old; yield* this.young; }
  *values(): IterableIterator<V> { yield* this.old.values(); yield* this.young.values(); }
}

/** The last N event times of one key; `push` says whether all N lie within the window. */
export class RateRing {
  // Allocated at its exact size and filled in place: thousands of keys each have one.
  private readonly times: number[];
  private head = 0;
  private count = 0;
  constructor(readonly n: number) {
    this.times = new Array<number>(Math.max(1, n)).fill(0.5);
  }

  /** push - records an event at time t (ms). Returns true when the last N events lie within `windowMs`. */
  push(t: number, windowMs: number): boolean {
    if (this.n <= 0) return false;
    this.times[this.head] = t;
    this.head = (this.head + 1) % this.n;
    if (this.count < this.n) this.count++;
    return this.count === this.n && t - this.times[this.head]! <= windowMs;
  }
}

/**
 * Distinct values seen within the last `windowMs`, at most `cap` of them (the oldest go first).
 * A Map in insertion order doubles as a queue ordered by last sighting: re-inserting a value moves
 * it to the end, so expired values are always at the front.
 */
export class RecentSet {
  private readonly seen = new Map<string, number>();
  constructor(private readonly windowMs: number, private readonly cap: number) {}

  /** add - records `value` at time t and drops values last seen before t - window. */
  add(value: string, t: number): void {
    if (this.seen.has(value)) this.seen.delete(value);
    else value = detach(value);
    this.seen.set(value, t);
    this.expire(t);
    if (this.seen.size > this.cap) this.seen.delete(this.seen.keys().next().value as string);
  }

  expire(t: number): void {
    for (const [v, at] of this.seen) {
      if (t - at <= this.windowMs) break;
      this.seen.delete(v);
    }
  }

  get size(): number { return this.seen.size; }
  values(): string[] { return [...this.seen.keys()]; }
}

/** A counter of string keys with a cap on distinct keys (new keys beyond it are only counted as "other"). */
export class CappedCounter {
  readonly counts = new Map<string, number>();
  other = 0;
  /** `shared`: keys repeat across many counters (reject reasons): keep one copy of each (intern). */
  constructor(private readonly cap: number, private readonly shared = false) {}

  add(key: string, n = 1): void {
    const c = this.counts.get(key);
    if (c !== undefined) this.counts.set(key, c + n);
    else if (this.counts.size < this.cap) this.counts.set(this.shared ? intern(key) : detach(key), n);
    else this.other += n;
  }

  get distinct(): number { return this.counts.size; }
  /** top - the keys with the highest counts, highest first. */
  top(n: number): Array<[string, number]> {
    // Ties keep the order of first sighting (sort is stable).
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, n);
  }
}

/**
 * Distinct values counted by their hashes (up to `cap`; "more" beyond), with the first `samples`
 * values kept as text. For per-client details such as the senders a spam tool made up: thousands
 * of clients each keep a few numbers instead of every string.
 */
export class DistinctSample {
  private hashes: number[] | undefined;
  readonly samples: string[] = [];
  more = false;
  constructor(private readonly cap: number, private readonly sampleCount: number) {}

  add(v: string): void {
    const h = hash32(v) & 0x3fffffff; // 30 bits: a small integer V8 keeps unboxed in the array
    const hs = (this.hashes ??= []);
    if (hs.includes(h)) return;
    if (hs.length >= this.cap) {
      this.more = true;
      return;
    }
    hs.push(h);
    if (this.samples.length < this.sampleCount) this.samples.push(detach(v));
  }

  get distinct(): number { return this.hashes?.length ?? 0; }
}
