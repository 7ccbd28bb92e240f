/** With workers, each writes its own list health file; `mxguard lists` reads them merged. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAllHealthFiles, writeHealthFile, type ListHealth } from '../../src/dnsbl/index.js';

const h = (domain: string, over: Partial<ListHealth>): ListHealth => ({
  domain, state: 'healthy', reason: '', since: 1, kinds: ['ip'], queries: 0, listed: 0, notListed: 0, failures: 0,
  refusals: 0, skipped: 0, consecutiveFailures: 0, backoffMs: 60000, ...over,
});

test('worker state files merge: the worst state, summed counters, the latest answer', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mxg-health-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = join(dir, 'dnsbl-health.json');
  writeHealthFile(`${base}.worker1`, [h('a.test', { queries: 3, listed: 1, notListed: 2, lastAnswer: { at: 5, name: 'x.a.test', answer: '127.0.0.2' } }), h('b.test', { queries: 1 })]);
  writeHealthFile(`${base}.worker2`, [h('a.test', { state: 'refusing', reason: '127.255.255.254: query refused', queries: 2, refusals: 2, lastAnswer: { at: 9, name: 'y.a.test', answer: '127.255.255.254' } })]);
  const doc = readAllHealthFiles(base)!;
  const a = doc.lists.find((l) => l.domain === 'a.test')!;
  assert.equal(a.state, 'refusing');
  assert.equal(a.reason, '127.255.255.254: query refused');
  assert.equal(a.queries, 5);
  assert.equal(a.refusals, 2);
  assert.equal(a.lastAnswer?.name, 'y.a.test');
  assert.equal(doc.lists.find((l) => l.domain === 'b.test')?.queries, 1);
  assert.equal(readAllHealthFiles(join(dir, 'none.json')), undefined);
});
