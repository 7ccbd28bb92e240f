/** The StateStore contract against MemoryStore (the reference the other backends must match). */
import { test } from 'node:test';
import { MemoryStore } from '../../src/state/memory.js';
import { storeContract } from './contract.js';

test('MemoryStore meets the StateStore contract', async (t) => {
  const store = new MemoryStore();
  t.after(() => store.close());
  await storeContract(t, store);
});
