import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/types.js';
import { CidrTable, clearTableCache, openTable } from '../../src/tables/index.js';
import { differ, needPostmap, tmp, write } from './helpers.js';

const TABLES: readonly (readonly string[])[] = [
  [
    '# client access',
    '192.168.1.1          host',
    '192.168.0.0/16       private-192',
    '10.0.0.0/8           ten',
    '[2001:db8::]/32      doc-v6',
    '2001:db9::1          one-v6',
    '::ffff:0:0/96        mapped',
    '0.0.0.0/0            any-v4',
  ],
  [
    'if 10.0.0.0/8',
    'if !10.1.0.0/16',
    '10.0.0.0/8           inner',
    'endif',
    '10.1.2.0/24          ten-one-two',
    'endif',
    '!172.16.0.0/12       not-172',
    '172.16.0.0/12        is-172',
  ],
  [
    '127.0.0.1 loopback',
    '::1 loopback-v6',
    '[fe80::]/10 link-local',
    '::/0 any-v6',
    '1.2.3.4 with  inner   spaces',
    '5.6.7.8 continued',
    '  on the next line',
  ],
  ['if !10.0.0.0/8', '::/0 inside', '0.0.0.0/0 v4-inside', 'endif', '::/0 outside'],
];

const KEYS: readonly string[] = [
  '192.168.1.1', '192.168.9.9', '10.1.2.3', '10.2.3.4', '10.1.9.9', '11.0.0.1', '172.16.0.1', '172.32.0.1',
  '2001:db8::5', '2001:DB8:0:0::5', '2001:db9::1', '2001:db9::2', '::ffff:10.0.0.1', '::1', '0:0:0:0:0:0:0:1',
  'fe80::1', 'fe80::1%eth0', '[192.168.1.1]', '[::1]', '010.1.2.3', '10.1.2', 'example.com', '127.0.0.1',
  '127.0.0.2', '1.2.3.4', '5.6.7.8', '255.255.255.255', '0.0.0.0', '::',
];

test('cidr: tables agree with postmap -q (differential)', (t) => {
  if (!needPostmap(t, 'cidr')) return;
  const dir = tmp(t);
  const bad: string[] = [];
  TABLES.forEach((lines, n) => {
    const spec = `cidr:${write(dir, `t${n}.cidr`, lines)}`;
    bad.push(...differ(CidrTable.open(spec), spec, KEYS.filter((k) => !k.startsWith('::ffff:'))));
  });
  assert.deepEqual(bad, []);
  console.log(`cidr differential: ${TABLES.length} tables x ${KEYS.length - 1} keys`); // one mapped key is left out
});

test('cidr: IPv4-mapped keys also match IPv4 patterns (documented extension)', () => {
  const table = openTable('cidr:{ {192.0.2.0/24 v4}, {::ffff:0:0/96 mapped} }');
  assert.equal(table.pattern, true);
  assert.equal(table.lookup('::ffff:192.0.2.7'), 'v4');                      // Postfix would say "mapped"
  assert.equal(table.lookup('::ffff:198.51.100.1'), 'mapped');               // IPv6 rules still apply
  assert.equal(table.lookup('192.0.2.7'), 'v4');
  assert.equal(table.lookup('198.51.100.1'), undefined);                     // IPv4 key never matches an IPv6 rule
  clearTableCache();
});

test('cidr: malformed lines are ConfigErrors with file and line', (t) => {
  const dir = tmp(t);
  const cases: [string[], RegExp, number][] = [
    [['1.2.3.0/24 ok', '1.2.3.4/24 x'], /non-null host address bits in "1.2.3.4\/24", perhaps you should use "1.2.3.0\/24" instead/, 2],
    [['1.2.3.0/33 x'], /bad net\/mask pattern/, 1],
    [['010.0.0.0/8 x'], /bad network value/, 1],
    [['example.com x'], /bad address pattern/, 1],
    [['1.2.3.4'], /expected "pattern result"/, 1],
    [['if 10.0.0.0/8', '10.0.0.0/8 x'], /IF has no matching ENDIF/, 1],
    [['endif'], /ENDIF without matching IF/, 1],
    [['if 10.0.0.0/8', ' 10.1.0.0/16 x', 'endif'], /extra text after IF/, 1],
  ];
  for (const [lines, why, line] of cases) {
    const file = write(dir, 'bad.cidr', lines);
    assert.throws(() => CidrTable.open(`cidr:${file}`), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, why);
      assert.equal(e.file, file);
      assert.equal(e.line, line);
      return true;
    }, lines.join(' | '));
  }
});

test('cidr: the engine re-export is the same class', async () => {
  const engine = await import('../../src/engine/cidr-table.js');
  assert.equal(engine.CidrTable, CidrTable);
  assert.ok(openTable('cidr:{ {10.0.0.0/8 x} }') instanceof CidrTable);      // networks.ts relies on instanceof
  clearTableCache();
});
