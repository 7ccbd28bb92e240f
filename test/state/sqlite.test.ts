/** SqliteStore: the StateStore contract on a temp file, reopening, purge, and failures. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/state/sqlite.js';
import { StoreUnavailableError } from '../../src/state/types.js';
import { storeContract, unavailableWithin } from './contract.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mxguard-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('SqliteStore meets the StateStore contract', async (t) => {
  const store = new SqliteStore(join(tempDir(t), 'state.sqlite'));
  t.after(() => store.close());
  await storeContract(t, store);
});

test('SqliteStore: the file survives a reopen, in WAL mode, in a directory it creates', async (t) => {
  const path = join(tempDir(t), 'sub', 'dir', 'state.sqlite');
  const a = new SqliteStore(path);
  await a.set('ban:192.0.2.1', 'pregreet', 60_000);
  await a.set('keep', 'forever');
  assert.equal(await a.increment('rate:x', 3, 60_000), 3);
  assert.equal(await a.slidingWindow('win', 1000, 10_000, 2), 2);
  await a.close();
  await assert.rejects(a.get('keep'), StoreUnavailableError, 'a closed store refuses calls');
  assert.ok(existsSync(path));

  const b = new SqliteStore(path);
  t.after(() => b.close());
  assert.equal((await b.get('ban:192.0.2.1'))?.value, 'pregreet');
  assert.deepEqual(await b.get('keep'), { value: 'forever' });
  assert.equal(await b.increment('rate:x', 1, 60_000), 4);
  assert.equal(await b.slidingWindow('win', 2000, 10_000, 0), 2);
  const raw = new Database(path, { readonly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
});

test('SqliteStore: two instances on one file (two processes) agree, and races have one winner', async (t) => {
  const path = join(tempDir(t), 'state.sqlite');
  const a = new SqliteStore(path);
  const b = new SqliteStore(path);
  t.after(() => Promise.all([a.close(), b.close()]));
  const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).setIfAbsent('grey:t', String(i), 60_000)));
  assert.equal(wins.filter(Boolean).length, 1);
  await a.increment('n', 1);
  await b.increment('n', 1);
  assert.equal((await a.get('n'))?.value, '2');
});

test('SqliteStore: purge deletes expired values and events no window needs', async (t) => {
  const path = join(tempDir(t), 'state.sqlite');
  let now = 1_000_000;
  const store = new SqliteStore(path, { now: () => now, purgeIntervalMs: 0 });
  t.after(() => store.close());
  await store.set('old', 'x', 10);
  await store.set('new', 'y', 10_000);
  await store.slidingWindow('w', now, 10, 1);
  now += 100;
  assert.equal(await store.get('old'), undefined, 'expired on read before any purge');
  store.purge();
  const raw = new Database(path, { readonly: true });
  t.after(() => raw.close());
  assert.deepEqual(raw.prepare('SELECT key FROM kv').pluck().all(), ['new']);
  assert.equal(raw.prepare('SELECT COUNT(*) FROM events').pluck().get(), 0);
});

test('SqliteStore: a file locked by another process gives StoreUnavailableError, then works again', async (t) => {
  const path = join(tempDir(t), 'state.sqlite');
  const store = new SqliteStore(path, { busyTimeoutMs: 50 });
  t.after(() => store.close());
  await store.set('k', 'v');
  const other = new Database(path);
  t.after(() => { if (other.open) other.close(); });
  other.exec('BEGIN EXCLUSIVE');
  // A plain set is written behind (at the end of the turn): its failure is reported by the next operation.
  await store.set('k', 'w');
  const e = await unavailableWithin(store.increment('n', 1), 5000);
  assert.match(e.message, /^sqlite:.*state\.sqlite: SQLITE_BUSY/);
  await unavailableWithin(store.increment('n', 1), 5000);
  other.exec('ROLLBACK');
  other.close();
  await store.set('k', 'w');
  assert.equal((await store.get('k'))?.value, 'w');
  await store.close();
  const again = new SqliteStore(path);
  t.after(() => again.close());
  assert.equal((await again.get('k'))?.value, 'w', 'the set reached the file');
});

test('SqliteStore: a file that cannot be opened is StoreUnavailableError, not a crash', (t) => {
  const dir = tempDir(t);
  const notDir = join(dir, 'file');
  new Database(notDir).close();
  assert.throws(() => new SqliteStore(join(notDir, 'state.sqlite')), StoreUnavailableError);
});
