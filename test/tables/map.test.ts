import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/types.js';
import { clearTableCache, openTable, setTableWarningHandler } from '../../src/tables/index.js';
import { openCachedTable } from '../../src/delivery/transport.js';
import { differ, needPostmap, POSTMAP, tmp, write } from './helpers.js';

const SOURCE = [
  '# transport',
  'Example.COM     smtp:[gw.example.com]:587',
  'example.org     lmtp:unix:/run/lmtp',
  '.example.org    relay:[x]',
  'user@Example.NET   error:5.1.1 gone',
  'spaced          one  two',
  '',
  'folded          first',
  '  second',
  '# comment between',
  '\tthird',
  'dup             first-wins',
  'DUP             second',
];
const KEYS = ['example.com', 'EXAMPLE.com', 'example.org', '.example.org', 'sub.example.org', 'user@example.net',
  'USER@EXAMPLE.NET', 'spaced', 'folded', 'dup', 'missing', 'transport'];

test('hash: source text agrees with postmap -q on the compiled table (differential)', (t) => {
  if (!needPostmap(t, 'hash')) return;
  const dir = tmp(t);
  const file = write(dir, 'transport', SOURCE);
  const seen: string[] = [];
  const prev = setTableWarningHandler((m) => seen.push(m));
  t.after(() => { setTableWarningHandler(prev); clearTableCache(); });
  const table = openTable(`hash:${file}`);
  const built = spawnSync(POSTMAP, [`hash:${file}`], { encoding: 'utf8', timeout: 20_000 });
  assert.match(built.stderr, /duplicate entry: "dup"/);                       // postmap warns too
  assert.deepEqual(differ(table, `hash:${file}`, KEYS), []);
  assert.equal(table.lookup('DUP'), 'first-wins');
  assert.equal(table.lookup('folded'), 'first  second\tthird');              // continuation lines appended as they are
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /duplicate entry: "dup"/);
  assert.equal(table.pattern, false);
});

test('texthash, inline and static tables; keys are case-insensitive', (t) => {
  const file = write(tmp(t), 'maps', ['Key1 value one', 'key2 v2']);
  t.after(clearTableCache);
  const th = openTable(`texthash:${file}`);
  assert.equal(th.lookup('KEY1'), 'value one');
  assert.equal(th.lookup('key3'), undefined);
  const inline = openTable('inline:{ A=1, {b = two words}, c=x y, A=last }');
  assert.equal(inline.lookup('a'), 'last');                                  // later duplicate wins (Postfix inline)
  assert.equal(inline.lookup('B'), 'two words');
  assert.equal(inline.lookup('c'), 'x y');                                   // bare word continues the value
  const st = openTable('static:{ 550 go away }');
  assert.equal(st.lookup('anything'), '550 go away');
  assert.throws(() => openTable('inline:{ =x }'), /not key=value/);
  assert.throws(() => openTable('inline:{ a= }'), /empty value/);
});

test('openTable: one shared instance per spec, proxy: dropped, transport uses the same cache', (t) => {
  const file = write(tmp(t), 'access', ['a OK']);
  t.after(clearTableCache);
  const one = openTable(`hash:${file}`);
  assert.equal(openTable(`proxy:hash:${file}`), one);
  assert.equal(openTable(`HASH:${file}`), one);
  assert.equal(openCachedTable(`hash:${file}`), one);
  clearTableCache();
  assert.notEqual(openTable(`hash:${file}`), one);
});

test('openTable: errors name the file, the line or the type', (t) => {
  const dir = tmp(t);
  t.after(clearTableCache);
  const bad = write(dir, 'bad', ['good value', 'lonely']);
  assert.throws(() => openTable(`hash:${bad}`), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.file, bad);
    assert.equal(e.line, 2);
    return true;
  });
  const indented = write(dir, 'indented', ['  key value']);
  assert.throws(() => openTable(`btree:${indented}`), /must not start with whitespace/);
  writeFileSync(join(dir, 'only.db'), '');
  assert.throws(() => openTable(`hash:${join(dir, 'only')}`), /only .*only\.db exists; mxguard reads the source text file that postmap compiles/);
  assert.throws(() => openTable(`hash:${join(dir, 'none')}`), /no such file/);
  for (const type of ['mysql', 'ldap', 'socketmap', 'pgsql', 'tcp']) {
    assert.throws(() => openTable(`${type}:/etc/postfix/x.cf`), new RegExp(`unsupported lookup table type "${type}".*mxguard reads file-based tables only`));
  }
  assert.throws(() => openTable('nocolon'), /no "type:" prefix/);
});
