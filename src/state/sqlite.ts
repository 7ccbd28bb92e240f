/**
 * @module state/sqlite
 * The embedded StateStore: one SQLite file (default `$mxguard_state_directory/state.sqlite`)
 * through better-sqlite3, in WAL mode so that readers never wait for the writer.
 *
 * Schema: `kv(key, value, expires_at)` for values and counters (expires_at in ms since the
 * epoch, NULL: never) and `events(key, at, weight, until)` for sliding windows (`until` = `at`
 * plus the window the event was recorded with, so the purge knows when an event is useless).
 * The two namespaces are separate, as in MemoryStore; `delete(key)` clears both.
 *
 * Expiry: every read ignores expired rows; a purge on an unref'd timer (every
 * `purgeIntervalMs`, default 60 s) deletes them. Read-modify-write operations (increment,
 * slidingWindow) run in IMMEDIATE transactions, so several processes on one file stay correct.
 *
 * Failure: better-sqlite3 is synchronous and each call is a short local operation; a call may
 * still throw (disk full, file locked by another process for longer than `busyTimeoutMs`,
 * corruption). Every such error becomes a StoreUnavailableError; nothing here crashes mxguard.
 * XXX: a lock wait blocks the event loop for up to `busyTimeoutMs` (the SQLite busy handler is
 * synchronous); keep it short.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError, type StateStore, type StoredValue } from './types.js';

export interface SqliteStoreOptions {
  /** How long a call waits for another process's write lock (default 500 ms). */
  readonly busyTimeoutMs?: number;
  /** Period of the expired-row purge (default 60 s); 0: no timer. */
  readonly purgeIntervalMs?: number;
  readonly now?: () => number;
}

interface KvRow { value: string; expires_at: number | null }

export class SqliteStore implements StateStore {
  readonly name: string;
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly st: ReturnType<SqliteStore['prepare']>;

  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    this.name = `sqlite:${path}`;
    this.now = opts.now ?? Date.now;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 500 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');   // WAL + NORMAL: durable across a process crash
      // Checkpoints (which fsync the database file) every ~40 MB of log instead of every 4 MB,
      // and on the purge timer: a checkpoint inside a burst of requests is their p99.
      this.db.pragma('wal_autocheckpoint = 10000');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires_at) WHERE expires_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, at INTEGER NOT NULL, weight REAL NOT NULL, until INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS events_key_at ON events (key, at);
        CREATE INDEX IF NOT EXISTS events_until ON events (until);
      `);
      this.st = this.prepare();
    } catch (e) {
      throw this.unavailable(e);
    }
    const every = opts.purgeIntervalMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => { try { this.purge(); } catch { /* next round */ } }, every);
      this.timer.unref();
    }
  }

  private prepare() {
    const db = this.db;
    const live = '(expires_at IS NULL OR expires_at > @now)';
    return {
      get: db.prepare<{ key: string; now: number }, KvRow>(`SELECT value, expires_at FROM kv WHERE key = @key AND ${live}`),
      set: db.prepare(`INSERT INTO kv (key, value, expires_at) VALUES (@key, @value, @exp)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`),
      // One statement: inserts, or replaces only an expired row; changes = 1 when it set the key.
      setIfAbsent: db.prepare(`INSERT INTO kv (key, value, expires_at) VALUES (@key, @value, @exp)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
        WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= @now`),
      delete: db.prepare<{ key: string }, { expires_at: number | null }>('DELETE FROM kv WHERE key = @key RETURNING expires_at'),
      deleteEvents: db.prepare('DELETE FROM events WHERE key = @key'),
      forget: db.prepare('DELETE FROM events WHERE key = @key AND at <= @oldest'),
      record: db.prepare('INSERT INTO events (key, at, weight, until) VALUES (@key, @at, @weight, @until)'),
      total: db.prepare<{ key: string; oldest: number }, { total: number }>('SELECT COALESCE(SUM(weight), 0) AS total FROM events WHERE key = @key AND at > @oldest'),
      // Prefix match by range (keys are compared as text, BINARY collation): uses the primary key.
      scan: db.prepare<{ lo: string; hi: string; now: number }, KvRow & { key: string }>(`SELECT key, value, expires_at FROM kv WHERE key >= @lo AND key < @hi AND ${live} ORDER BY key`),
      scanAll: db.prepare<{ now: number }, KvRow & { key: string }>(`SELECT key, value, expires_at FROM kv WHERE ${live} ORDER BY key`),
      purgeKv: db.prepare('DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= @now'),
      purgeEvents: db.prepare('DELETE FROM events WHERE until <= @now'),
    };
  }

  /** purge - deletes expired values and events that no window can count any more. */
  purge(): void {
    if (this.closed) return;
    const now = this.now();
    this.st.purgeKv.run({ now });
    this.st.purgeEvents.run({ now });
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  private unavailable(e: unknown): StoreUnavailableError {
    if (e instanceof StoreUnavailableError) return e;
    const code = (e as { code?: string }).code;
    const msg = e instanceof Error ? e.message : String(e);
    return new StoreUnavailableError(this.name, code ? `${code}: ${msg}` : msg, { cause: e });
  }

  /**
   * Plain `set`s wait here and are written together, in one transaction, at the end of the
   * event-loop turn: one commit for a burst of greylisting triplets instead of one each (a commit
   * costs more than the statement). Reads see them at once (get() looks here first); any other
   * operation writes them first, so it sees them too. A failure of that write is reported by the
   * next operation, and a crash loses at most one turn's writes, as with any write-behind cache.
   */
  private pending = new Map<string, { key: string; value: string; exp: number | null }>();
  private flushScheduled = false;
  private flushError: unknown;
  private readonly setMany = (rows: { key: string; value: string; exp: number | null }[]): void => {
    for (const r of rows) this.st.set.run(r);
  };

  /** Writes the pending sets now (before any other statement, and from the scheduled turn). */
  private flushPending(): void {
    this.flushScheduled = false;
    if (!this.pending.size || this.closed) return;
    const rows = [...this.pending.values()];
    this.pending = new Map();
    try { this.db.transaction(this.setMany).immediate(rows); } catch (e) { this.flushError = e; }
  }

  /** call - runs one synchronous operation, mapping every failure to StoreUnavailableError. */
  private call<T>(fn: () => T, flush = true): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(this.name, 'store closed'));
    try {
      // A read of another key needs no flush: pending keys are answered from memory.
      if (flush) this.flushPending();
      if (this.flushError !== undefined) { const e = this.flushError; this.flushError = undefined; throw e; }
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(this.unavailable(e));
    }
  }

  private expiry(ttlMs: number | undefined): number | null {
    return ttlMs === undefined ? null : this.now() + ttlMs;
  }

  get(key: string): Promise<StoredValue | undefined> {
    const p = this.pending.get(key);
    if (p && !this.closed) {
      if (p.exp !== null && p.exp <= this.now()) return Promise.resolve(undefined);
      return Promise.resolve(p.exp === null ? { value: p.value } : { value: p.value, expiresAt: p.exp });
    }
    return this.call(() => {
      const r = this.st.get.get({ key, now: this.now() });
      return r ? toStored(r) : undefined;
    }, false);
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (this.closed) return Promise.reject(new StoreUnavailableError(this.name, 'store closed'));
    this.pending.set(key, { key, value, exp: this.expiry(ttlMs) });
    if (!this.flushScheduled) { this.flushScheduled = true; setImmediate(() => this.flushPending()); }
    return Promise.resolve();
  }

  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.call(() => this.st.setIfAbsent.run({ key, value, exp: this.expiry(ttlMs), now: this.now() }).changes === 1);
  }

  private readonly deleteTx = (key: string): boolean => {
    const r = this.st.delete.get({ key });
    this.st.deleteEvents.run({ key });
    return !!r && (r.expires_at === null || r.expires_at > this.now());
  };

  delete(key: string): Promise<boolean> {
    return this.call(() => this.db.transaction(this.deleteTx).immediate(key));
  }

  private readonly incrementTx = (key: string, by: number, ttlMs: number | undefined): number => {
    const now = this.now();
    const r = this.st.get.get({ key, now });
    const n = (r ? Number(r.value) || 0 : 0) + by;
    // The expiry is set when the counter is created (a fixed window) and kept afterwards.
    const exp = r ? r.expires_at : ttlMs === undefined ? null : now + ttlMs;
    this.st.set.run({ key, value: String(n), exp });
    return n;
  };

  increment(key: string, by: number, ttlMs?: number): Promise<number> {
    return this.call(() => this.db.transaction(this.incrementTx).immediate(key, by, ttlMs));
  }

  private readonly windowTx = (key: string, nowMs: number, windowMs: number, weight: number): number => {
    const oldest = nowMs - windowMs;
    this.st.forget.run({ key, oldest });
    if (weight) this.st.record.run({ key, at: nowMs, weight, until: nowMs + windowMs });
    return this.st.total.get({ key, oldest })!.total;
  };

  slidingWindow(key: string, nowMs: number, windowMs: number, weight: number): Promise<number> {
    return this.call(() => this.db.transaction(this.windowTx).immediate(key, nowMs, windowMs, weight));
  }

  scan(prefix: string): Promise<{ key: string; value: StoredValue }[]> {
    return this.call(() => {
      const now = this.now();
      const rows = prefix === '' ? this.st.scanAll.all({ now }) : this.st.scan.all({ lo: prefix, hi: prefix + '\u{10FFFF}', now });
      return rows.filter((r) => r.key.startsWith(prefix)).map((r) => ({ key: r.key, value: toStored(r) }));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flushPending();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try { this.db.close(); } catch { /* already gone */ }
  }
}

function toStored(r: KvRow): StoredValue {
  return r.expires_at === null ? { value: r.value } : { value: r.value, expiresAt: r.expires_at };
}
