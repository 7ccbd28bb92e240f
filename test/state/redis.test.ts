/**
 * RedisStore against a real redis-server on loopback (test/helpers/redis.ts): the StateStore
 * contract, two mxguard instances sharing state, and outages: Redis killed, frozen, or never
 * there. A call must then fail with StoreUnavailableError in bounded time, never hang, and the
 * store must recover by itself when Redis is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis.js';
import { RedisStore } from '../../src/state/redis.js';
import { storeContract, unavailableWithin } from './contract.js';

/** Polls `fn` until it resolves, at most `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('RedisStore meets the StateStore contract', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const store = new RedisStore(redis.url);
  t.after(() => store.close());
  await storeContract(t, store);
});

test('RedisStore: two instances on one Redis share state; keys are under mxguard:', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const a = new RedisStore(redis.url);
  const b = new RedisStore(redis.url);
  t.after(() => Promise.all([a.close(), b.close()]));
  await a.set('ban:192.0.2.7', 'rate', 60_000);
  assert.equal((await b.get('ban:192.0.2.7'))?.value, 'rate');
  const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).setIfAbsent('grey:triplet', `host${i % 2}`, 60_000)));
  assert.equal(wins.filter(Boolean).length, 1, 'one host wins the race');
  const counts = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).increment('rate:client', 1, 60_000)));
  assert.equal(Math.max(...counts), 30);
  assert.equal(await a.slidingWindow('rate:w', 1000, 60_000, 1), 1);
  assert.equal(await b.slidingWindow('rate:w', 1001, 60_000, 1), 2);
  assert.equal(await b.delete('ban:192.0.2.7'), true);
  assert.equal(await a.get('ban:192.0.2.7'), undefined);
  assert.deepEqual((await b.scan('grey:')).map((r) => r.key), ['grey:triplet']);

  // Another prefix is another namespace on the same server.
  const other = new RedisStore(redis.url, { prefix: 'other:' });
  t.after(() => other.close());
  assert.equal(await other.get('grey:triplet'), undefined);
});

test('RedisStore: Redis killed mid-run fails fast, logs once, and recovers after a restart', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const logs: string[] = [];
  const store = new RedisStore(redis.url, { timeoutMs: 500, log: (l) => logs.push(l) });
  t.after(() => store.close());
  await store.set('grey:before', 'x');
  assert.deepEqual(logs, [`state store ${redis.url}: connected`]);

  await redis.stop();
  for (let i = 0; i < 5; i++) {
    await unavailableWithin(store.get('grey:before'), 3000);
    await unavailableWithin(store.increment('rate:c', 1, 1000), 3000);
    await unavailableWithin(store.slidingWindow('w', Date.now(), 1000, 1), 3000);
  }
  const e = await unavailableWithin(store.scan('grey:'), 3000);
  assert.equal(e.backend, redis.url);
  assert.equal(logs.length, 2, `one line for the outage, not one per call: ${JSON.stringify(logs)}`);
  assert.match(logs[1]!, /^warning: state store redis:\/\/127\.0\.0\.1:\d+\/0: connection lost \(/);

  await redis.start();
  await eventually(() => store.set('grey:after', 'y'), 10_000);
  assert.equal((await store.get('grey:after'))?.value, 'y');
  assert.equal(await store.get('grey:before'), undefined, 'a restarted Redis without persistence is empty');
  assert.equal(logs.length, 3);
  assert.equal(logs[2], `state store ${redis.url}: connected again`);
});

test('RedisStore: a frozen Redis (no answers) hits the per-call time limit', async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  const store = new RedisStore(redis.url, { timeoutMs: 200 });
  t.after(() => store.close());
  await store.set('k', 'v');
  redis.pause();
  const e = await unavailableWithin(store.get('k'), 3000);
  assert.match(e.message, /no answer after 200 ms/);
  await unavailableWithin(store.setIfAbsent('k2', 'v'), 3000);
  redis.resume();
  assert.equal((await eventually(() => store.get('k'), 10_000))?.value, 'v');
});

test('RedisStore: a Redis that was never there fails fast from the first call', async (t) => {
  const port = await freePort();   // nothing listens here
  const store = new RedisStore(`redis://127.0.0.1:${port}/0`, { timeoutMs: 300 });
  t.after(() => store.close());
  await unavailableWithin(store.get('k'), 3000);
  await unavailableWithin(store.set('k', 'v'), 3000);
  await unavailableWithin(store.scan(''), 3000);
  await store.close();
  await unavailableWithin(store.get('k'), 1000);
});

test('RedisStore: a password in the URL never appears in names or errors', async (t) => {
  const port = await freePort();
  const store = new RedisStore(`redis://:s3cret@127.0.0.1:${port}/2`, { timeoutMs: 200 });
  t.after(() => store.close());
  assert.equal(store.name, `redis://127.0.0.1:${port}/2`);
  const e = await unavailableWithin(store.get('k'), 3000);
  assert.doesNotMatch(e.message, /s3cret/);
});
