import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../src/config/types.js';
import { clearTableCache, openTable, RELOAD_CHECK_INTERVAL_MS, setTableWarningHandler } from '../../src/tables/index.js';
import { tmp, write } from './helpers.js';

const pause = () => sleep(RELOAD_CHECK_INTERVAL_MS + 100);

const CASES = [
  // A regexp: table refuses only what it cannot compile (other bad rules are skipped, as in Postfix).
  ['regexp', ['/^a/ old'], ['/^a/ new-contents'], ['/^a/ ok', '/(b/ broken'], ['/^a/ ok', '/*b/ broken again']],
  ['cidr', ['10.0.0.0/8 old'], ['10.0.0.0/8 new-contents'], ['10.0.0.0/8 ok', '10.0.0.1/8 broken'], ['10.0.0.0/8 ok', 'x broken again']],
  ['hash', ['10.0.0.1 old'], ['10.0.0.1 new-contents'], ['10.0.0.1 ok', 'broken'], ['10.0.0.1 ok', 'broken-again']],
] as const;

// The three types wait in parallel (each needs several reload intervals), so one warning
// handler collects for all and each case reads the warnings that name its own file.
test('reloading changed files', { concurrency: true }, async (top) => {
  const all: string[] = [];
  const prev = setTableWarningHandler((m) => all.push(m));
  top.after(() => { setTableWarningHandler(prev); clearTableCache(); });
  await Promise.all(CASES.map(([type, good, changed, broken, otherBroken]) => top.test(`${type}: reloads a changed file; keeps the old contents and warns once when it is malformed`, async (t) => {
    const key = type === 'regexp' ? 'abc' : '10.0.0.1';
    const dir = tmp(t);
    const file = write(dir, 'table', good);
    const warnings = () => all.filter((m) => m.includes(file));
    const table = openTable(`${type}:${file}`);
    assert.equal(table.lookup(key), 'old');

    const started = Date.now();
    write(dir, 'table', changed);
    const early = table.lookup(key);
    if (Date.now() - started < RELOAD_CHECK_INTERVAL_MS - 100) assert.equal(early, 'old');  // at most one stat per second
    await pause();
    assert.equal(table.lookup(key), 'new-contents');                        // noticed without reopening

    write(dir, 'table', broken);
    await pause();
    assert.equal(table.lookup(key), 'new-contents');                        // malformed: old contents stay
    assert.equal(warnings().length, 1, warnings().join('\n'));
    assert.match(warnings()[0]!, new RegExp(`${file}:2: .*still using the contents loaded before the change`));
    await pause();
    assert.equal(table.lookup(key), 'new-contents');
    assert.equal(warnings().length, 1, 'the same bad version is reported once');
    assert.throws(() => openTable(`${type}:${file}`), (e: unknown) => e instanceof ConfigError && e.line === 2); // reopening says so at once

    write(dir, 'table', otherBroken);
    await pause();
    table.lookup(key);
    assert.equal(warnings().length, 2, 'a new bad version is reported again');

    rmSync(file);
    await pause();
    assert.equal(table.lookup(key), 'new-contents');                        // a vanished file changes nothing
    assert.equal(warnings().length, 3);
    assert.match(warnings()[2]!, /cannot read table/);

    write(dir, 'table', good);
    await pause();
    assert.equal(table.lookup(key), 'old');                                 // fixed: reloaded, no new warning
    assert.equal(warnings().length, 3);
  })));
});

test('inline tables have no file to watch; setTableWarningHandler returns the previous handler', () => {
  const a = (_: string) => undefined;
  const first = setTableWarningHandler(a);
  assert.equal(setTableWarningHandler(first), a);
  const table = openTable('cidr:{ {192.0.2.0/24 inline} }');
  assert.equal(table.lookup('192.0.2.1'), 'inline');
  clearTableCache();
});
