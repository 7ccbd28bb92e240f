/**
 * @module dns/cache
 * A bounded LRU of lookup results with expiry times. A Map keeps insertion order: a hit moves
 * its entry to the end, and the first entry is the least recently used.
 */
import type { DnsResult } from './types.js';

interface Entry { readonly result: DnsResult; readonly stored: number; readonly expires: number }

export class DnsCache {
  private readonly map = new Map<string, Entry>();

  constructor(private readonly capacity: number, private readonly now: () => number) {}

  get size(): number { return this.map.size; }

  /** get - the result if still fresh, with record TTLs lowered by the time spent in the cache. */
  get(key: string): DnsResult | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (now >= e.expires) { this.map.delete(key); return undefined; }
    this.map.delete(key);
    this.map.set(key, e);
    if (e.result.kind !== 'answer') return e.result;
    const aged = Math.floor((now - e.stored) / 1000);
    if (aged === 0) return e.result;
    return { kind: 'answer', records: e.result.records.map((r) => ({ ...r, ttl: Math.max(0, r.ttl - aged) })) };
  }

  /** set - keeps `result` for `ttlSeconds` (nothing is kept for 0 or a disabled cache). */
  set(key: string, result: DnsResult, ttlSeconds: number): void {
    if (this.capacity <= 0 || !(ttlSeconds > 0)) return;
    const now = this.now();
    this.map.delete(key);
    this.map.set(key, { result, stored: now, expires: now + ttlSeconds * 1000 });
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  clear(): void { this.map.clear(); }
}
