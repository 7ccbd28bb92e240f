/**
 * The StateStore contract, run against every backend (memory.test.ts, sqlite.test.ts,
 * redis.test.ts): the same calls must give the same answers whatever stores them.
 * Expiry is tested with short real TTLs (Redis keeps its own clock).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { StoreUnavailableError, type StateStore } from '../../src/state/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs every contract case as a subtest of `t` against `store` (which the caller closes). */
export async function storeContract(t: TestContext, store: StateStore): Promise<void> {
  await t.test('set, get, delete', async () => {
    assert.equal(await store.get('c:a'), undefined);
    await store.set('c:a', 'one');
    assert.deepEqual(await store.get('c:a'), { value: 'one' });
    await store.set('c:a', 'two');
    assert.deepEqual(await store.get('c:a'), { value: 'two' });
    assert.equal(await store.delete('c:a'), true);
    assert.equal(await store.delete('c:a'), false);
    assert.equal(await store.get('c:a'), undefined);
    await store.set('c:utf', 'é ✓ \u0000 x');
    assert.equal((await store.get('c:utf'))?.value, 'é ✓ \u0000 x');
  });

  await t.test('expiry: a value with a TTL disappears, one without stays', async () => {
    const before = Date.now();
    await store.set('e:short', 'v', 150);
    await store.set('e:long', 'v');
    const v = await store.get('e:short');
    assert.equal(v?.value, 'v');
    assert.ok(v?.expiresAt !== undefined && v.expiresAt >= before + 50 && v.expiresAt <= Date.now() + 200, `expiresAt ${v?.expiresAt}`);
    await sleep(300);
    assert.equal(await store.get('e:short'), undefined);
    assert.equal(await store.delete('e:short'), false, 'an expired key is not "had"');
    assert.deepEqual(await store.get('e:long'), { value: 'v' });
    // set without a TTL removes an earlier one
    await store.set('e:reset', 'a', 150);
    await store.set('e:reset', 'b');
    await sleep(300);
    assert.deepEqual(await store.get('e:reset'), { value: 'b' });
  });

  await t.test('setIfAbsent: one of many concurrent callers wins; an expired key can be taken again', async () => {
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.setIfAbsent('s:race', `caller${i}`, 200)));
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true);
    assert.equal((await store.get('s:race'))?.value, `caller${winner}`);
    assert.equal(await store.setIfAbsent('s:race', 'late', 200), false);
    await sleep(350);
    assert.equal(await store.setIfAbsent('s:race', 'after', 200), true);
    assert.equal((await store.get('s:race'))?.value, 'after');
    assert.equal(await store.setIfAbsent('s:forever', 'x'), true);
    assert.equal((await store.get('s:forever'))?.expiresAt, undefined);
  });

  await t.test('increment: a fixed window that starts with the first event', async () => {
    assert.equal(await store.increment('i:win', 1, 250), 1);
    const first = await store.get('i:win');
    assert.ok(first?.expiresAt !== undefined);
    await sleep(60);
    assert.equal(await store.increment('i:win', 1, 250), 2);
    assert.equal(await store.increment('i:win', 3, 250), 5);
    const later = await store.get('i:win');
    assert.equal(later?.value, '5');
    assert.ok(Math.abs(later!.expiresAt! - first.expiresAt!) < 150, 'a later increment does not move the expiry');
    await sleep(350);
    assert.equal(await store.get('i:win'), undefined);
    assert.equal(await store.increment('i:win', 1, 250), 1, 'a new window starts');
    assert.equal(await store.increment('i:none', 2), 2);
    assert.equal(await store.increment('i:none', -1), 1);
    assert.deepEqual(await store.get('i:none'), { value: '1' });
    assert.equal(await store.increment('i:frac', 0.5), 0.5);
    assert.equal(await store.increment('i:frac', 0.25), 0.75);
    const all = await Promise.all(Array.from({ length: 40 }, () => store.increment('i:many', 1, 60_000)));
    assert.deepEqual([...all].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1));
  });

  await t.test('slidingWindow: events leave the window one by one', async () => {
    const t0 = Date.now();
    assert.equal(await store.slidingWindow('w:a', t0, 100, 1), 1);
    assert.equal(await store.slidingWindow('w:a', t0 + 50, 100, 2), 3);
    assert.equal(await store.slidingWindow('w:a', t0 + 50, 100, 2), 5, 'equal events are distinct');
    assert.equal(await store.slidingWindow('w:a', t0 + 99, 100, 0), 5, 'weight 0 only reads');
    assert.equal(await store.slidingWindow('w:a', t0 + 100, 100, 0), 4, 'an event exactly one window old is gone');
    assert.equal(await store.slidingWindow('w:a', t0 + 160, 100, 0.5), 0.5);
    assert.equal(await store.slidingWindow('w:b', t0, 1000, 0), 0);
    // Windows and values are separate namespaces; delete clears both.
    assert.equal(await store.get('w:a'), undefined);
    await store.set('w:a', 'value');
    assert.equal(await store.slidingWindow('w:a', t0 + 160, 100, 0), 0.5);
    assert.equal(await store.delete('w:a'), true);
    assert.equal(await store.slidingWindow('w:a', t0 + 160, 100, 0), 0);
    const totals = await Promise.all(Array.from({ length: 20 }, () => store.slidingWindow('w:many', t0, 60_000, 1)));
    assert.equal(Math.max(...totals), 20);
    assert.equal(new Set(totals).size, 20, 'each concurrent event sees a distinct total');
  });

  await t.test('scan: live keys with the prefix, taken literally', async () => {
    await store.set('scan:a:1', 'x');
    await store.set('scan:a:2', 'y', 60_000);
    await store.set('scan:a:gone', 'z', 1);
    await store.set('scan:b:1', 'w');
    await store.set('scan:*[x]:1', 'literal');
    await store.set('scan:*[x]2', 'other');
    await store.slidingWindow('scan:a:window', Date.now(), 1000, 1);
    await sleep(20);
    const got = (await store.scan('scan:a:')).sort((a, b) => a.key.localeCompare(b.key));
    assert.deepEqual(got.map((r) => [r.key, r.value.value]), [['scan:a:1', 'x'], ['scan:a:2', 'y']]);
    assert.equal(got[0]!.value.expiresAt, undefined);
    assert.ok(got[1]!.value.expiresAt! > Date.now());
    assert.deepEqual((await store.scan('scan:*[x]:')).map((r) => r.key), ['scan:*[x]:1']);
    assert.equal((await store.scan('scan:')).length, 5);
    assert.deepEqual(await store.scan('nothing-here:'), []);
  });
}

/** Asserts that `p` rejects with StoreUnavailableError within `ms` (it must never hang). */
export async function unavailableWithin<T>(p: Promise<T>, ms: number): Promise<StoreUnavailableError> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((r) => { timer = setTimeout(() => r('hang'), ms); });
  try {
    const r = await Promise.race([p.then(() => 'resolved' as const, (e: unknown) => e), hang]);
    assert.notEqual(r, 'hang', `no answer within ${ms} ms`);
    assert.notEqual(r, 'resolved', 'expected StoreUnavailableError, the call succeeded');
    assert.ok(r instanceof StoreUnavailableError, `expected StoreUnavailableError, got ${String(r)}`);
    assert.ok(Date.now() - started <= ms);
    return r;
  } finally {
    clearTimeout(timer);
  }
}
