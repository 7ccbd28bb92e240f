/**
 * @module state/memory
 * A StateStore in this process's memory: for tests and for `mxguard check`. Same semantics as
 * the SQLite and Redis backends, nothing shared, nothing kept across restarts.
 */
import type { StateStore, StoredValue } from './types.js';

export class MemoryStore implements StateStore {
  private readonly data = new Map<string, { value: string; expiresAt?: number }>();
  private readonly windows = new Map<string, { at: number; weight: number }[]>();

  constructor(private readonly now: () => number = Date.now) {}

  private live(key: string): { value: string; expiresAt?: number } | undefined {
    const v = this.data.get(key);
    if (v && v.expiresAt !== undefined && v.expiresAt <= this.now()) { this.data.delete(key); return undefined; }
    return v;
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const v = this.live(key);
    return v ? { ...v } : undefined;
  }
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.data.set(key, { value, ...(ttlMs !== undefined ? { expiresAt: this.now() + ttlMs } : {}) });
  }
  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }
  async delete(key: string): Promise<boolean> {
    const had = !!this.live(key);
    this.data.delete(key);
    this.windows.delete(key);
    return had;
  }
  async increment(key: string, by: number, ttlMs?: number): Promise<number> {
    const v = this.live(key);
    const n = (v ? Number(v.value) || 0 : 0) + by;
    this.data.set(key, { value: String(n), ...(v ? (v.expiresAt !== undefined ? { expiresAt: v.expiresAt } : {}) : ttlMs !== undefined ? { expiresAt: this.now() + ttlMs } : {}) });
    return n;
  }
  async slidingWindow(key: string, nowMs: number, windowMs: number, weight: number): Promise<number> {
    const events = (this.windows.get(key) ?? []).filter((e) => e.at > nowMs - windowMs);
    if (weight) events.push({ at: nowMs, weight });
    this.windows.set(key, events);
    return events.reduce((s, e) => s + e.weight, 0);
  }
  async scan(prefix: string): Promise<{ key: string; value: StoredValue }[]> {
    const out: { key: string; value: StoredValue }[] = [];
    for (const key of this.data.keys()) {
      if (!key.startsWith(prefix)) continue;
      const v = this.live(key);
      if (v) out.push({ key, value: { ...v } });
    }
    return out;
  }
  async close(): Promise<void> { /* nothing to release */ }
}
