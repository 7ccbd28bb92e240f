/** storeFor (choosing and sharing the store) and guarded (the declared failure mode). */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/types.js';
import type { Logger } from '../../src/log/logger.js';
import {
  closeStores, guarded, MemoryStore, RedisStore, SqliteStore, storeFailure, storeFailureMode, storeFailures,
  storeFor, storeTimeoutMs, StoreUnavailableError, type StateStore,
} from '../../src/state/index.js';
import { freePort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis.js';

function config(settings: Record<string, string>): Config {
  return new Config(
    new Map(Object.entries(settings).map(([k, v]) => [k, { value: v, file: 'main.cf', line: 1 }])),
    new Map([['myhostname', 'mx.example.test'], ['mydomain', 'example.test'], ['mynetworks', '127.0.0.1/32'], ['config_directory', '']]),
  );
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, line: (program, text) => { lines.push(`${program}: ${text}`); }, reopen() {}, close() {} };
}

/** A store whose every call fails as if Redis were down. */
class DownStore extends MemoryStore {
  override async get(): Promise<never> { throw new StoreUnavailableError('redis://127.0.0.1:1/0', 'not connected (reconnecting)'); }
}

test('storeFor: the default is SQLite under $mxguard_state_directory, one shared instance', async (t) => {
  t.after(closeStores);
  const dir = tempDir(t);
  const cfg = config({ mxguard_state_directory: dir });
  const a = storeFor(cfg);
  assert.ok(a instanceof SqliteStore);
  assert.equal(a.path, join(dir, 'state.sqlite'));
  assert.ok(existsSync(join(dir, 'state.sqlite')));
  assert.equal(storeFor(config({ mxguard_state_directory: dir })), a, 'same setting, same instance');
  await a.set('k', 'v');
  assert.equal(storeTimeoutMs(cfg), 500);
  assert.equal(storeFailureMode(cfg), 'open');
});

test('storeFor: memory:, sqlite:PATH, redis://; an unknown form is a ConfigError', async (t) => {
  t.after(closeStores);
  const dir = tempDir(t);
  assert.ok(storeFor(config({ mxguard_state_store: 'memory:' })) instanceof MemoryStore);
  const s = storeFor(config({ mxguard_state_store: `sqlite:${dir}/x.db` }));
  assert.ok(s instanceof SqliteStore && s.path === `${dir}/x.db`);
  const port = await freePort();
  const r = storeFor(config({ mxguard_state_store: `redis://127.0.0.1:${port}/1`, mxguard_state_store_timeout: '0.2s' }));
  assert.ok(r instanceof RedisStore);
  assert.throws(() => storeFor(config({ mxguard_state_store: 'mysql://x' })), ConfigError);
  assert.throws(() => storeFor(config({ mxguard_state_store: 'sqlite:' })), ConfigError);
  assert.throws(() => storeFailureMode(config({ mxguard_state_store_failure: 'maybe' })), ConfigError);
  assert.equal(storeTimeoutMs(config({ mxguard_state_store_timeout: '2' })), 2000);
});

test('guarded: open answers the fallback, tempfail says so; counted; logged once a minute', async () => {
  const down: StateStore = new DownStore();
  const log = memoryLogger();
  const before = storeFailures();
  const open = guarded(down, config({}), log, 'smtpd');
  assert.equal(open.mode, 'open');
  const r1 = await open.attempt((s) => s.get('grey:x'), undefined);
  assert.equal(r1.kind, 'open');
  const r2 = await open.attempt(async (s) => (await s.get('ban:x')) !== undefined, false);
  assert.deepEqual(r2.kind === 'open' && r2.value, false);
  const tf = guarded(down, config({ mxguard_state_store_failure: 'tempfail' }), log, 'smtpd');
  const r3 = await tf.attempt((s) => s.get('grey:x'), undefined);
  assert.equal(r3.kind, 'tempfail');
  assert.ok(r3.kind === 'tempfail' && r3.error instanceof StoreUnavailableError);
  assert.equal(storeFailures() - before, 3);
  // All three within a minute of the first failure of this backend: at most one line
  // (an earlier test in this process may already have logged one for it).
  assert.ok(log.lines.length <= 1, JSON.stringify(log.lines));

  const ok = await guarded(new MemoryStore(), config({}), log).attempt(async (s) => { await s.set('a', 'b'); return 7; }, 0);
  assert.deepEqual(ok, { kind: 'ok', value: 7 });
  await assert.rejects(guarded(new MemoryStore(), config({}), log).attempt(async () => { throw new TypeError('bug'); }, 0), TypeError,
    'a bug is not a store failure');
});

test('storeFailure: the warning line, at most once a minute per store', () => {
  const log = memoryLogger();
  const e = new StoreUnavailableError('redis://127.0.0.1:6399/0', 'no answer after 500 ms');
  const t0 = 10_000_000_000;   // far from the real clock: this backend has no earlier line
  storeFailure(e, 'open', log, 'smtpd', t0);
  storeFailure(e, 'open', log, 'smtpd', t0 + 59_000);
  storeFailure(e, 'tempfail', log, 'smtpd', t0 + 60_000);
  assert.deepEqual(log.lines, [
    'smtpd: warning: state store redis://127.0.0.1:6399/0: unavailable (no answer after 500 ms); failing open',
    'smtpd: warning: state store redis://127.0.0.1:6399/0: unavailable (no answer after 500 ms); answering with a temporary failure',
  ]);
});

test('guarded + storeFor over a real Redis that goes away: fail open, then recover', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  t.after(closeStores);
  const log = memoryLogger();
  const cfg = config({ mxguard_state_store: redis.url });
  const store = storeFor(cfg, log, 'smtpd');
  const g = guarded(store, cfg, log, 'smtpd');
  assert.deepEqual(await g.attempt((s) => s.setIfAbsent('grey:t', '1', 60_000), false), { kind: 'ok', value: true });
  await redis.stop();
  const before = storeFailures();
  const r = await g.attempt((s) => s.setIfAbsent('grey:t', '1', 60_000), true);
  assert.equal(r.kind, 'open');
  assert.equal(storeFailures() - before, 1);
  assert.ok(log.lines.some((l) => l.startsWith(`smtpd: warning: state store ${redis.url}: connection lost`)), JSON.stringify(log.lines));
  assert.ok(log.lines.some((l) => l.startsWith(`smtpd: warning: state store ${redis.url}: unavailable (`) && l.endsWith('; failing open')), JSON.stringify(log.lines));
  await redis.start();
  const until = Date.now() + 10_000;
  let back = await g.attempt((s) => s.get('grey:t'), undefined);
  while (back.kind !== 'ok' && Date.now() < until) {
    await new Promise((res) => setTimeout(res, 100));
    back = await g.attempt((s) => s.get('grey:t'), undefined);
  }
  assert.equal(back.kind, 'ok');
});
