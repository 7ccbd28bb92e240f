/**
 * @module state/redis
 * The shared StateStore: Redis through ioredis, so that several mxguard hosts pointed at one
 * Redis (`mxguard_state_store = redis://HOST:PORT/DB`) share greylist, rate and ban state.
 *
 * Keys: a value or counter `K` lives at `mxguard:k:K` (a string with PX expiry); a sliding
 * window `K` at `mxguard:w:K` (a sorted set scored by event time, member `at:weight:random`, so
 * equal events stay distinct). The two namespaces are separate, as in MemoryStore.
 *
 * Atomicity: SET NX PX for setIfAbsent; Lua scripts (EVALSHA, EVAL on NOSCRIPT) for get with
 * its remaining TTL, increment (INCRBYFLOAT, then PEXPIRE only when the call created the key:
 * a fixed window starting at the first event) and the sliding window (ZREMRANGEBYSCORE, ZADD,
 * then the weights summed inside the script). Each script is one atomic step in Redis.
 *
 * Failure: no call waits longer than `timeoutMs` ($mxguard_state_store_timeout). The offline
 * queue is off and requests are not retried, so while Redis is down every call fails at once
 * with StoreUnavailableError; a call made while the first connection is being set up waits for
 * it, within the same limit. The client reconnects in the background (back-off up to 2 s).
 * Connection changes (lost, restored) are logged once each, never per call.
 * XXX: `expiresAt` is computed from PTTL and this host's clock; hosts with skewed clocks see
 * slightly different expiry times (the expiry itself is Redis's and is exact).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { StoreUnavailableError, type StateStore, type StoredValue } from './types.js';

export interface RedisStoreOptions {
  /** Per-call limit in ms (default 500). */
  readonly timeoutMs?: number;
  /** Limit of one connection attempt in ms (default 1000). */
  readonly connectTimeoutMs?: number;
  /** Key prefix (default `mxguard:`); tests use their own to stay apart. */
  readonly prefix?: string;
  /** Where connection changes are reported (one text per change, e.g. `warning: …`). */
  readonly log?: (text: string) => void;
}

class Script {
  readonly sha: string;
  constructor(readonly text: string) { this.sha = createHash('sha1').update(text).digest('hex'); }
}

// get: the value and its remaining time to live in ms (-1: none).
const GET = new Script(`
local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {v, redis.call('PTTL', KEYS[1])}
`);

// increment: ARGV = by, ttl ms (empty: none). The expiry is set only when this call creates the key.
const INCR = new Script(`
local existed = redis.call('EXISTS', KEYS[1])
local n = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
`);

// sliding window: ARGV = now ms, window ms, weight, member. Returns the total as a string
// (a Lua number returned to Redis would be truncated to an integer).
const WINDOW = new Script(`
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
if tonumber(ARGV[3]) ~= 0 then redis.call('ZADD', KEYS[1], now, ARGV[4]) end
local total = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local w = string.match(m, '^[^:]*:([^:]*):')
  total = total + (tonumber(w) or 0)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < win + 1000 then redis.call('PEXPIRE', KEYS[1], win + 1000) end
end
return tostring(total)
`);

type ConnState = 'unknown' | 'up' | 'down';

/** The configured URL without a password, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, '$1');
}

export class RedisStore implements StateStore {
  readonly name: string;
  private readonly client: Redis;
  private readonly timeoutMs: number;
  private readonly prefix: string;
  private readonly log: (text: string) => void;
  private conn: ConnState = 'unknown';
  private closed = false;

  constructor(url: string, opts: RedisStoreOptions = {}) {
    this.name = redactUrl(url);
    this.timeoutMs = opts.timeoutMs ?? 500;
    this.prefix = opts.prefix ?? 'mxguard:';
    this.log = opts.log ?? (() => undefined);
    this.client = new Redis(url, {
      lazyConnect: true,                 // listeners first, then connect() below
      connectTimeout: opts.connectTimeoutMs ?? 1000,
      maxRetriesPerRequest: 0,           // a request fails with its connection, never replays
      enableOfflineQueue: false,         // while down, calls fail at once instead of queueing
      retryStrategy: (times) => Math.min(100 * times, 2000),  // reconnect forever, in the background
      reconnectOnError: () => false,
    });
    this.client.on('ready', () => this.changed('up'));
    this.client.on('error', (e: Error) => this.changed('down', e.message));
    this.client.on('close', () => this.changed('down', 'connection closed'));
    this.client.connect().catch(() => { /* reported by the 'error' event; retried */ });
  }

  /** changed - logs a connection change once (not per failed call or per retry). */
  private changed(to: ConnState, why?: string): void {
    if (this.closed || to === this.conn) return;
    const was = this.conn;
    this.conn = to;
    if (to === 'up') this.log(`state store ${this.name}: connected${was === 'down' ? ' again' : ''}`);
    else this.log(`warning: state store ${this.name}: ${was === 'up' ? 'connection lost' : 'cannot connect'} (${why ?? 'unknown error'})`);
  }

  private unavailable(msg: string, cause?: unknown): StoreUnavailableError {
    return new StoreUnavailableError(this.name, msg, cause === undefined ? undefined : { cause });
  }

  /**
   * call - runs one request within the time limit. While the first connection is being made the
   * request waits for it (within the limit); when the connection is down it fails at once.
   */
  private async call<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw this.unavailable('store closed');
    const deadline = Date.now() + this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = (what: string) => new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.unavailable(`${what} after ${this.timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
      timer.unref();
    });
    try {
      const s = this.client.status;
      if (s === 'wait' || s === 'connecting' || s === 'connect') {
        if (this.conn === 'down') throw this.unavailable('not connected');
        await Promise.race([this.ready(), timeout('no connection')]);
        clearTimeout(timer);
      } else if (s !== 'ready') {
        throw this.unavailable(`not connected (${s})`);
      }
      return await Promise.race([fn(this.client), timeout('no answer')]);
    } catch (e) {
      if (e instanceof StoreUnavailableError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      // The socket can fail a request before ioredis reports the closed connection: say so now.
      if (!(e instanceof Error && e.name === 'ReplyError')) this.changed('down', msg);
      throw this.unavailable(msg, e);
    } finally {
      clearTimeout(timer);
    }
  }

  private ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ok = () => { this.client.off('error', bad); resolve(); };
      const bad = (e: Error) => { this.client.off('ready', ok); reject(this.unavailable(e.message, e)); };
      this.client.once('ready', ok);
      this.client.once('error', bad);
    });
  }

  private async run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      return await this.client.eval(script.text, keys.length, ...keys, ...args);
    }
  }

  private k(key: string): string { return `${this.prefix}k:${key}`; }
  private w(key: string): string { return `${this.prefix}w:${key}`; }

  get(key: string): Promise<StoredValue | undefined> {
    return this.call(async () => {
      const r = await this.run(GET, [this.k(key)], []) as [string, number] | null;
      return r ? stored(r[0], r[1]) : undefined;
    });
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.call(async (c) => {
      if (ttlMs === undefined) await c.set(this.k(key), value);
      else await c.set(this.k(key), value, 'PX', ms(ttlMs));
    });
  }

  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.call(async (c) => {
      const r = ttlMs === undefined ? await c.set(this.k(key), value, 'NX') : await c.set(this.k(key), value, 'PX', ms(ttlMs), 'NX');
      return r === 'OK';
    });
  }

  delete(key: string): Promise<boolean> {
    return this.call(async (c) => {
      const r = await c.multi().del(this.k(key)).del(this.w(key)).exec();
      if (!r) throw new Error('transaction aborted');
      for (const [err] of r) if (err) throw err;
      return r[0]![1] === 1;
    });
  }

  increment(key: string, by: number, ttlMs?: number): Promise<number> {
    return this.call(async () => Number(await this.run(INCR, [this.k(key)], [String(by), ttlMs === undefined ? '' : ms(ttlMs)])));
  }

  slidingWindow(key: string, nowMs: number, windowMs: number, weight: number): Promise<number> {
    const member = `${nowMs}:${weight}:${randomBytes(6).toString('hex')}`;
    return this.call(async () => Number(await this.run(WINDOW, [this.w(key)], [nowMs, windowMs, weight, member])));
  }

  scan(prefix: string): Promise<{ key: string; value: StoredValue }[]> {
    // Each round trip has its own time limit; a huge keyspace makes a long, but never stuck, scan.
    const pattern = this.k(prefix).replace(/[*?[\]\\]/g, '\\$&') + '*';
    const strip = this.k('').length;
    return (async () => {
      const out: { key: string; value: StoredValue }[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await this.call((c) => c.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        if (keys.length === 0) continue;
        const rows = await this.call(async (c) => {
          const p = c.pipeline();
          for (const k of keys) p.evalsha(GET.sha, 1, k);
          const r = await p.exec();
          if (r?.some(([e]) => e?.message.startsWith('NOSCRIPT'))) {
            await c.script('LOAD', GET.text);
            return await keys.reduce((acc, k) => acc.evalsha(GET.sha, 1, k), c.pipeline()).exec();
          }
          return r;
        });
        keys.forEach((k, i) => {
          const [err, v] = rows?.[i] ?? [new Error('no reply')];
          if (err) throw this.unavailable(err.message, err);
          if (v) { const [val, ttl] = v as [string, number]; out.push({ key: k.slice(strip), value: stored(val, ttl) }); }
        });
      } while (cursor !== '0');
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.disconnect(false);
  }
}

function ms(ttlMs: number): number { return Math.max(1, Math.ceil(ttlMs)); }

function stored(value: string, pttl: number): StoredValue {
  return pttl >= 0 ? { value, expiresAt: Date.now() + pttl } : { value };
}
