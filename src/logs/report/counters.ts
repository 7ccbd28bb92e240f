/**
 * @module logs/report/counters
 * Bounded counting structures for `mxguard logs report`: memory must not follow the size of the
 * log, whatever is in it (a spam run can bring millions of distinct client addresses).
 *
 * - `Tally`: counts (and other numbers) per key, at most `cap` keys and, with the other tables of
 *   a report, within one `Budget` of entries. Over either, it keeps the half with the highest
 *   counts (ties: the first seen) and from then on gives a new key a place only when it comes a
 *   second time (a `Doorkeeper`). Totals stay exact; the lists are exact until the first pruning,
 *   approximate afterwards (a dropped key that comes back starts again from zero). From the first
 *   pruning on, the number of distinct keys is estimated with a HyperLogLog sketch (about 2% error)
 *   fed with every key; before, it is exact.
 * - `Detail`: pflogsumm's detail tables (group → reason → key, or group → reason), with an entry
 *   cap and the shared budget; group and reason totals stay exact.
 * - `Bounded`: per-queue-id and per-session state with a cap; the oldest goes first.
 *
 * Strings kept as map keys are copied first (`detach`, logs/strings): a substring of a log line
 * would otherwise keep the whole read chunk it was cut from alive (V8 slices point at their parent).
 */
import { detach, hash32, hashRange } from '../strings.js';

/** Doorkeepers have 2^16 one-byte marks (64 KiB). */
const DOOR_SHIFT = 16;

/**
 * Doorkeeper - remembers (by hash) keys seen once: `pass` is false the first time a key comes, true
 * afterwards. Cleared when half its marks are set, so that it keeps telling new keys from old
 * (a full one would let everything pass).
 */
class Doorkeeper {
  private readonly marks = new Uint8Array(1 << (32 - DOOR_SHIFT));
  private set = 0;
  pass(key: string): boolean {
    const h = hashRange(key, 0, key.length) >>> DOOR_SHIFT;
    if (this.marks[h] !== 0) return true;
    if (++this.set > this.marks.length >> 1) {
      this.marks.fill(0);
      this.set = 1;
    }
    this.marks[h] = 1;
    return false;
  }
}

/** HyperLogLog with 2^12 registers (4 KiB): distinct counts with about 1.6% standard error. */
export class Distinct {
  private static readonly P = 12;
  private readonly reg = new Uint8Array(1 << Distinct.P);
  add(s: string): void {
    const h = hash32(s);
    const idx = h >>> (32 - Distinct.P);
    const rest = (h << Distinct.P) >>> 0;
    const rank = rest === 0 ? 32 - Distinct.P + 1 : Math.clz32(rest) + 1;
    if (rank > this.reg[idx]!) this.reg[idx] = rank;
  }
  estimate(): number {
    const m = this.reg.length;
    let sum = 0;
    let zeros = 0;
    for (const r of this.reg) {
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const e = (alpha * m * m) / sum;
    // Small range: linear counting is better.
    return Math.round(e <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : e);
  }
}

/** A table that can give up entries when the shared budget is spent. */
interface Prunable {
  readonly size: number;
  shrink(): void;
}

/**
 * Budget - one number of entries for all the tables of a report: memory follows the sum, whatever
 * the mix of a log. While the sum is under the cap, every table is exact; past it, the largest
 * table gives up half its entries (its lowest counts), and only that table becomes approximate.
 */
export class Budget {
  used = 0;
  private readonly tables: Prunable[] = [];
  constructor(readonly cap: number) {}
  register(t: Prunable): void {
    this.tables.push(t);
  }
  /** charge - one entry more; over the cap, the largest table shrinks. */
  charge(): void {
    if (++this.used <= this.cap) return;
    let big = this.tables[0];
    for (const t of this.tables) if (big === undefined || t.size > big.size) big = t;
    big?.shrink();
  }
  release(n: number): void {
    this.used -= n;
  }
}

/** Counts and other numbers per key, bounded (see the module comment); `n` is the weight kept on pruning. */
export class Tally<E extends { n: number }> {
  readonly map = new Map<string, E>();
  private exact = 0;
  private sketch?: Distinct;
  /** Set at the first pruning (see entry()). */
  private door?: Doorkeeper;
  constructor(readonly cap: number, private readonly make: () => E, private readonly budget?: Budget) {
    budget?.register(this);
  }

  get size(): number {
    return this.map.size;
  }

  shrink(): void {
    this.prune();
  }

  /**
   * entry - the entry of `key`, created (with a copied key) when new. Once the table has been
   * pruned, a new key gets a place only the second time it comes (a doorkeeper of hashed counters
   * remembers the first): keys seen once — most of a spam run's — then cost nothing, and the table
   * stops churning. Before that, every key is kept (exact counts). A key turned away gets a fresh
   * entry that is not kept.
   */
  entry(key: string): E {
    let e = this.map.get(key);
    if (e === undefined) {
      if (this.door !== undefined && !this.door.pass(key)) return this.make();
      // Prune before inserting, so the new key (count 0) is not the one dropped.
      if (this.map.size >= this.cap) this.prune();
      this.budget?.charge();
      e = this.make();
      this.map.set(detach(key), e);
    }
    return e;
  }

  /** counted - call when a key's count goes from 0 to 1: it is one more distinct key. */
  counted(key: string): void {
    this.exact++;
    this.sketch?.add(key);
  }

  /** Keys counted: exact until the first pruning, estimated afterwards. */
  get distinct(): number {
    return this.sketch ? this.sketch.estimate() : this.exact;
  }

  get pruned(): boolean {
    return this.sketch !== undefined;
  }

  private prune(): void {
    if (!this.sketch) {
      // Every key counted so far is still in the map: seed the sketch with them.
      this.sketch = new Distinct();
      for (const [k, e] of this.map) if (e.n > 0) this.sketch.add(k);
      this.door = new Doorkeeper();
    }
    // Keep the `cap / 2` highest counts without sorting: find the count at the cut from a
    // histogram of counts, then delete in place (ties at the cut: the first seen stay).
    const keep = Math.min(this.cap, this.map.size) >> 1;
    const hist = new Map<number, number>();
    for (const e of this.map.values()) hist.set(e.n, (hist.get(e.n) ?? 0) + 1);
    let kept = 0;
    let cut = Number.NEGATIVE_INFINITY;
    for (const v of [...hist.keys()].sort((a, b) => b - a)) {
      const c = hist.get(v)!;
      if (kept + c > keep) {
        cut = v;
        break;
      }
      kept += c;
    }
    let ties = keep - kept;
    const before = this.map.size;
    for (const [k, e] of this.map) {
      if (e.n > cut) continue;
      if (e.n === cut && ties > 0) ties--;
      else this.map.delete(k);
    }
    this.budget?.release(before - this.map.size);
  }

  /** top - the entries by `by`, highest first; ties in the order first seen. */
  top(limit: number | undefined, by: keyof E & string): Array<[string, E]> {
    const out = sortRows([...this.map], (e) => e[by] as number);
    return limit === undefined || limit < 0 ? out : out.slice(0, limit);
  }
}

/**
 * sortRows - rows by `weight` descending, then by `then` descending; ties keep their order (the
 * order first seen in the logs: maps iterate in insertion order, and the sort is stable).
 */
export function sortRows<E>(rows: Array<[string, E]>, weight: (e: E) => number, then?: (e: E) => number): Array<[string, E]> {
  const n = rows.length;
  const w0 = new Float64Array(n);
  const w1 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const e = rows[i]![1];
    w0[i] = weight(e);
    if (then) w1[i] = then(e);
  }
  const order = sortOrder(w0, then ? w1 : undefined);
  const out = new Array<[string, E]>(n);
  for (let i = 0; i < n; i++) out[i] = rows[order[i]!]!;
  return out;
}

/**
 * sortOrder - the indexes of `w0` by weight descending, then by `w1` (if given) descending, ties
 * in index order.
 *
 * Speed (address tables have tens of thousands of rows, sorted twice each): when the weights are
 * whole numbers small enough, each index becomes one number, `-(w0 * span1 + w1) * 2^bits + index`,
 * exact in a double, and a Float64Array is sorted natively: about twice as fast as sorting the
 * indexes with a comparator, which remains for other weights.
 */
export function sortOrder(w0: Float64Array, w1?: Float64Array): Uint32Array {
  const n = w0.length;
  const order = new Uint32Array(n);
  let max0 = 0;
  let max1 = 0;
  let whole = true;
  for (let i = 0; i < n && whole; i++) {
    const a = w0[i]!;
    const b = w1 ? w1[i]! : 0;
    if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0)) whole = false;
    if (a > max0) max0 = a;
    if (b > max1) max1 = b;
  }
  const bits = n <= 1 ? 1 : 32 - Math.clz32(n - 1);
  const slot = 2 ** bits;
  const span1 = max1 + 1;
  // The largest key must stay below 2^53, where every whole number is exact.
  if (whole && (max0 * span1 + max1 + 1) * slot <= Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = -(w0[i]! * span1 + (w1 ? w1[i]! : 0)) * slot + i;
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = ((keys[i]! % slot) + slot) % slot;
    return order;
  }
  const idx = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const z = w1 ?? new Float64Array(n);
  idx.sort((a, b) => w0[b]! - w0[a]! || z[b]! - z[a]! || a - b);
  for (let i = 0; i < n; i++) order[i] = idx[i]!;
  return order;
}

/** Byte-order string comparison (Perl's `cmp`, not locale-aware). */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface ReasonRow {
  n: number;
  /**
   * Keys and counts. A reason's first key is kept in `first`/`firstN`; the map is made for its
   * second (many reasons have one key, and a map costs some 100 bytes even empty).
   */
  first: string | undefined;
  firstN: number;
  keys: Map<string, number> | undefined;
}

/** keysOf - a reason's keys and counts. */
export function keysOf(r: ReasonRow): Array<[string, number]> {
  if (r.keys) return [...r.keys];
  return r.first === undefined ? [] : [[r.first, r.firstN]];
}

function keyCount(r: ReasonRow): number {
  return r.keys ? r.keys.size : r.first === undefined ? 0 : 1;
}
interface GroupRow {
  n: number;
  reasons: Map<string, ReasonRow>;
}

/** group → reason → key counts, all under one entry budget (see the module comment). */
export class Detail {
  readonly groups = new Map<string, GroupRow>();
  /** Lines counted, exact. */
  total = 0;
  private entries = 0;
  /** Some keys or reasons were dropped to stay within the budget. */
  pruned = false;
  private lastGroupName = '';
  private lastGroup: GroupRow | undefined;
  private lastReasonName = '';
  private lastReason: ReasonRow | undefined;
  /** After the first pruning, a new reason or key is kept only when it comes a second time. */
  private door?: Doorkeeper;

  /** admit - may a new `name` take a place? (Always, until the table has been pruned.) */
  private admit(name: string): boolean {
    return this.door === undefined || this.door.pass(name);
  }
  /**
   * @param twoLevel group → reason counts only (pflogsumm's deferral, bounce, warning tables)
   * @param budget entries (groups + reasons + keys) kept at most
   */
  constructor(readonly twoLevel = false, private readonly budget = 20_000, private readonly shared?: Budget) {
    shared?.register(this);
  }

  get size(): number {
    return this.entries;
  }

  shrink(): void {
    this.prune();
  }

  /** entry - one entry more, charged to the shared budget too. */
  private added(): void {
    this.entries++;
    this.shared?.charge();
  }

  add(group: string, reason: string, key = ''): void {
    this.total++;
    // Lines of one group and reason often come in runs: the last ones are remembered.
    let g = this.lastGroup !== undefined && group === this.lastGroupName ? this.lastGroup : this.groups.get(group);
    if (g === undefined) {
      g = { n: 0, reasons: new Map() };
      this.groups.set(detach(group), g);
      this.added();
    }
    g.n++;
    let r = this.lastReason !== undefined && g === this.lastGroup && reason === this.lastReasonName ? this.lastReason : g.reasons.get(reason);
    if (r === undefined) {
      if (!this.admit(reason)) return;
      r = { n: 0, first: undefined, firstN: 0, keys: undefined };
      g.reasons.set(detach(reason), r);
      this.added();
    }
    r.n++;
    this.lastGroupName = group;
    this.lastGroup = g;
    this.lastReasonName = reason;
    this.lastReason = r;
    if (this.twoLevel) {
      if (this.entries > this.budget) this.prune();
      return;
    }
    if (r.keys === undefined) {
      if (r.first === undefined) {
        r.first = detach(key);
        r.firstN = 1;
        this.added();
        return;
      }
      if (r.first === key) {
        r.firstN++;
        return;
      }
      r.keys = new Map([[r.first, r.firstN]]);
      r.first = undefined;
    }
    const v = r.keys.get(key);
    if (v === undefined) {
      if (!this.admit(key)) return;
      r.keys.set(detach(key), 1);
      this.added();
      if (this.entries > this.budget) this.prune();
    } else {
      r.keys.set(key, v + 1);
    }
  }

  /** prune - halves every key list (keeping the highest counts); then, if still over, the reason lists. */
  private prune(): void {
    const before = this.entries;
    this.halveAll();
    this.shared?.release(before - this.entries);
  }

  private halveAll(): void {
    this.pruned = true;
    this.door ??= new Doorkeeper();
    this.lastGroup = undefined;
    this.lastReason = undefined;
    let entries = 0;
    for (const g of this.groups.values()) {
      for (const r of g.reasons.values()) {
        if (r.keys && r.keys.size > 1) r.keys = halve(r.keys, (v) => v);
        entries += keyCount(r) + 1;
      }
      entries++;
    }
    const target = Math.min(this.budget, this.entries) * 0.75;
    if (entries > target) {
      entries = 0;
      for (const g of this.groups.values()) {
        if (g.reasons.size > 1) g.reasons = halve(g.reasons, (r) => r.n);
        for (const r of g.reasons.values()) entries += keyCount(r) + 1;
        entries++;
      }
    }
    if (entries > target) {
      // Pathological: thousands of groups (bounces by relay host, say). Keep the largest.
      this.groups.size > 1 && this.halveGroups();
      entries = 0;
      for (const g of this.groups.values()) for (const r of g.reasons.values()) entries += keyCount(r) + 2;
    }
    this.entries = entries;
  }

  private halveGroups(): void {
    const kept = halve(this.groups, (g) => g.n);
    this.groups.clear();
    for (const [k, v] of kept) this.groups.set(k, v);
  }
}

/** halve - the upper half of a map by `weight`. */
function halve<V>(m: Map<string, V>, weight: (v: V) => number): Map<string, V> {
  const rows = [...m].sort((a, b) => weight(b[1]) - weight(a[1]));
  return new Map(rows.slice(0, Math.ceil(rows.length / 2)));
}

/**
 * Insertion-ordered map with a cap: when full, the oldest entry is dropped (and counted). For
 * per-queue-id and per-session state whose end line may be missing from the logs.
 */
export class Bounded<V, K extends string | number = string> {
  readonly map = new Map<K, V>();
  evicted = 0;
  constructor(readonly cap: number) {}
  get(k: K): V | undefined {
    return this.map.get(k);
  }
  set(k: K, v: V): void {
    if (this.map.has(k)) {
      this.map.set(k, v);
      return;
    }
    if (this.map.size >= this.cap) {
      const oldest = this.map.keys().next().value as K;
      this.map.delete(oldest);
      this.evicted++;
    }
    this.map.set(typeof k === 'string' ? (detach(k) as K) : k, v);
  }
  delete(k: K): boolean {
    return this.map.delete(k);
  }
}
